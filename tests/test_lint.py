"""Lint and types in CI (issue 17 item 4): `ruff check` over the whole tree and `mypy` over profiles/ and the
public seams (the modules listed in pyproject's strict override), both configured in pyproject.toml
([tool.ruff], [tool.mypy]).  Each check is shown not vacuous: the same tool, with the project's
configuration, reports a defect planted in a scratch copy."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool(module: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `python -m MODULE ARGS` from this interpreter's environment; skip when the tool is not installed."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_ruff_check_passes_over_the_project():
    r = tool("ruff", "check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_ruff_format_check_passes_over_the_project():
    """Every file is as `ruff format` writes it (issue 17 item 4); run `ruff format .` before a commit."""
    r = tool("ruff", "format", "--check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_ruff_format_check_reports_an_unformatted_file(tmp_path):
    """The format check is not vacuous: a file written against the style is reported under the project config."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "planted.py").write_text("x = {  'a':1 }\n", "utf-8")
    r = tool("ruff", "format", "--check", "--no-cache", ".", cwd=tmp_path)
    assert r.returncode == 1 and "planted.py" in r.stdout, r.stdout + r.stderr


def test_ruff_reports_planted_defects_under_the_project_config(tmp_path):
    """The selection is not empty: an unused import and a bare `except:` in a profiles/ file are reported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = tmp_path / "profiles" / "planted.py"
    bad.parent.mkdir()
    bad.write_text("import os\n\ntry:\n    pass\nexcept:\n    pass\n", "utf-8")
    r = tool("ruff", "check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "F401" in r.stdout and "E722" in r.stdout, r.stdout


def strict_seams() -> list[str]:
    """The modules outside profiles/ that pyproject's mypy overrides check strictly (the public seams)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    listed = [m for o in config["tool"]["mypy"]["overrides"] if o.get("disallow_untyped_defs") for m in o["module"]]
    return [m for m in listed if not m.startswith("profiles")]


def test_mypy_passes_on_profiles_and_the_seams():
    """profiles/ and every seam module pass.  The modules they import are analysed but not reported
    (`--follow-imports=silent`): outside the strict list the project is not yet clean under mypy."""
    seams = [m.replace(".", "/") + ".py" for m in strict_seams()]
    assert seams and all((ROOT / p).is_file() for p in seams), seams
    r = tool("mypy", "--no-incremental", "--follow-imports=silent", "profiles/", *seams)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "Success: no issues found" in r.stdout, r.stdout[-2000:]


def test_mypy_is_strict_on_profiles_only(tmp_path):
    """The strict override bites: under the project's configuration an untyped function is reported in a
    new module of profiles/ and passes in a module of another package (checked non-strict)."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for pkg in ("profiles", "simulators"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("", "utf-8")
        (tmp_path / pkg / "planted.py").write_text("def untyped(x):\n    return x\n", "utf-8")
    r = tool(
        "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), "profiles/", "simulators/", cwd=tmp_path
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "profiles/planted.py:1: error" in r.stdout and "no-untyped-def" in r.stdout, r.stdout
    assert "simulators/planted.py" not in r.stdout, r.stdout


def test_mypy_is_strict_on_the_listed_seams_only(tmp_path):
    """The seams' override bites module by module: in a scratch package laid out like simulators/, an
    untyped function is reported in a module named like a listed seam and passes in its unlisted sibling."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    seam = strict_seams()[0]
    package, leaf = seam.rsplit(".", 1)
    where = tmp_path.joinpath(*package.split("."))
    where.mkdir(parents=True)
    for level in range(len(package.split("."))):
        (tmp_path.joinpath(*package.split(".")[: level + 1]) / "__init__.py").write_text("", "utf-8")
    for name in (leaf, "planted"):
        (where / f"{name}.py").write_text("def untyped(x):\n    return x\n", "utf-8")
    rel = where.relative_to(tmp_path).as_posix()
    r = tool("mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), f"{rel}/", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{rel}/{leaf}.py:1: error" in r.stdout and "no-untyped-def" in r.stdout, r.stdout
    assert f"{rel}/planted.py" not in r.stdout, r.stdout
