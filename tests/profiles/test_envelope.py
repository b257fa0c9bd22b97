"""profiles.envelope: DataExchangeReq build/parse, VerifyCode, clock, Count, replay, DataExchangeResp."""

import datetime as dt
import hashlib
import hmac
import json
import random
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.envelope import ReplayGuard, format_request_time, parse_request_time, payload_digest
from profiles.record_examples import example_record

P = load_profile()
ENV, CAT = P.envelope, P.records
NODE, KEY = "650102009", "demo-secret"
WHEN = dt.datetime(2024, 5, 18, 20, 30, 0)
TYPES = sorted(CAT.types)
GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "records"


def recs(t, n=2, seed=1, node=NODE, day=WHEN.date()):
    rng = random.Random(seed)
    return [example_record(CAT, t, rng, node=node, day=day) for _ in range(n)]


def rules(fs):
    return [f.rule for f in fs]


def build(t="retail_market_tran_info_summ", n=2, fmt="xml", **kw):
    return ENV.build(NODE, t, recs(t, n), KEY, request_time=WHEN, fmt=fmt, **kw)


# -- round trip -------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.integers(0, 6),
    st.integers(0, 10**6),
    st.sampled_from(["xml", "json"]),
    st.text(min_size=1, max_size=40),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2090, 1, 1)),
)
def test_build_parse_round_trip(t, n, seed, fmt, key, when):
    records = recs(t, n, seed, day=when.date())
    data = ENV.build(NODE, t, records, key, request_time=when, fmt=fmt)
    res = ENV.parse(data, key=key, now=when + dt.timedelta(seconds=30))
    assert res.findings == [] and res.authenticated and res.format == fmt and res.ok
    assert res.record_type == t and [r.record for r in res.records] == records
    assert res.header["RequestTime"] == format_request_time(when) and res.header["Count"] == str(n)
    assert res.header["DataDate"] == when.strftime("%Y%m%d")


def test_xml_and_json_envelopes_carry_the_same_verify_code():
    x, j = ENV.parse(build()), ENV.parse(build(fmt="json"))
    assert x.header == j.header and x.digest == j.digest


def test_verify_code_recipe_is_as_documented():
    data = build()
    res = ENV.parse(data)
    h = res.header
    canon = "".join(
        "<retail_market_tran_info_summ>"
        + "".join(
            f"<{k}>{v.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</{k}>"
            for k, v in r.record.items()
        )
        + "</retail_market_tran_info_summ>"
        for r in res.records
    )
    digest = hashlib.sha256(canon.encode()).hexdigest()
    msg = "|".join([h["NodeId"], h["RequestTime"], h["Index"], h["Count"], h["DataDate"], digest])
    assert h["VerifyCode"] == hmac.new(KEY.encode(), msg.encode(), hashlib.md5).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{32}", h["VerifyCode"])


def test_changchun_shape_is_kept():
    data = build("manager_base_info", 1).decode()
    assert re.match(
        r'<\?xml version="1.0" encoding="UTF-8"\?><DataExchangeReq><NodeId>\d{9}</NodeId>'
        r"<RequestTime>\d{17}</RequestTime><VerifyCode>[0-9a-f]{32}</VerifyCode><Index>A01002</Index>"
        r"<Count>1</Count><DataDate>\d{8}</DataDate><Address><manager_base_info>",
        data,
    )


# -- VerifyCode ---------------------------------------------------------------------
def test_tampering_wrong_key_and_format_only():
    data = build()
    tampered = re.sub(rb"<weight>[0-9.]+</weight>", b"<weight>1.000</weight>", data, count=1)
    assert rules(ENV.parse(tampered, key=KEY).findings) == ["TRAN-ENV-05"]
    assert rules(ENV.parse(data, key="other").findings) == ["TRAN-ENV-05"]
    res = ENV.parse(tampered)  # no key: format only
    assert res.findings == [] and not res.authenticated
    bad = re.sub(rb"<VerifyCode>[0-9a-f]+", b"<VerifyCode>xyz", data)
    assert rules(ENV.parse(bad).findings) == ["TRAN-ENV-05"]


