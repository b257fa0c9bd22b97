"""The node-side transmission suite against the built-in target (the reference node): zero failures.

``roucai certify --suite transmission -k test_node_`` in a subprocess (real node processes, ptys, the
harness platform); every node test must pass and name its requirements; the run must stay short.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def _certify(tmp_path, suite: str, keyword: str | None = None) -> tuple[int, dict, float]:
    args = [sys.executable, "-m", "roucai.cli", "certify", "--suite", suite, "--report", str(tmp_path / "r"),
            "--seed", "1", "--json"]
    if keyword:
        args += ["-k", keyword]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=240)
    took = time.monotonic() - t0
    assert (tmp_path / "r" / "results.json").is_file(), p.stdout[-2000:] + p.stderr[-2000:]
    return p.returncode, json.loads((tmp_path / "r" / "results.json").read_text("utf-8")), took


def test_node_suite_passes_against_the_reference_node(tmp_path):
    rc, res, took = _certify(tmp_path, "transmission", "test_node_")
    tests = [t for t in res["tests"] if "test_node_" in t["nodeid"]]
    bad = [(t["nodeid"], t["verdict"], t.get("reason_en", "")[:300]) for t in tests if t["verdict"] != "pass"]
    assert not bad, bad
    assert rc == 0, res["summary"]
    assert len(tests) >= 20
    ids = {r for t in tests for r in t["requirements"]}
    for rid in ("TRAN-UPL-01", "TRAN-UPL-03", "TRAN-UPL-06", "NODE-STOP-01", "NODE-DEV-01", "NODE-REC-06"):
        assert rid in ids
    assert took < 90, f"node suite took {took:.0f} s"
