"""The truth of what was acknowledged (conformance/acknowledged.py), from real envelopes and real answers of the
profile: accepted counts once on its Beijing business day, duplicates and refused envelopes add nothing, a
correction taken as new replaces the first version."""

from __future__ import annotations

import datetime as _dt

from conformance.acknowledged import AcknowledgedLedger
from conformance.testrecords import RecordMaker
from conformance.uploads import Answer, envelope
from profiles import load_profile
from simulators.city import generate_city

P = load_profile()
CITY = generate_city("tiny", 1, P)
RTYPE = "retail_market_tran_info_summ"


def _answer(node: str, recs: list[dict], duplicates=()) -> Answer:
    """The profile's own answer to an envelope of ``recs`` (positions in ``duplicates`` answered duplicate)."""
    spec = P.envelope
    body = envelope(P, node, "0" * 32, RTYPE, recs)  # DataDate: the records' business date
    res = spec.parse(body, validate_records=False)
    resp = spec.respond(res, duplicates=duplicates)
    raw = spec.build_response(resp)
    parsed, findings = spec.parse_response(raw)
    return Answer(200, raw, parsed, findings)


def _sales(*times: str) -> tuple[str, list[dict]]:
    rm = RecordMaker(P, CITY, 1)
    node = rm.node_for(RTYPE)
    out = []
    for i, t in enumerate(times):
        rec = rm.make(RTYPE, _dt.date(2024, 6, 1), node=node, weight=f"1.{i:03d}")
        rec["sale_date"] = t
        out.append(rec)
    return node, out


def test_accepted_once_on_its_beijing_business_day():
    node, recs = _sales("2024-06-01 23:59:59", "2024-06-02 00:00:00", "2024-06-02 07:59:59")
    led = AcknowledgedLedger(P)
    led.add(node, RTYPE, recs[:1], _answer(node, recs[:1]), "20240601")
    led.add(node, RTYPE, recs[1:], _answer(node, recs[1:]), "20240602")
    assert led.dates() == {"20240601", "20240602"}
    g = recs[0]["goods_code"]
    assert led.cells("20240601") == {(node, RTYPE, g): [1, 1000]}
    want2 = {}
    for r in recs[1:]:
        cell = want2.setdefault((node, RTYPE, r["goods_code"]), [0, 0])
        cell[0] += 1
        cell[1] += 1000 + int(r["weight"].split(".")[1])
    assert led.cells("20240602") == want2


def test_resends_refusals_and_corrections():
    node, recs = _sales("2024-06-01 10:00:00", "2024-06-01 11:00:00")
    led = AcknowledgedLedger(P)
    led.add(node, RTYPE, recs, _answer(node, recs), "20240601")
    before = led.cells("20240601")
    led.add(node, RTYPE, recs, _answer(node, recs, duplicates=(1, 2)), "20240601")  # re-sent: duplicate
    assert led.cells("20240601") == before
    fix = [{**recs[0], "weight": "9.000"}]
    led.add(node, RTYPE, fix, _answer(node, fix, duplicates=(1,)), "20240601")  # correction, kept version
    assert led.cells("20240601") == before
    led.add(node, RTYPE, fix, Answer(503, b"busy", None), "20240601")  # no readable answer
    assert led.cells("20240601") == before
    led.add(node, RTYPE, fix, _answer(node, fix), "20240601")  # correction taken as new
    total = sum(v[0] for v in led.cells("20240601").values())
    grams = sum(v[1] for v in led.cells("20240601").values())
    assert (total, grams) == (2, 9000 + 1001)


def test_data_date_when_the_type_has_no_date_field():
    rm = RecordMaker(P, CITY, 1)
    rtype = "retail_market_in_info_detail"
    assert P.records.types[rtype].date_field is None
    node = rm.node_for(rtype)
    rec = rm.make(rtype, _dt.date(2024, 6, 1), node=node)
    spec = P.envelope
    body = envelope(P, node, "0" * 32, rtype, [rec], header={"DataDate": "20240603"})
    raw = spec.build_response(spec.respond(spec.parse(body, validate_records=False)))
    parsed, findings = spec.parse_response(raw)
    led = AcknowledgedLedger(P)
    led.add(node, rtype, [rec], Answer(200, raw, parsed, findings), "20240603")
    assert led.dates() == {"20240603"}


def test_days_of_raw_or_unanswered_uploads_are_left_out():
    node, recs = _sales("2024-06-01 10:00:00")
    other, raw = _sales("2024-06-04 10:00:00")
    led = AcknowledgedLedger(P)
    led.add(node, RTYPE, recs, _answer(node, recs), "20240601")
    led.uncertain_body(envelope(P, other, "0" * 32, RTYPE, raw, header={"DataDate": "20240605"}))
    assert led.uncertain == {"20240604", "20240605"}
    assert led.dates() == {"20240601"}
    led.uncertain_body(b"not an envelope")
    assert led.uncertain == {"20240604", "20240605"}


def test_a_duplicate_never_seen_accepted_makes_its_day_uncertain():
    node, recs = _sales("2024-06-07 10:00:00")
    led = AcknowledgedLedger(P)
    led.add(node, RTYPE, recs, _answer(node, recs, duplicates=(1,)), "20240607")  # held before this run
    assert led.uncertain == {"20240607"} and led.dates() == set()