def test_uppercase_verify_code_and_key_callable():
    data = re.sub(rb"<VerifyCode>([0-9a-f]+)", lambda m: b"<VerifyCode>" + m.group(1).upper(), build())
    assert ENV.parse(data, key=lambda node: KEY if node == NODE else None).authenticated
    res = ENV.parse(data, key=lambda node: None)
    assert rules(res.findings) == ["TRAN-ENV-05"] and res.findings[0].field == "NodeId"


# -- clock ----------------------------------------------------------------------
@pytest.mark.parametrize("offset,ok", [(0, True), (299, True), (-299, True), (301, False), (-301, False)])
def test_clock_window(offset, ok):
    res = ENV.parse(build(), key=KEY, now=WHEN + dt.timedelta(seconds=offset))
    assert (res.findings == []) is ok
    if not ok:
        assert rules(res.findings) == ["TRAN-ENV-04"]


def test_aware_now_is_converted_to_beijing_time():
    utc_now = (WHEN - dt.timedelta(hours=8)).replace(tzinfo=dt.timezone.utc)
    assert ENV.parse(build(), key=KEY, now=utc_now).findings == []
    assert rules(ENV.parse(build(), key=KEY, now=WHEN.replace(tzinfo=dt.timezone.utc)).findings) == ["TRAN-ENV-04"]


def test_request_time_helpers():
    t = dt.datetime(2024, 2, 29, 23, 59, 58, 123000)
    assert format_request_time(t) == "20240229235958123" and parse_request_time("20240229235958123") == t
    assert parse_request_time("20230229235958123") is None and parse_request_time("2024") is None


# -- header rules -------------------------------------------------------------------
def sub(data: bytes, old: str, new: str) -> bytes:
    out = data.replace(old.encode(), new.encode(), 1)
    assert out != data
    return out


@pytest.mark.parametrize(
    "old,new,rule",
    [
        (f"<NodeId>{NODE}</NodeId>", "<NodeId>990102001</NodeId>", "TRAN-ENV-02"),
        (f"<NodeId>{NODE}</NodeId>", "<NodeId>65010200</NodeId>", "TRAN-ENV-02"),
        ("<RequestTime>20240518203000000</RequestTime>", "<RequestTime>20240230203000000</RequestTime>", "TRAN-ENV-03"),
        ("<RequestTime>20240518203000000</RequestTime>", "<RequestTime>2024-05-18 20:30</RequestTime>", "TRAN-ENV-03"),
        ("<Index>A03003</Index>", "<Index>Z99999</Index>", "TRAN-ENV-06"),
        ("<Index>A03003</Index>", "<Index>A03001</Index>", "TRAN-ENV-06"),
        ("<Count>2</Count>", "<Count>3</Count>", "TRAN-ENV-07"),
        ("<Count>2</Count>", "<Count>two</Count>", "TRAN-ENV-07"),
        ("<DataDate>20240518</DataDate>", "<DataDate>20240532</DataDate>", "TRAN-ENV-08"),
        ("<DataDate>20240518</DataDate>", "<DataDate>20240519</DataDate>", "TRAN-ENV-08"),
        ("<DataDate>20240518</DataDate>", "", "TRAN-ENV-01"),
        ("<DataExchangeReq>", "<DataExchangeReq><Extra>1</Extra>", "TRAN-ENV-01"),
        ("<Count>2</Count>", "<Count>2</Count><Count>2</Count>", "TRAN-ENV-01"),
    ],
)
def test_header_rules(old, new, rule):
    res = ENV.parse(sub(build(), old, new))
    assert rule in rules(res.findings) and not res.envelope_ok


def test_wrong_root_and_missing_payload():
    assert rules(ENV.parse(b"<DataExchange><NodeId>1</NodeId></DataExchange>").findings) == ["TRAN-ENV-01"]
    data = re.sub(rb"<Address>.*</Address>", b"", build())
    assert "TRAN-ENV-01" in rules(ENV.parse(data).findings)


