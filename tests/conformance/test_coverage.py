"""Requirement coverage in both directions, as CI's gate (issue 6): every catalogue requirement is checked by a
conformance test or states why not; every conformance test checks a known requirement."""

from conformance.coverage import collect_tests, coverage
from profiles import load_profile
from profiles.requirements import RequirementCatalog


def test_every_requirement_is_tested_or_says_why_and_every_test_names_one():
    tests, errors = collect_tests()
    assert errors == []
    cov = coverage(load_profile().requirements, tests)
    assert cov["missing"] == [], f"requirements with no test and no stated reason: {cov['missing']}"
    assert cov["orphan_tests"] == [] and cov["unknown_ids"] == []
    assert cov["tests"] >= 100 and cov["ok"]
    reasoned = [r for r in cov["requirements"] if r["status"] == "reasoned"]
    assert all(r["not_tested_reason"]["zh"] and r["not_tested_reason"]["en"] for r in reasoned)


def test_the_gate_fails_both_ways():
    cat = load_profile().requirements
    some = sorted(cat.ids)[:2]
    cov = coverage(
        cat,
        {
            "conformance/x/test_a.py::test_a": [some[0]],
            "conformance/x/test_b.py::test_b": [],
            "conformance/x/test_c.py::test_c": ["CODE-NOPE-01"],
        },
    )
    assert not cov["ok"]
    assert some[1] in cov["missing"] and some[0] not in cov["missing"]
    assert cov["orphan_tests"] == ["conformance/x/test_b.py::test_b"]
    assert cov["unknown_ids"] == ["conformance/x/test_c.py::test_c: CODE-NOPE-01"]
    assert isinstance(cat, RequirementCatalog)
