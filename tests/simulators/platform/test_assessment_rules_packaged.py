"""``assessment.toml`` is package data: read through ``importlib.resources``, so an installed package whose files
are not a source tree (a wheel on ``sys.path`` as a zip archive, the strictest installed form) still serves the
regulator's statistics and district assessment.  The zip is built from this tree's ``profiles`` and ``simulators``
packages; a fresh interpreter imports them from it (checked: ``__file__`` lies inside the archive)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DATA = ("*.py", "*.toml", "*.csv", "*.json", "*.sql")


def _zip_packages(dest: Path) -> Path:
    out = dest / "roucai-packages.zip"
    with zipfile.ZipFile(out, "w") as z:
        for pkg in ("profiles", "simulators"):
            for pattern in DATA:
                for f in (ROOT / pkg).rglob(pattern):
                    if "__pycache__" not in f.parts:
                        z.write(f, f.relative_to(ROOT).as_posix())
    return out


def test_assessment_rules_are_read_as_package_data_from_a_zip(tmp_path):
    archive = _zip_packages(tmp_path)
    code = (
        "import json, sys\n"
        "from simulators.platform import regstats\n"
        "from profiles.assessment import load_assessment\n"
        "assert regstats.__file__.startswith(sys.argv[1]), regstats.__file__\n"
        "print(json.dumps([regstats.load_rules(), load_assessment()]))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, str(archive)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(archive), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-1500:]
    import json

    want = tomllib.loads((ROOT / "profiles" / "reference" / "assessment.toml").read_text("utf-8"))
    assert json.loads(p.stdout) == [want, want]
    assert {"district", "statistics", "assessment"} <= set(want)