def test_record_dated_another_day_is_a_record_finding():
    t = "retail_market_tran_info_summ"
    records = recs(t)
    records[1]["sale_date"] = "20240517"
    res = ENV.parse(ENV.build(NODE, t, records, KEY, request_time=WHEN, data_date="20240518"), key=KEY)
    assert res.envelope_ok and rules(res.record_findings[0]) == [] and rules(res.record_findings[1]) == ["TRAN-ENV-08"]
    # before DataDate: a warning (Changchun sends the upload day as DataDate); after it: an error
    assert res.record_findings[1][0].severity == "warning" and res.ok
    records[1]["sale_date"] = "2024-05-19"
    res = ENV.parse(ENV.build(NODE, t, records, KEY, request_time=WHEN, data_date="20240518"), key=KEY)
    assert [(f.rule, f.severity) for f in res.record_findings[1]] == [("TRAN-ENV-08", "error")] and not res.ok


def test_max_count():
    res = ENV.parse(build("team_buy_acceptance_info", 3), max_count=2)
    assert rules(res.findings) == ["TRAN-ENV-07"]
    assert ENV.max_count == 500


def test_json_envelope_shape_errors():
    for data in (
        b'{"DataExchangeReq": []}',
        b'{"X": {}}',
        b'{"DataExchangeReq": {"Address": [1]}}',
        b'{"DataExchangeReq": {"NodeId": 650102009, "Address": {"animal_in_info": []}}}',
    ):
        res = ENV.parse(data)
        assert "TRAN-ENV-01" in rules(res.findings)
    res = ENV.parse(b'{"DataExchangeReq": {"Address": {"animal_in_info": [1]}}}')
    assert rules(res.records[0].findings) == ["TRAN-REC-01"]


def test_hostile_envelopes():
    lol = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><DataExchangeReq>&b;</DataExchangeReq>'
    assert rules(ENV.parse(lol).findings) == ["TRAN-ENC-02"]
    assert rules(ENV.parse(build().replace(b"UTF-8", b"GBK")).findings) == ["TRAN-ENC-01"]
    assert rules(ENV.parse(b"<DataExchangeReq>" + b"<a>" * 20).findings) == ["TRAN-ENC-03"]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_byte_mutations_never_raise(data):
    raw = bytearray(build("retail_market_in_info_detail", 2))
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    res = ENV.parse(bytes(raw), key=KEY, now=WHEN, replay=ReplayGuard())
    assert not res.ok or bytes(raw) == build("retail_market_in_info_detail", 2) or res.authenticated
    ENV.build_response(ENV.respond(res, now=WHEN))


# -- replay -------------------------------------------------------------------------
def test_replay_is_refused_only_when_authenticated():
    g = ENV.replay_guard()
    data = build()
    assert ENV.parse(data, key=KEY, now=WHEN, replay=g).ok
    assert rules(ENV.parse(data, key=KEY, now=WHEN, replay=g).findings) == ["TRAN-ENV-10"]
    # forged copies (wrong key) are not remembered and cannot poison the guard
    g2 = ReplayGuard()
    assert rules(ENV.parse(data, key="wrong", now=WHEN, replay=g2).findings) == ["TRAN-ENV-05"]
    assert len(g2) == 0 and ENV.parse(data, key=KEY, now=WHEN, replay=g2).ok


def test_replay_guard_forgets_old_keys_and_is_bounded():
    g = ReplayGuard(remember_seconds=600, max_entries=3)
    t0 = WHEN
    for i in range(3):
        assert g.check_and_remember(NODE, format_request_time(t0 + dt.timedelta(seconds=i)), "a" * 32, t0)
    assert not g.check_and_remember(NODE, format_request_time(t0), "A" * 32, t0)  # case-insensitive
    assert g.check_and_remember(NODE, format_request_time(t0 + dt.timedelta(seconds=9)), "a" * 32, t0)
    assert len(g) == 3 and g.evicted_live == 1
    later = t0 + dt.timedelta(seconds=700)
    assert g.check_and_remember(NODE, format_request_time(later), "b" * 32, later)
    assert len(g) == 1


def test_replay_guard_is_thread_safe():
    g = ReplayGuard(max_entries=100_000)
    wins = []

    def worker():
        wins.append(
            sum(g.check_and_remember(NODE, f"20240518203000{i % 1000:03d}", "c" * 32, WHEN) for i in range(2000))
        )

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert sum(wins) == 1000


