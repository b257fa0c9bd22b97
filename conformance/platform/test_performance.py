"""Response times and throughput (recommended requirements; small, bounded samples — the load tests
(``roucai load``) measure at scale)."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from conformance.platform.conftest import cite_day_upload
from simulators.tls import client_verify

PLATFORM = ("city_platform",)
SIMPLE_QUERY_S = 3.0
RAMP_S = 1.0


@pytest.mark.requirement("PLAT-PERF-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_trace_queries_answer_within_3_seconds(day_upload, http, platform, evidence):
    """Every trace query of the simulated day's codes (simple queries) answers in under 3 s."""
    cite_day_upload(evidence, day_upload)
    times = []
    for code in sorted(day_upload.day.own_codes()):
        t0 = time.perf_counter()
        r = http.get(f"{platform.url}/api/v1/trace/{code}")
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, f"trace {code}: HTTP {r.status_code}"
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    evidence.note(
        f"{len(times)} 次查询：中位 {statistics.median(times) * 1000:.1f} ms，p95 {p95 * 1000:.1f} ms，"
        f"最大 {times[-1] * 1000:.1f} ms",
        f"{len(times)} queries: median {statistics.median(times) * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms",
    )
    assert times[-1] < SIMPLE_QUERY_S, (
        f"the slowest trace query took {times[-1]:.2f} s (must be under {SIMPLE_QUERY_S} s)"
    )


@pytest.mark.requirement("PLAT-PERF-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
@pytest.mark.conformance_timeout(60)
def test_300_concurrent_users_answered_within_3_seconds(day_upload, platform, evidence):
    """300 users, arriving within one second (up to 300 connections at once), query a trace code: every
    one is answered 200 in under 3 s."""
    codes = sorted(day_upload.day.own_codes())
    users = 300

    async def crowd() -> list[tuple[int, float]]:
        limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
        async with httpx.AsyncClient(timeout=10, trust_env=False, limits=limits, verify=client_verify()) as c:

            async def one(i: int) -> tuple[int, float]:
                await asyncio.sleep(i * RAMP_S / users)  # the users arrive within RAMP_S, then all wait
                t0 = time.perf_counter()
                r = await c.get(f"{platform.url}/api/v1/trace/{codes[i % len(codes)]}")
                return r.status_code, time.perf_counter() - t0

            return await asyncio.gather(*(one(i) for i in range(users)))

    got = asyncio.run(crowd())
    bad = [s for s, _ in got if s != 200]
    slowest = max(t for _, t in got)
    evidence.note(
        f"{users} 个并发用户，最慢 {slowest:.2f} 秒，非200答复 {len(bad)} 个",
        f"{users} concurrent users: slowest {slowest:.2f} s, {len(bad)} answers not 200",
    )
    assert not bad and slowest < SIMPLE_QUERY_S, (
        f"with {users} concurrent users: {len(bad)} failed answers, slowest "
        f"{slowest:.2f} s (each must be 200 within {SIMPLE_QUERY_S} s)"
    )


@pytest.mark.requirement("PLAT-PERF-03")
@pytest.mark.applies(kinds=PLATFORM)
@pytest.mark.conformance_timeout(60)
def test_ingest_sustains_100_records_per_second(records, uploader, evidence):
    """Ten envelopes of 100 records each, sent back to back by one node, are processed at no less than 100
    records/s with an error rate under 0.1 % (no record rejected, no envelope refused)."""
    d = records.fresh_day()
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    batches = [[records.make(rtype, d) for _ in range(100)] for _ in range(10)]
    t0 = time.perf_counter()
    answers = [uploader.upload(node, rtype, b, header={"DataDate": d.strftime("%Y%m%d")}) for b in batches]
    secs = time.perf_counter() - t0
    errors = sum(100 if a.code != "0000" else a.tally().get("rejected", 0) for a in answers)
    rate = 1000 / secs
    evidence.note(
        f"1000 条记录用时 {secs:.2f} 秒（{rate:.0f} 条/秒），错误 {errors} 条",
        f"1,000 records in {secs:.2f} s ({rate:.0f} records/s), {errors} errors",
    )
    assert errors / 1000 < 0.001, f"{errors} of 1,000 records failed (error rate must be under 0.1 %)"
    assert rate >= 100, f"{rate:.0f} records/s (at least 100 records/s with 100 records per envelope)"
