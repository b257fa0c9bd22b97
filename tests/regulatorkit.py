"""A regulator for a capability statement of the reference platform run as an external target.

The reference platform answers its statistics, KPI, node and broadcast reads to a registered regulator only
(docs/regulator.md); a statement that declares none gets them read unsigned, and refused.  Tests that certify the
reference platform from outside register one and declare it, as a contractor does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def register_regulator(db: Path, folder: Path, profile_args: tuple[str, ...] = ()) -> Path:
    """Register regulator 650100 (the tiny city, 乌鲁木齐) on the reference platform database ``db`` with ``roucai
    serve admin register-regulator``; its key is written to ``folder/regulator.key``, whose path is returned."""
    r = subprocess.run(
        [sys.executable, "-m", "roucai.cli", *profile_args, "serve", "admin", "--db", str(db)]
        + ["register-regulator", "650100", "--name", "乌鲁木齐市商务局", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    key_file = folder / "regulator.key"
    key_file.write_text(json.loads(r.stdout)["key"], "utf-8")
    return key_file


def declare_regulator(statement: str, db: Path, folder: Path, profile_args: tuple[str, ...] = ()) -> str:
    """:func:`register_regulator`, then ``statement`` (a capability statement's text) declaring it
    (``regulator_id``, the key file's absolute path) in place of any regulator it declared."""
    key_file = register_regulator(db, folder, profile_args)
    text = re.sub(r"(?m)^regulator_(id|key_file) = .*\n", "", statement)
    assert text.count("[capabilities]\n") == 1, "the statement has one [capabilities] table"
    return text.replace(
        "[capabilities]\n", f'[capabilities]\nregulator_id = "650100"\nregulator_key_file = "{key_file}"\n'
    )
