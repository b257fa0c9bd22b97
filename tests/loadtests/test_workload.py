"""loadtests.workload: re-signed envelopes, schedule, partitions, verdict bookkeeping (no locust here)."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.workload import Envelope, Tally, Workload, build_envelope, parse_verdicts, part_of
from profiles import load_profile
from profiles.envelope import RecordVerdict, Response, beijing
from profiles.record_examples import example_record

P = load_profile()
SPEC = P.envelope
NODE = "650103002"
KEY = "0123456789abcdef0123456789abcdef"


def _batch(i: int, at: float, rtype="retail_market_tran_info_summ", n=3, seed=1, node=NODE) -> dict:
    rng = random.Random(seed)
    recs = [example_record(P.records, rtype, rng, node=node) for _ in range(n)]
    date = P.records.types[rtype].business_date(recs[0]) or "20250106"
    for r in recs:
        if P.records.types[rtype].date_field:
            r[P.records.types[rtype].date_field] = date
    return {
        "i": i,
        "at": at,
        "day": 0,
        "node": node,
        "rtype": rtype,
        "date": date,
        "records": recs,
        "ids": [f"id{i}-{k}" for k in range(n)],
        "codes": [],
    }


def _now() -> dt.datetime:
    return beijing(dt.datetime.now(dt.timezone.utc))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 12),
    rtype=st.sampled_from(sorted(P.records.types)),
    skew_ms=st.integers(-120_000, 120_000),
)
def test_stamped_envelope_is_authentic_and_carries_the_records(seed, n, rtype, skew_ms):
    b = _batch(0, 0.0, rtype, n, seed)
    env = build_envelope(SPEC, b, KEY)
    now = _now() + dt.timedelta(milliseconds=skew_ms)
    body = env.stamp(SPEC, KEY, now)
    res = SPEC.parse(body, key=KEY, now=dt.datetime.now(dt.timezone.utc))
    assert res.authenticated and res.envelope_ok, [f.en for f in res.findings]
    assert [r.record for r in res.records] == b["records"]
    assert res.header["RequestTime"] == now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
    assert res.header["DataDate"] == b["date"]


def test_a_wrong_key_is_caught_by_the_platform_check():
    env = build_envelope(SPEC, _batch(0, 0.0), KEY)
    res = SPEC.parse(env.stamp(SPEC, "f" * 32, _now()), key=KEY, now=dt.datetime.now(dt.timezone.utc))
    assert not res.authenticated and any(f.rule == "TRAN-ENV-05" for f in res.findings)


def _plan(tmp_path, batches) -> str:
    (tmp_path / "batches.jsonl").write_text("".join(json.dumps(b) + "\n" for b in batches))
    return str(tmp_path)


def test_request_times_strictly_increase_per_node(tmp_path):
    wl = Workload(SPEC, _plan(tmp_path, [_batch(i, 0.0, seed=i) for i in range(5)]), {NODE: KEY}, 10.0)
    now = _now()
    times = []
    for _ in range(5):
        env, _ = wl.next_due(1.0)
        res = SPEC.parse(wl.stamp(env, now), key=KEY, now=dt.datetime.now(dt.timezone.utc))
        times.append(res.header["RequestTime"])
    assert times == sorted(set(times)) and len(times) == 5


def test_schedule_hands_out_batches_only_when_due(tmp_path):
    batches = [_batch(0, 0.0), _batch(1, 43_200.0, seed=2), _batch(2, 86_400.0, seed=3)]
    wl = Workload(SPEC, _plan(tmp_path, batches), {NODE: KEY}, 24.0)  # one model hour per test second
    assert wl.next_due(0.0)[0].index == 0
    env, wait = wl.next_due(1.0)
    assert env is None and wait == pytest.approx(11.0)
    assert wl.next_due(12.0)[0].index == 1
    assert wl.next_due(23.9)[0] is None
    assert wl.next_due(24.0)[0].index == 2
    assert wl.next_due(30.0) == (None, float("inf")) and wl.drained


def test_partitions_split_the_nodes_without_overlap(tmp_path):
    nodes = [P.codes.node_code("650102", k) for k in range(1, 40)]
    batches = [_batch(i, float(i), node=n, seed=i) for i, n in enumerate(nodes)]
    keys = {n: KEY for n in nodes}
    plan = _plan(tmp_path, batches)
    got = [Workload(SPEC, plan, keys, 10.0, part=k, parts=3) for k in range(3)]
    ids = [e.index for w in got for e in w.queue]
    assert sorted(ids) == list(range(len(nodes)))
    assert all(part_of(e.node, 3) == w.part for w in got for e in w.queue)
    assert part_of(nodes[0], 3) == part_of(nodes[0], 3)


def test_node_without_a_key_is_counted_not_sent(tmp_path):
    wl = Workload(SPEC, _plan(tmp_path, [_batch(0, 0.0)]), {}, 10.0)
    assert wl.total == 0 and wl.no_key == {NODE}


def _env(ids, node=NODE) -> Envelope:
    return Envelope(0, 0.0, node, "t", "20250106", list(ids), [], b"", b"", b"", ("", "", "", ""))


def test_tally_expects_each_record_accepted_exactly_once():
    t = Tally()
    a, b = _env(["x", "y"]), _env(["y"])  # y is planned twice (a duplicated upload)
    t.plan(a)
    t.plan(b)
    assert t.check(a, ["accepted", "accepted"]) == []
    assert t.check(b, ["duplicate"]) == []
    assert t.missing() == 0
    c = _env(["z"])
    t.plan(c)
    assert t.check(c, ["duplicate"]) == ["record 1: duplicate, but sent once"]
    assert t.check(c, ["rejected"]) == ["record 1: rejected"]
    assert t.missing() == 1 and t.wrong_count == 2
    assert t.check(_env(["x"]), ["accepted"]) == ["record 1: accepted twice"]
    assert t.check(a, ["accepted"])[0] == "1 verdicts for 2 records"


def test_a_duplicate_after_a_lost_answer_counts_as_the_acknowledgement():
    t = Tally()
    e = _env(["q"])
    t.plan(e)
    assert t.check(e, ["duplicate"], uncertain=True) == []
    assert t.missing() == 0 and t.cells["650103002|20250106|t"] == [1, 0, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["accepted", "duplicate", "rejected"]), max_size=40))
def test_parse_verdicts_reads_what_the_profile_writes(verdicts):
    reasons = {"accepted": "0000", "duplicate": "2009", "rejected": "2001"}
    resp = Response(
        NODE,
        "20250106120000000",
        "20250106120000001",
        "0001",
        "0000",
        "ok",
        len(verdicts),
        [RecordVerdict(i + 1, v, reasons[v]) for i, v in enumerate(verdicts)],
    )
    assert parse_verdicts(SPEC.build_response(resp)) == ("0000", verdicts)


def test_parse_verdicts_of_a_refusal():
    assert parse_verdicts(SPEC.build_response(SPEC.refuse("1105", dt.datetime.now(dt.timezone.utc)))) == ("1105", [])
