"""The coding suite against the built-in target: zero failures, every test naming CODE-* / NODE-REG-01."""
from __future__ import annotations

import pytest

from test_node_suite import _certify

pytestmark = pytest.mark.slow


def test_coding_suite_passes_against_the_builtin_target(tmp_path):
    rc, res, took = _certify(tmp_path, "coding")
    tests = res["tests"]
    bad = [(t["nodeid"], t["verdict"], t.get("reason_en", "")[:300]) for t in tests if t["verdict"] != "pass"]
    assert not bad, bad
    assert rc == 0
    ids = {r for t in tests for r in t["requirements"]}
    assert {"CODE-TRACE-04", "CODE-TRACE-05", "CODE-COMM-01", "NODE-REG-01"} <= ids
    assert all(r.startswith("CODE-") or r == "NODE-REG-01" for r in ids)
    assert took < 90, f"coding suite took {took:.0f} s"
