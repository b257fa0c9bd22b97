#!/usr/bin/env python3
"""Set-up and entry points for a fresh clone; needs only Python 3.11+ and git.

    python3 tasks.py main    # set up .venv, then run the main end-to-end job
    python3 tasks.py test    # set up .venv, then run the whole test suite
    python3 tasks.py bench   # set up .venv, then run the benchmarks (not part of `test`)
    python3 tasks.py mutation [--oracle unit|certify] [--sample N] [--module M]   # mutation score (not in CI)

The virtual environment lives in ``.venv`` beside this file and is
(re)installed whenever ``pyproject.toml`` changes.  Extra arguments after the
task are passed on (to pytest for ``test``/``bench``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _run(cmd: list[str], **kw) -> int:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("roucai-harness needs Python 3.11 or newer / 需要 Python 3.11 及以上")
    stamp = VENV / ".roucai-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print(f"+ creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("+ 安装依赖（首次约 1 分钟）/ installing dependencies (about a minute the first time)", flush=True)
    rc = _run([PY, "-m", "pip", "install", "--progress-bar", "on", "-e", ".[test,load,pg]"])
    if rc != 0:
        sys.exit(f"pip install failed ({rc}) / 安装依赖失败")
    stamp.write_text(want)


def main_job(extra: list[str]) -> int:
    """The most complete end-to-end flow that exists (see README, 'The main job')."""
    roucai = str(BIN / "roucai")
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    steps = [
        [roucai, "fixtures", "city", "--preset", "urumqi", "--seed", "1", "--out", out / "urumqi-seed1.json"],
        [roucai, "fixtures", "check", out / "urumqi-seed1.json"],
        [roucai, "certify", "--target", "builtin", "--seed", "1", "--report", out / "certify"],
    ]
    for step in steps:
        rc = _run(step + extra)
        if rc != 0:
            return rc
    return 0


def test(extra: list[str]) -> int:
    # the whole suite also lists its 30 slowest tests, so CI time (issue 17 item 8) can be followed per test
    rc = _run([PY, "-m", "pytest", *(extra or ["-q", "--durations=30"])])
    if rc == 5:
        print("pytest collected no tests: failing / 未收集到任何测试", file=sys.stderr)
        return 1
    return rc


def bench(extra: list[str]) -> int:
    return _run(
        [
            PY,
            "-m",
            "pytest",
            "tests/bench",
            "--benchmark-only",
            "-p",
            "no:randomly",
            "--benchmark-columns=min,mean,median,ops",
            *extra,
        ]
    )


def mutation(extra: list[str]) -> int:
    """Mutation testing in a scratch copy (scripts/mutation.py); installs the ``mutation`` extra once."""
    if subprocess.call([str(PY), "-c", "import cosmic_ray"], stderr=subprocess.DEVNULL) != 0:
        rc = _run([PY, "-m", "pip", "install", "-e", ".[test,load,pg,mutation]"])
        if rc != 0:
            return rc
    return _run([PY, "scripts/mutation.py", *extra])


TASKS = {"main": main_job, "test": test, "bench": bench, "mutation": mutation}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(TASKS)}}} [ARGS...]")
    ensure_venv()
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))
