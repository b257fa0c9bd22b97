"""A set-up that cannot judge is never a verdict (issue 12 follow-up): under changchun, whose VerifyCode recipe is
unknown, the built-in platform verifies no MAC.  PLAT-SEC-01 fails with that reason (the platform accepts forged
uploads: true of it); PLAT-MAINT-01, whose set-up needs a forged upload refused, is not applicable with a bilingual
reason instead of failing, and so is PLAT-FEED-01 (the built-in city platform signs its upward feed with the
profile's recipe: it cannot feed); PLAT-TRACE-01's incomplete-chain probe (a vegetable lot: meat without a
certificate is rightly rejected) is judged and passes.

Seen failing before the fix (the same run, seed 1): MAINT-01 fail ("set-up: … '0000' not in (None, '0000')"),
FEED-01 error (the central platform did not start: changchun requires HTTPS), TRACE-01 fail (set-up: the sale
rejected, "meat needs quarantine_animal_products_id"), the endpoint SEC-01 test fail with a set-up message
("a correctly signed upload was answered … duplicate") instead of the reason.
"""

from __future__ import annotations

import json

from conformance.capabilities import CapabilityStatement
from conformance.notjudgeable import NotJudgeable
from conformance.recipe import unverified_reason
from profiles import load_profile

from tests.conformance.changchun_run import certify_changchun

TESTS = (
    "test_health_endpoint_and_structured_operating_logs or test_central_totals_equal_the_city_totals or "
    "test_uploads_without_the_right_verifycode_are_refused or test_every_node_facing_endpoint_authenticates or "
    "test_a_chain_that_stops_before_the_origin_is_not_complete"
)


def _statement(extra: str) -> CapabilityStatement:
    return CapabilityStatement.parse(f'[target]\nkind = "city_platform"\n[capabilities]\n{extra}\n')


def test_who_verifies_no_verifycode():
    """Only a target declaring none, or the built-in platform under an unknown recipe, refuses no forgery."""
    cc, ref = load_profile("changchun"), load_profile("reference")
    md5 = _statement('verify_code = "hmac-md5"')
    assert unverified_reason(cc, md5, builtin=True)[1].startswith("the built-in platform under profile changchun")
    assert "内置参考平台" in unverified_reason(cc, md5, builtin=True)[0]
    assert unverified_reason(cc, md5, builtin=False) is None  # a foreign target verifies what it declares
    assert unverified_reason(ref, md5, builtin=True) is None
    assert unverified_reason(ref, _statement(""), builtin=True) is None
    for builtin in (True, False):
        assert (
            "declares no message authentication"
            in unverified_reason(ref, _statement('verify_code = "none"'), builtin)[1]
        )
    e = NotJudgeable("无法判定", "not judgeable")
    assert (e.zh, e.en) == ("无法判定", "not judgeable") and str(e.msg).endswith("not judgeable")


def test_changchun_builtin_judges_what_it_can_and_not_what_it_cannot(tmp_path):
    r = certify_changchun(tmp_path, TESTS, "--seed", "1", timeout=400)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout[-3000:] + r.stderr[-2000:]
    doc = json.loads((tmp_path / "rep" / "results.json").read_text("utf-8"))
    tests = {t["name"]: t for t in doc["tests"]}
    verdicts = {n: t["verdict"] for n, t in tests.items()}
    assert len(verdicts) == 5, verdicts
    maint = tests["test_health_endpoint_and_structured_operating_logs"]
    assert maint["verdict"] == "not-applicable", maint
    assert maint["reason_en"].startswith("not judgeable: this test's set-up needs the platform to refuse")
    assert (
        "changchun" in maint["reason_en"]
        and maint["reason_zh"].startswith("无法判定：")
        and "changchun" in (maint["reason_zh"])
    )
    feed = tests["test_central_totals_equal_the_city_totals"]
    assert feed["verdict"] == "not-applicable" and "signs its upward feed" in feed["reason_en"], feed
    assert feed["reason_zh"].startswith("无法判定：") and "上报中央平台" in feed["reason_zh"], feed
    trace = tests["test_a_chain_that_stops_before_the_origin_is_not_complete"]
    assert trace["verdict"] == "pass", trace
    for name in (
        "test_uploads_without_the_right_verifycode_are_refused",
        "test_every_node_facing_endpoint_authenticates_every_request",
    ):
        t = tests[name]
        assert t["verdict"] == "fail" and "does not know the VerifyCode recipe" in t["reason_en"], t
        assert "不知道 VerifyCode 算法" in t["reason_zh"], t
    reqs = {q["id"]: q["verdict"] for q in doc["requirements"]}
    assert reqs["PLAT-MAINT-01"] == "not-applicable" and reqs["PLAT-SEC-01"] == "fail", reqs
    assert reqs["PLAT-FEED-01"] == "not-applicable" and reqs["PLAT-TRACE-01"] == "pass", reqs


def test_the_builtin_handheld_is_not_judged_under_changchun(tmp_path):
    """The reference handheld signs with the profile's recipe: under changchun it cannot upload, so its tests are
    not applicable with that reason (they were 'error: RecipeUnavailable: unknown' before)."""
    r = certify_changchun(tmp_path, "test_handheld", "--seed", "1", suite="perception")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout[-3000:] + r.stderr[-2000:]
    tests = json.loads((tmp_path / "rep" / "results.json").read_text("utf-8"))["tests"]
    hand = [t for t in tests if t["nodeid"].startswith("perception/test_handheld.py")]
    assert len(hand) == 3, [t["nodeid"] for t in tests]
    for t in hand:
        assert t["verdict"] == "not-applicable" and "the built-in handheld signs its uploads" in t["reason_en"], t
        assert t["reason_zh"].startswith("无法判定：内置手持终端"), t
