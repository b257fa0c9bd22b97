"""Mutation testing of the pure modules against their unit tests (issue 11, oracle 1).

Run through ``python3 tasks.py mutation [--sample N] [--module M] ...``; not part of CI.

Contract:
- The tool is cosmic-ray (pinned in the ``mutation`` extra of pyproject.toml). It
  edits the module file on disk and runs the tests in a fresh process per mutant,
  so objects built at import time (``P = load_profile()``) see every mutant.
- Every run happens in a scratch copy of the project (a temporary directory,
  removed at the end): the work tree is never edited, even when a run is killed.
- ``--sample N`` draws N mutants per module with ``random.Random(f"{seed}:{module}")``
  over the mutants sorted by (operator, occurrence), so the same seed gives the
  same sample; the others are marked skipped. Without it every mutant runs.
- Time is bounded twice: each mutant's test run by ``--timeout`` (default: five
  times the unmutated run, at least 30 s; a timeout counts as killed, as in
  cosmic-ray), and each module by ``--budget`` seconds, after which the mutants
  not yet run are reported as "not run".
- The table (module, mutants, run, killed, survived, not run, score) is printed;
  survivors with their diffs go to ``out/mutation/<module>.survivors.txt`` and the
  figures to ``out/mutation/<module>.json`` (written atomically).
- Exit 0 when every run finished, 2 on usage errors, 3 when the unmutated tests
  fail in the scratch copy (nothing is then measured).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module under mutation -> the unit tests that are its oracle
MODULES: dict[str, list[str]] = {
    "profiles/codes.py": ["tests/profiles/test_codes.py", "tests/profiles/test_codes_exact.py"],
    "profiles/envelope.py": ["tests/profiles/test_envelope.py", "tests/profiles/test_envelope_exact.py"],
    "simulators/platform/stats.py": ["tests/simulators/platform/test_platform_stats.py",
                                     "tests/simulators/platform/test_platform_stats_exact.py"],
}

_IGNORE = shutil.ignore_patterns(".venv", ".git", "out", "reports", "__pycache__", ".hypothesis",
                                 ".pytest_cache", ".benchmarks", ".tox", "*.egg-info", "roucai-report")


def _test_command(tests: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:faker", "--hypothesis-seed=0", *tests]


def _scratch_copy() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="roucai-mutation-"))
    shutil.copytree(ROOT, scratch / "tree", ignore=_IGNORE)
    return scratch / "tree"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _cosmic(args: list[str], cwd: Path, timeout: float | None = None) -> int | None:
    """Run one cosmic-ray command in its own process group; None when it ran out of time."""
    proc = subprocess.Popen([sys.executable, "-m", "cosmic_ray.cli", *args], cwd=cwd,
                            start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None
    except BaseException:       # Ctrl-C: the tests in cosmic-ray's own session go too
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _sample(db_path: Path, n: int | None, seed: int, module: str) -> int:
    """Mark all but a seeded sample of n mutants skipped; return the number of mutants."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=lambda w: (w.mutations[0].operator_name, w.mutations[0].occurrence))
        if n is not None and n < len(items):
            keep = {w.job_id for w in random.Random(f"{seed}:{module}").sample(items, n)}
            for w in items:
                if w.job_id not in keep:
                    db.set_result(w.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return len(items)


def _collect(db_path: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    killed, survived, skipped, errors = 0, [], 0, 0
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                skipped += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                m = item.mutations[0]
                survived.append({"operator": m.operator_name, "occurrence": m.occurrence,
                                 "line": m.start_pos[0], "diff": result.diff or ""})
            elif result.test_outcome == TestOutcome.KILLED:
                killed += 1
            else:
                errors += 1
        total = db.num_work_items
    survived.sort(key=lambda s: (s["line"], s["operator"], s["occurrence"]))
    return {"mutants": total, "skipped": skipped, "killed": killed, "survived": survived,
            "incompetent": errors}


def run_module(module: str, tree: Path, args: argparse.Namespace) -> dict:
    tests = MODULES[module]
    t0 = time.monotonic()
    rc = subprocess.call(_test_command(tests), cwd=tree, stdout=subprocess.DEVNULL)
    baseline = time.monotonic() - t0
    if rc != 0:
        raise SystemExit(f"unmutated tests fail in the scratch copy ({module}, exit {rc}) / "
                         f"未变异的测试在临时副本中失败")
    timeout = args.timeout or max(30.0, 5 * baseline)
    cfg = tree / f".mutation-{Path(module).stem}.toml"
    db = tree / f".mutation-{Path(module).stem}.sqlite"
    cmd = " ".join(_test_command(tests))
    cfg.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(cmd)}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n", encoding="utf-8")
    if _cosmic(["init", cfg.name, db.name], tree) != 0:
        raise SystemExit(f"cosmic-ray init failed for {module} / 初始化失败")
    total = _sample(db, args.sample, args.seed, module)
    print(f"+ {module}: {total} mutants, baseline {baseline:.1f}s, timeout {timeout:.0f}s", flush=True)
    finished = _cosmic(["exec", cfg.name, db.name], tree, timeout=args.budget) is not None
    res = _collect(db)
    res.update(module=module, seed=args.seed, sample=args.sample, finished=finished)
    planned = total if args.sample is None else min(args.sample, total)
    res["not_run"] = planned - res["killed"] - len(res["survived"]) - res["incompetent"]
    return res


def _row(r: dict) -> str:
    run = r["killed"] + len(r["survived"])
    score = f"{100 * r['killed'] / run:.1f} %" if run else "-"
    return (f"| {r['module']} | {r['mutants']} | {run} | {r['killed']} | {len(r['survived'])} | "
            f"{r['not_run']} | {score} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tasks.py mutation", description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, help="seeded random sample of N mutants per module")
    ap.add_argument("--module", action="append", choices=sorted(MODULES),
                    help="module to mutate (repeatable; default: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, help="seconds per mutant's test run")
    ap.add_argument("--budget", type=float, default=1800.0, help="seconds per module (default 1800)")
    args = ap.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        ap.error("--sample must be at least 1 / --sample 至少为 1")
    results = []
    tree = _scratch_copy()
    try:
        for module in args.module or list(MODULES):
            r = run_module(module, tree, args)
            results.append(r)
            name = Path(module).with_suffix("").as_posix().replace("/", ".")
            out = ROOT / "out" / "mutation"
            _write_atomic(out / f"{name}.json", json.dumps(r, ensure_ascii=False, indent=1))
            _write_atomic(out / f"{name}.survivors.txt",
                          "\n".join(f"# line {s['line']} {s['operator']} #{s['occurrence']}\n{s['diff']}"
                                    for s in r["survived"]))
    finally:
        shutil.rmtree(tree.parent, ignore_errors=True)
    print("\n| module | mutants | run | killed | survived | not run | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(_row(r))
    print("\nsurvivors: out/mutation/*.survivors.txt")
    return 0 if all(r["finished"] for r in results) else 3


if __name__ == "__main__":
    sys.exit(main())
