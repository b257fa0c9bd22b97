"""The layers point down (DESIGN.md, issue 17 item 2): import-linter checks the contracts in pyproject.toml
([tool.importlinter]) over every import of the five packages, function-level imports included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [
        str(exe) if exe.exists() else (shutil.which("lint-imports") or pytest.skip("import-linter is not installed"))
    ]
    return subprocess.run([*cmd, "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_contracts_of_pyproject_are_kept():
    r = lint_imports()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "layers point down KEPT" in r.stdout and "node and platform do not import each other KEPT" in r.stdout


def test_a_layer_order_the_code_does_not_follow_is_reported_broken(tmp_path):
    """The check is not vacuous: with the layers upside down, the real imports break the contract."""
    cfg = tmp_path / "upside-down.toml"
    cfg.write_text(
        '[tool.importlinter]\nroot_packages = ["profiles", "simulators"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "upside down"\ntype = "layers"\n'
        'layers = ["profiles", "simulators"]\n',
        "utf-8",
    )
    r = lint_imports(str(cfg))
    assert r.returncode == 1, r.stdout[-2000:]
    assert "upside down BROKEN" in r.stdout and "simulators." in r.stdout and "-> profiles" in r.stdout
