"""The node-side transmission suite against the built-in target (the reference node): zero failures.

One ``roucai certify --suite coding,transmission -k "test_node_ or test_record_codes"`` in a subprocess
(real node processes, ptys, the harness platform; one node session shared by both suites), cached for
``test_coding_suite.py``; every node test must pass and name its requirements; the run must stay short.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@functools.lru_cache(maxsize=1)
def certify_run() -> tuple[int, dict, float]:
    """(exit code, results JSON, seconds) of the coding + node-transmission run against builtin."""
    out = Path(tempfile.mkdtemp(prefix="roucai-node-suite-"))
    args = [
        sys.executable,
        "-m",
        "roucai.cli",
        "certify",
        "--suite",
        "coding,transmission",
        "--report",
        str(out / "r"),
        "--seed",
        "1",
        "--json",
        "-k",
        "test_node_ or test_record_codes",
    ]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=240)
    took = time.monotonic() - t0
    assert (out / "r" / "results.json").is_file(), p.stdout[-2000:] + p.stderr[-2000:]
    return p.returncode, json.loads((out / "r" / "results.json").read_text("utf-8")), took


def test_node_suite_passes_against_the_reference_node():
    rc, res, took = certify_run()
    tests = [t for t in res["tests"] if "test_node_" in t["nodeid"]]
    bad = [(t["nodeid"], t["verdict"], t.get("reason_en", "")[:300]) for t in tests if t["verdict"] != "pass"]
    assert not bad, bad
    assert rc == 0, res["summary"]
    assert len(tests) >= 20
    ids = {r for t in tests for r in t["requirements"]}
    for rid in (
        "TRAN-UPL-01",
        "TRAN-UPL-02",
        "TRAN-UPL-03",
        "TRAN-UPL-04",
        "TRAN-UPL-05",
        "TRAN-UPL-06",
        "TRAN-UPL-07",
        "TRAN-UPL-08",
        "NODE-STOP-01",
        "NODE-WHOL-05",
        "NODE-RETL-01",
        "NODE-WHOL-03",
        "NODE-WHOL-01",
        "NODE-DEV-01",
        "NODE-REC-06",
        "NODE-CHAIN-01",
    ):
        assert rid in ids
    assert took < 90, f"coding + node suites took {took:.0f} s"
