"""Code validation throughput: ≥ 300,000 valid trace codes per second on one core.

Run with ``python3 tasks.py bench`` (skipped in the normal test run).
"""

from __future__ import annotations

import random

import pytest

from profiles import load_profile

P = load_profile()
N = 20_000
MIN_RATE = 300_000  # codes/s (issue 2, "Must show")


@pytest.fixture(scope="module")
def trace_codes():
    """20,000 valid trace codes spread over Urumqi's and Lanzhou's districts."""
    r = random.Random(1)
    counties = [c.code for c in P.regions.counties_of("650100") + P.regions.counties_of("620100")]
    out = []
    for _ in range(N):
        node = P.codes.node_code(r.choice(counties), r.randint(1, 999))
        op = P.codes.operator_code(node, r.randint(0, 9999))
        out.append(P.codes.trace_code(op, r.randint(1, 9_999_999)))
    assert all(P.codes.is_valid(c, "trace") for c in out)
    return out


def _rate(benchmark) -> float:
    return N / benchmark.stats.stats.mean


def test_bench_is_valid(benchmark, trace_codes, figure):
    is_valid = P.codes.is_valid

    def run():
        return sum(1 for c in trace_codes if is_valid(c, "trace"))

    assert benchmark(run) == N
    rate = _rate(benchmark)
    benchmark.extra_info["codes_per_s"] = round(rate)
    figure("trace code validation (is_valid)", round(rate), "codes/s", goal=MIN_RATE)
    assert rate >= MIN_RATE, f"{rate:,.0f} codes/s < {MIN_RATE:,}"


def test_bench_findings(benchmark, trace_codes, figure):
    findings = P.codes.findings

    def run():
        return sum(1 for c in trace_codes if not findings(c, "trace"))

    assert benchmark(run) == N
    rate = _rate(benchmark)
    benchmark.extra_info["codes_per_s"] = round(rate)
    figure("trace code findings", round(rate), "codes/s", goal=MIN_RATE)
    assert rate >= MIN_RATE, f"{rate:,.0f} codes/s < {MIN_RATE:,}"
