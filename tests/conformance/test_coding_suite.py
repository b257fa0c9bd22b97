"""The coding suite against the built-in target: zero failures, every test naming CODE-* / NODE-REG-01.

Shares the certify run of ``test_node_suite.py`` (one node session serves both suites)."""

from __future__ import annotations

import pytest

from test_node_suite import certify_run

pytestmark = pytest.mark.slow


def test_coding_suite_passes_against_the_builtin_target():
    rc, res, _ = certify_run()
    tests = [t for t in res["tests"] if t["suite"] == "coding"]
    bad = [(t["nodeid"], t["verdict"], t.get("reason_en", "")[:300]) for t in tests if t["verdict"] != "pass"]
    assert not bad, bad
    assert rc == 0
    assert len(tests) >= 10
    ids = {r for t in tests for r in t["requirements"]}
    assert {"CODE-TRACE-04", "CODE-TRACE-05", "CODE-COMM-01", "CODE-OPER-02", "NODE-REG-01"} <= ids
    assert all(r.startswith("CODE-") or r == "NODE-REG-01" for r in ids)
