"""Record and envelope throughput and memory.

* XML encode + decode round trip of records: >= 20,000 records/s on one core (issue 2, "Must show").
* A 10,000-record envelope parses within 100 MB (peak traced by tracemalloc).

Run with ``python3 tasks.py bench`` (skipped in the normal test run).
"""

from __future__ import annotations

import datetime as dt
import random
import tracemalloc

import pytest

from profiles import load_profile
from profiles.record_examples import example_record

P = load_profile()
CAT, ENV = P.records, P.envelope
N = 2_000
MIN_RATE = 20_000  # records/s, encode + decode
MAX_PEAK = 100 * 1024 * 1024  # bytes, 10,000-record envelope parse
NODE, KEY = "650102009", "bench-secret"
WHEN = dt.datetime(2024, 5, 18, 20, 30)


@pytest.fixture(scope="module")
def items():
    """2,000 valid records, every record type in turn (the median type has about 12 fields)."""
    rng = random.Random(7)
    types = sorted(CAT.types)
    return [(types[i % len(types)], example_record(CAT, types[i % len(types)], rng)) for i in range(N)]


def test_bench_xml_round_trip(benchmark, items, figure):
    def run():
        return CAT.decode_xml(CAT.encode_xml_list(items))

    dec = benchmark(run)
    assert [(i.type, i.record) for i in dec.items] == items
    rate = N / benchmark.stats.stats.mean
    benchmark.extra_info["records_per_s"] = round(rate)
    figure("XML round trip", round(rate), "records/s", goal=MIN_RATE)
    assert rate >= MIN_RATE, f"{rate:,.0f} records/s < {MIN_RATE:,}"


def test_bench_xml_round_trip_with_validation(benchmark, items):
    def run():
        dec = CAT.decode_xml(CAT.encode_xml_list(items))
        return sum(1 for i in dec.items if not CAT.validate(i.type, i.record))

    assert benchmark(run) == N
    benchmark.extra_info["records_per_s"] = round(N / benchmark.stats.stats.mean)


def test_bench_json_round_trip(benchmark, items):
    dec = benchmark(lambda: CAT.decode_json(CAT.encode_json_list(items)))
    assert len(dec.items) == N
    benchmark.extra_info["records_per_s"] = round(N / benchmark.stats.stats.mean)


@pytest.fixture(scope="module")
def big_envelope():
    t = "retail_market_tran_info_summ"
    rng = random.Random(3)
    recs = [example_record(CAT, t, rng, node=NODE) for _ in range(10_000)]
    return ENV.build(NODE, t, recs, KEY, request_time=WHEN)


def test_bench_envelope_10k_memory_and_time(benchmark, big_envelope, figure):
    tracemalloc.start()
    res = ENV.parse(big_envelope, key=KEY, now=WHEN, max_count=10_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert res.ok and len(res.records) == 10_000
    benchmark.extra_info["envelope_bytes"] = len(big_envelope)
    benchmark.extra_info["peak_mb"] = round(peak / 2**20, 1)
    figure(
        "10,000-record envelope parse, peak memory", round(peak / 2**20, 1), "MB", goal=MAX_PEAK / 2**20, better="lower"
    )
    assert peak <= MAX_PEAK, f"peak {peak / 2**20:.1f} MB > 100 MB"
    out = benchmark.pedantic(lambda: ENV.parse(big_envelope, key=KEY, now=WHEN, max_count=10_000), rounds=3)
    assert out.ok
    benchmark.extra_info["records_per_s"] = round(10_000 / benchmark.stats.stats.mean)