# -- response ---------------------------------------------------------------------------
def test_response_round_trip_with_verdicts():
    t = "market_tran_info_detail"
    records = recs(t, 3)
    records[2]["weight"] = "1.2345"
    res = ENV.parse(ENV.build(NODE, t, records, KEY, request_time=WHEN), key=KEY, now=WHEN)
    resp = ENV.respond(res, now=WHEN, duplicates=[2])
    assert [(r.verdict, r.reason) for r in resp.results] == [
        ("accepted", "0000"),
        ("duplicate", "2009"),
        ("rejected", "2004"),
    ]
    for fmt in ("xml", "json"):
        back, fs = ENV.parse_response(ENV.build_response(resp, fmt))
        assert fs == [] and back == resp


def test_refused_envelope_response():
    res = ENV.parse(build(), key="wrong")
    resp = ENV.respond(res, now=WHEN)
    assert resp.code == "1105" and resp.results == [] and resp.message
    back, fs = ENV.parse_response(ENV.build_response(resp))
    assert fs == [] and back.code == "1105"
    assert ENV.refuse("1111").code == "1111"
    with pytest.raises(ValueError):
        ENV.refuse("0000")


def test_every_rule_has_a_reason_code():
    for r in (
        [f"TRAN-REC-0{i}" for i in range(1, 8)]
        + [f"TRAN-ENC-0{i}" for i in range(1, 4)]
        + [f"TRAN-ENV-{i:02d}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 10)]
    ):
        assert r in ENV._reason_by_rule, r
    assert all(v["zh"] and v["en"] and v["level"] in ("envelope", "record") for v in ENV.reasons.values())


@pytest.mark.parametrize(
    "old,new",
    [
        ("<Verdict>accepted</Verdict>", "<Verdict>ok</Verdict>"),
        ("<Reason>2009</Reason>", "<Reason>0000</Reason>"),
        ("<Accepted>1</Accepted>", "<Accepted>2</Accepted>"),
        ("<Seq>2</Seq>", "<Seq>7</Seq>"),
        ("<ResultCode>0000</ResultCode>", "<ResultCode>9999</ResultCode>"),
        ("<ResultCode>0000</ResultCode>", "<ResultCode>1105</ResultCode>"),
        ("<ResponseTime>", "<ResponseTime>x"),
        ("<Index>A03003</Index>", ""),
        ("<Count>2</Count>", "<Count>2</Count><Extra/>"),
    ],
)
def test_malformed_responses(old, new):
    res = ENV.parse(build(), key=KEY)
    good = ENV.build_response(ENV.respond(res, now=WHEN, duplicates=[2])).decode()
    resp, fs = ENV.parse_response(sub(good.encode(), old, new))
    assert resp is None and fs and set(rules(fs)) == {"TRAN-ENV-09"}


def test_response_garbage():
    for data in (b"", b"<x/>", b"{}", b'{"DataExchangeResp": {"Results": 1}}', b"\xff\xfe"):
        resp, fs = ENV.parse_response(data)
        assert resp is None and fs


# -- golden files ---------------------------------------------------------------------------
def test_golden_valid_files():
    files = sorted((GOLDEN / "valid").iterdir())
    assert len(files) >= len(TYPES)
    for f in files:
        data = f.read_bytes()
        if b"DataExchangeReq" in data[:200]:
            res = ENV.parse(data, key=KEY, now=WHEN)
            assert res.ok and res.authenticated, (f.name, res.findings, res.record_findings)
        else:
            d = CAT.decode(data)
            assert d.findings == [] and all(CAT.validate(i.type, i.record) == [] for i in d.items), f.name


def test_golden_invalid_files_raise_their_rules():
    expected = json.loads((GOLDEN / "expected_invalid.json").read_text("utf-8"))
    assert expected
    for name, want in expected.items():
        data = (GOLDEN / "invalid" / name).read_bytes()
        if b"DataExchangeReq" in data[:300]:
            res = ENV.parse(data, key=KEY, now=WHEN)
            got = rules(res.findings) + [r for rf in res.record_findings for r in rules(rf)]
        else:
            d = CAT.decode(data)
            got = rules(d.findings) + [r for i in d.items for r in rules(i.findings + CAT.validate(i.type, i.record))]
        assert set(want) <= set(got), (name, got)


def test_payload_digest_is_order_sensitive():
    a, b = recs("animal_in_info", 2)
    assert payload_digest([("animal_in_info", a), ("animal_in_info", b)]) != payload_digest(
        [("animal_in_info", b), ("animal_in_info", a)]
    )
