"""The platform as the receiving server: per-record verdicts for good and bad records (TRAN-REC-*, TRAN-UPL-04).

Each test sends one envelope holding a valid record and a record broken in exactly one way, built
with the profile's encoder (raw mode: the harness sends what a faulty node would); the platform must
accept the valid one and reject the broken one with the profile's reason code.
"""

from __future__ import annotations

import pytest

from conformance.queries import day_rows

PLATFORM = ("city_platform",)
RTYPE = "retail_market_tran_info_summ"


def _pair(
    records, uploader, broken_fields: dict, drop: tuple[str, ...] = (), rtype: str = RTYPE, valid: dict | None = None
):
    d = records.fresh_day()
    good = records.make(rtype, d, **(valid or {}))
    bad = {k: v for k, v in records.make(rtype, d, **(valid or {})).items() if k not in drop}
    bad.update(broken_fields)
    return uploader.upload(records.node_for(rtype), rtype, [good, bad], header={"DataDate": d.strftime("%Y%m%d")}), bad


def _expect(a, reason: str, what: str):
    assert a.status == 200 and a.code == "0000", f"{what}: the envelope must be processed (HTTP 200, 0000): {a}"
    assert a.verdicts == ["accepted", "rejected"] and a.reasons[1] == reason, (
        f"{what}: expected [accepted, rejected {reason}], got {list(zip(a.verdicts, a.reasons))}: {a}"
    )


@pytest.mark.requirement("TRAN-REC-01")
@pytest.mark.applies(kinds=PLATFORM)
def test_unknown_field_rejected(records, uploader):
    """A record with an element the record type does not have is rejected (2001)."""
    a, _ = _pair(records, uploader, {"discount_rate": "0.9"})
    _expect(a, "2001", "unknown field discount_rate")


@pytest.mark.requirement("TRAN-REC-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_missing_or_empty_required_field_rejected(records, uploader):
    """A record without a required field, or with it empty, is rejected (2002)."""
    a, _ = _pair(records, uploader, {}, drop=("goods_name",))
    _expect(a, "2002", "required goods_name missing")
    a, _ = _pair(records, uploader, {"retailer_name": ""})
    _expect(a, "2002", "required retailer_name empty")


@pytest.mark.requirement("TRAN-REC-03")
@pytest.mark.applies(kinds=PLATFORM)
def test_overlong_or_malformed_field_rejected(profile, records, uploader):
    """A text longer than the profile's maximum, or an integer-looking field with letters, is rejected (2003)."""
    limit = profile.records.types[RTYPE].by_name["position_id"].max
    a, _ = _pair(records, uploader, {"position_id": "A" * (limit + 1)})
    _expect(a, "2003", f"position_id of {limit + 1} characters (max {limit})")


@pytest.mark.requirement("TRAN-REC-04")
@pytest.mark.applies(kinds=PLATFORM)
def test_wrong_decimals_or_non_positive_quantities_rejected(records, uploader):
    """A weight with 4 decimals, or a zero price, is rejected (2004)."""
    a, _ = _pair(records, uploader, {"weight": "1.2345"})
    _expect(a, "2004", "weight 1.2345 (kg takes 3 decimals)")
    a, _ = _pair(records, uploader, {"price": "0.00"})
    _expect(a, "2004", "price 0.00 (must be positive)")


@pytest.mark.requirement("TRAN-REC-05")
@pytest.mark.applies(kinds=PLATFORM)
def test_meat_without_certificate_rejected(profile, records, uploader):
    """A meat sale (commodity 2111…) without the quarantine certificate number is rejected (2005); the same
    record with it is accepted."""
    meat = sorted(c.code for c in profile.commodities.of_kind("meat") if c.code.startswith("2111"))[0]
    a, _ = _pair(
        records,
        uploader,
        {},
        drop=("quarantine_animal_products_id",),
        valid={"goods_code": meat, "quarantine_animal_products_id": "6512345678"},
    )
    _expect(a, "2005", f"meat {meat} without quarantine_animal_products_id")


@pytest.mark.requirement("TRAN-REC-06")
@pytest.mark.applies(kinds=PLATFORM)
def test_invalid_code_inside_record_rejected(profile, records, uploader):
    """A record whose commodity code is not in the commodity table is rejected (2006)."""
    bad = next(c for c in ("99999999", "01999999", "21119999") if profile.commodities.get(c) is None)
    a, _ = _pair(records, uploader, {"goods_code": bad})
    _expect(a, "2006", f"commodity code {bad} (not in the table)")


@pytest.mark.requirement("TRAN-REC-07")
@pytest.mark.applies(kinds=PLATFORM)
def test_impossible_date_rejected(records, uploader):
    """A record whose date is 30 February is rejected (2007)."""
    a, _ = _pair(records, uploader, {"in_date": "20250230"})
    _expect(a, "2007", "in_date 20250230")


@pytest.mark.requirement("TRAN-UPL-04")
@pytest.mark.applies(kinds=PLATFORM)
def test_repeats_are_answered_duplicate_and_stored_once(records, uploader, http, platform, capabilities):
    """A record sent twice in one envelope, and again in a later envelope, is accepted once and answered
    duplicate (2009) every other time; the statistics count it once."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    node = records.node_for(RTYPE)
    rec, other = records.make(RTYPE, d), records.make(RTYPE, d)
    a = uploader.upload(node, RTYPE, [rec, other, rec], header={"DataDate": date})
    assert a.verdicts == ["accepted", "accepted", "duplicate"] and a.reasons[2] == "2009", (
        f"the same record twice in one envelope: expected accepted, accepted, duplicate 2009: {a}"
    )
    b = uploader.upload(node, RTYPE, [other, rec], header={"DataDate": date})
    assert b.verdicts == ["duplicate", "duplicate"], f"re-sent records must be answered duplicate: {b}"
    if capabilities.capabilities.get("statistics"):
        n = sum(v[0] for k, v in day_rows(http, platform.url, date).items() if k[0] == node and k[1] == RTYPE)
        assert n == 2, f"2 distinct records were sent (5 times in all); the platform counts {n}"


@pytest.mark.requirement("TRAN-REC-08", "CODE-BATCH-02", "TRAN-REC-03", "TRAN-REC-04")
@pytest.mark.applies(kinds=PLATFORM)
def test_forms_practice_sends_are_accepted(records, uploader):
    """What deployed systems send is accepted, not rejected (issue 12): dates as yyyy-MM-dd, a price with trailing
    zeros (13.8000), a locally generated batch id (Ningbo's 1000…), a stall number outside the profile's pattern.
    The profile only recommends its own forms (TRAN-REC-08, CODE-BATCH-02)."""
    d = records.fresh_day()
    iso = d.strftime("%Y-%m-%d")
    good = records.make(RTYPE, d)
    practice = records.make(RTYPE, d, sale_date=iso, in_date=iso, batch_id="1000000000000123", position_id="摊位八")
    practice["price"] = practice["price"] + ("00" if "." in practice["price"] else ".0000")
    a = uploader.upload(records.node_for(RTYPE), RTYPE, [good, practice], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.status == 200 and a.code == "0000" and a.verdicts == ["accepted", "accepted"], (
        f"a record in forms practice sends ({iso}, price {practice['price']}, local batch id 1000000000000123, "
        f"stall 摊位八) must be accepted: got {list(zip(a.verdicts, a.reasons))}: {a}"
    )
