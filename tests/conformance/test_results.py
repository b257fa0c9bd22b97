"""results.json lists every requirement of the suites that ran: the untestable ones with their reason."""

from __future__ import annotations

from conformance import verdicts as V
from conformance.results import not_testable
from profiles import load_profile

CAT = load_profile().requirements


def test_requirements_no_test_can_judge_are_listed_with_the_catalogues_reason():
    got = {r["id"]: r for r in not_testable(CAT, {"coding", "platform"}, tested=set())}
    expected = {q.id for q in CAT if q.testable_by == "not-tested" and q.area in ("coding", "platform")}
    assert set(got) == expected and {"CODE-RESID-01", "PLAT-RET-01", "PLAT-VIEW-01"} <= expected
    for rid, r in got.items():
        q = CAT[rid]
        assert r["verdict"] == V.NOT_TESTABLE and r["tests"] == [] and r["level"] == q.level
        assert r["reason_zh"] == q.not_tested_reason["zh"] and r["reason_en"] == q.not_tested_reason["en"]


def test_only_the_suites_that_ran_and_never_twice():
    assert not_testable(CAT, set(), tested=set()) == []
    node = {r["id"] for r in not_testable(CAT, {"transmission"}, tested=set())}
    assert "NODE-WHOL-02" in node and not any(rid.startswith(("PLAT-", "CODE-", "PERC-")) for rid in node)
    assert not not_testable(CAT, {"coding"}, tested={"CODE-RESID-01", "CODE-RESID-02"})


def test_not_testable_stays_outside_the_run_verdict():
    assert V.NOT_TESTABLE not in V.BAD
    assert (
        V.combine([V.NOT_TESTABLE]) == V.NOT_TESTABLE and V.label(V.NOT_TESTABLE, "en") == "not testable by the harness"
    )


def test_the_report_names_every_evidence_kind_in_both_languages():
    from conformance.report import _EVID
    from profiles.requirements import EVIDENCE

    assert set(_EVID) == set(EVIDENCE) and all(zh and en for zh, en in _EVID.values())
