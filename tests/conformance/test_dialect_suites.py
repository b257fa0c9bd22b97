"""The coding and transmission suites under a city dialect (issue 12): ``roucai --profile guangzhou certify
--target builtin --suite coding,transmission``, the whole of both suites (no -k), in one run (one node session
serves both): CONFORMANT, every test run and passed.

What the dialect changes on the way: the harness writes its handheld uploads in Guangzhou's form (qua_id,
yyyy-MM-dd, trade details without header fields), the reference node (speaking the profile of the command,
simulators/node/config.py) stores them canonically and uploads Guangzhou's form, its scale sales included, and
the harness platform (guangzhou) stores what that form carries (conformance/transmission/recorder.canon_stored).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_coding_and_transmission_suites_pass_under_the_guangzhou_dialect(tmp_path):
    t0 = time.monotonic()
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "--profile",
            "guangzhou",
            "--lang",
            "en",
            "certify",
            "--target",
            "builtin",
            "--suite",
            "coding,transmission",
            "--report",
            str(tmp_path / "r"),
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=420,
        cwd=ROOT,
    )
    took = time.monotonic() - t0
    assert (tmp_path / "r" / "results.json").is_file(), p.stdout[-2000:] + p.stderr[-2000:]
    res = json.loads((tmp_path / "r" / "results.json").read_text("utf-8"))
    assert res["profile"]["name"] == "guangzhou" and res["profile"]["lineage"][0].startswith("guangzhou@")
    bad = {t["nodeid"]: (t["verdict"], t["reason_en"][:400]) for t in res["tests"] if t["verdict"] != "pass"}
    assert not bad, bad
    assert p.returncode == 0 and res["summary"]["verdict"] == "CONFORMANT", (p.returncode, res["summary"])
    # the whole of both suites: a test of every test file of conformance/coding and conformance/transmission
    ran = {t["nodeid"].split("::")[0] for t in res["tests"]}
    for suite in ("coding", "transmission"):
        files = {f"{suite}/{f.name}" for f in (ROOT / "conformance" / suite).glob("test_*.py")}
        assert files <= ran, f"{suite}: not run: {sorted(files - ran)}"
    ids = {r for t in res["tests"] for r in t["requirements"]}
    for rid in (
        "CODE-TRACE-02",
        "CODE-TRACE-05",
        "TRAN-REC-01",
        "TRAN-UPL-01",
        "NODE-WHOL-05",
        "NODE-RETL-01",
        "NODE-DEV-01",
        "NODE-CHAIN-01",
    ):
        assert rid in ids, rid
    assert took < 300, f"coding + transmission under guangzhou took {took:.0f} s"
