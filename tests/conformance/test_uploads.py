"""Raw-mode envelopes: what conformance/uploads.py builds is signed over exactly what it sends."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings, strategies as st

from conformance.uploads import envelope, request_time
from profiles import load_profile
from profiles.record_examples import example_record

P = load_profile()
KEY = "k" * 32
NODE = "650103002"
TYPES = sorted(P.records.types)


def _records(rtype: str, seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    return [example_record(P.records, rtype, rng, day=dt.date(2025, 3, 10), node=NODE) for _ in range(n)]


@settings(max_examples=40, deadline=None)
@given(
    rtype=st.sampled_from(TYPES), seed=st.integers(0, 10_000), n=st.integers(1, 4), fmt=st.sampled_from(["xml", "json"])
)
def test_round_trip_parses_clean_and_authenticated(rtype, seed, n, fmt):
    recs = _records(rtype, seed, n)
    body = envelope(P, NODE, KEY, rtype, recs, fmt=fmt, header={"DataDate": "20250310"})
    res = P.envelope.parse(body, key=KEY, now=dt.datetime.now(dt.timezone.utc))
    assert res.ok and res.authenticated, [f.rule for f in res.findings] + [
        f.rule for rf in res.record_findings for f in rf
    ]
    assert [r.record for r in res.records] == recs and res.format == fmt


@settings(max_examples=30, deadline=None)
@given(field=st.sampled_from(["Count", "Index", "DataDate"]), seed=st.integers(0, 1000))
def test_a_wrong_header_value_is_signed_so_only_its_own_rule_fires(field, seed):
    rtype = "retail_market_in_info_base"
    recs = _records(rtype, seed, 2)
    wrong = {"Count": "3", "Index": "Z99999", "DataDate": "20250230"}[field]
    body = envelope(P, NODE, KEY, rtype, recs, header={"DataDate": "20250310", field: wrong})
    res = P.envelope.parse(body, key=KEY, now=dt.datetime.now(dt.timezone.utc))
    rules = {f.rule for f in res.findings}
    assert rules == {{"Count": "TRAN-ENV-07", "Index": "TRAN-ENV-06", "DataDate": "TRAN-ENV-08"}[field]}, rules


def test_omitted_extra_unsigned_and_encoded_variants():
    recs = _records("retail_market_in_info_base", 1, 1)
    now = dt.datetime.now(dt.timezone.utc)
    omitted = P.envelope.parse(
        envelope(P, NODE, KEY, "retail_market_in_info_base", recs, omit=("DataDate",)), key=KEY, now=now
    )
    assert [f.rule for f in omitted.findings] == ["TRAN-ENV-01"]
    extra = envelope(P, NODE, KEY, "retail_market_in_info_base", recs, extra_xml="<Remark>x</Remark>")
    assert b"<Remark>x</Remark><Address>" in extra
    bare = envelope(P, NODE, KEY, "retail_market_in_info_base", recs, sign=False)
    assert b"<VerifyCode>" not in bare
    gbk = envelope(
        P,
        NODE,
        KEY,
        "retail_market_in_info_base",
        recs,
        encoding="gbk",
        declaration='<?xml version="1.0" encoding="GBK"?>',
    )
    res = P.envelope.parse(gbk, key=KEY, now=now)
    assert res.ok and res.records[0].record == recs[0]
    late = request_time(P.envelope, -3600)
    res = P.envelope.parse(
        envelope(P, NODE, KEY, "retail_market_in_info_base", recs, header={"RequestTime": late}), key=KEY, now=now
    )
    assert [f.rule for f in res.findings] == ["TRAN-ENV-04"]
