"""loadtests.slo: the SLO file format and the gates (each breach names its threshold)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtests.slo import DEFAULT_SLO, SloError, judge, load_slo, percentile

UP = "POST /api/v1/exchange"


def facts(**over) -> dict:
    ok = {"requests": 100, "failures": 0, "hist": {"20": 90, "80": 10}}
    eps = {n: dict(ok) for n in (UP, "GET /api/v1/trace/{code}", "GET /trace?code=", "GET /api/v1/stats/totals")}
    base = {
        "endpoints": eps,
        "lag_hist": {"0.10": 95, "0.50": 5},
        "hour_s": 2.5,
        "planned": 100,
        "answered": 100,
        "peak_records_per_s": lambda w: 50.0,
        "checks": {"upload": [10, 0]},
        "wrong_verdicts": 0,
        "reconciled": True,
        "reconcile_reason": ("一致", "consistent"),
    }
    base.update(over)
    return base


def test_default_file_loads_and_a_healthy_run_passes():
    slo = load_slo()
    assert slo["latency"][0]["endpoint"] == UP
    assert judge(slo, facts()) == []


@pytest.mark.parametrize(
    "text,needle",
    [
        ("[latncy]\n", "latncy"),
        ("[[latency]]\nendpoint = 'x'\np97_ms = 3\n", "p97_ms"),
        ("[[latency]]\np95_ms = 3\n", "endpoint"),
        ("[errors]\nmax_rate = -0.1\n", "negative"),
        ("[errors]\nmax_rate = 2\n", "0..1"),
        ("[throughput]\nmax_lag_model_min = 'soon'\n", "number"),
        ("[correctness]\nmax_failed = 1.5\n", "integer"),
        ("[reconcile]\nrequired = 1\n", "true or false"),
        ("[errors\n", "malformed"),
    ],
)
def test_bad_files_are_configuration_errors(tmp_path, text, needle):
    f = tmp_path / "slo.toml"
    f.write_text(text)
    with pytest.raises(SloError) as exc:
        load_slo(f)
    assert needle in exc.value.en and exc.value.zh


def test_missing_file():
    with pytest.raises(SloError, match="not found"):
        load_slo("/nonexistent/slo.toml")


def test_each_breach_names_its_threshold(tmp_path):
    slo = load_slo(DEFAULT_SLO)
    f = facts()
    f["endpoints"][UP] = {"requests": 100, "failures": 2, "hist": {"900": 50, "6000": 50}}
    f.update(
        lag_hist={"40.0": 100},
        answered=90,
        checks={"upload": [10, 1]},
        wrong_verdicts=3,
        reconciled=False,
        reconcile_reason=("丢了", "lost 3 records"),
    )
    got = {b.threshold: b for b in judge(slo, f)}
    assert {
        f'latency."{UP}".p50_ms',
        f'latency."{UP}".p95_ms',
        f'latency."{UP}".p99_ms',
        "errors.max_rate",
        f'errors.endpoints."{UP}"',
        "throughput.max_lag_model_min",
        "throughput.max_lag_model_min_worst",
        "throughput.min_completed",
        "correctness.max_failed",
        "correctness.max_wrong_verdicts",
        "reconcile.required",
    } <= set(got)
    assert got[f'latency."{UP}".p95_ms'].actual == 6000 and "6000 ms" in got[f'latency."{UP}".p95_ms'].en
    assert got["throughput.max_lag_model_min"].actual == 960.0  # 40 s at 2.5 s per model hour
    assert "lost 3 records" in got["reconcile.required"].en


def test_an_endpoint_without_requests_cannot_pass_its_latency_gate():
    got = judge(load_slo(), facts())
    assert not got
    slo = {"latency": [{"endpoint": "GET /nowhere", "p95_ms": 10}]}
    assert [b.threshold for b in judge(slo, facts())] == ['latency."GET /nowhere".p95_ms']


def test_throughput_floor_and_sample_floor():
    slo = {"throughput": {"min_records_per_s": 100, "window_s": 5}, "correctness": {"min_checked": 50}}
    assert [b.threshold for b in judge(slo, facts())] == ["throughput.min_records_per_s", "correctness.min_checked"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=200), st.floats(0.01, 1.0))
def test_percentile_of_a_histogram_is_the_nearest_rank(values, q):
    hist: dict[str, int] = {}
    for v in values:
        hist[str(v)] = hist.get(str(v), 0) + 1
    ranked = sorted(values)
    assert percentile(hist, q) == ranked[max(1, math.ceil(q * len(ranked))) - 1]
    assert percentile({}, q) is None
