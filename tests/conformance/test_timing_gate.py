"""PLAT-PERF-02's verdict from figures (conformance/platform/timing_gate.py), exact cases on both sides of every
threshold (budget 3 s, gate a sixth of it: 0.5 s), and the measurements it is fed (conformance/platform/crowd.py
against the real trivial endpoint on 127.0.0.1): a blocked event loop shows as lag, the endpoint answers 200
over HTTP and HTTPS."""

from __future__ import annotations

import time

import pytest

from conformance.platform.crowd import run_crowd
from conformance.platform.timing_gate import GATE_SHARE, judge_crowd
from conformance.platform.trivial_endpoint import TrivialEndpoint

B = 3.0


def test_the_gate_is_a_sixth_of_the_budget():
    assert B * GATE_SHARE == 0.5


@pytest.mark.parametrize(
    ("slowest", "refused", "lag", "calibration", "verdict"),
    [
        # a non-200 answer fails whatever the harness did
        (0.1, 1, 9.0, 9.0, "fail"),
        (0.1, 0, 9.0, 9.0, "not_judgeable"),
        # the budget: under 3 s passes, 3 s does not (harness fit)
        (2.99, 0, 0.0, 0.0, "pass"),
        (3.0, 0, 0.0, 0.0, "fail"),
        # a pass needs the load generated: loop lag up to the gate
        (2.0, 0, 0.5, 0.0, "pass"),
        (2.0, 0, 0.51, 0.0, "not_judgeable"),
        # a pass does not need a fit calibration (the measured time bounds the platform's from above)
        (2.0, 0, 0.0, 9.0, "pass"),
        # a fail needs the harness fit: calibration and lag up to the gate ...
        (3.2, 0, 0.0, 0.5, "fail"),
        (3.2, 0, 0.0, 0.51, "not_judgeable"),
        (3.2, 0, 0.5, 0.0, "fail"),
        (3.2, 0, 0.51, 0.0, "not_judgeable"),
        # ... or the platform over the budget even with all of the harness's delay credited
        (4.0, 0, 0.0, 1.0, "fail"),
        (3.99, 0, 0.0, 1.0, "not_judgeable"),
        (4.0, 0, 1.0, 0.0, "fail"),
        (3.99, 0, 1.0, 0.0, "not_judgeable"),
    ],
)
def test_the_verdict_from_figures(slowest, refused, lag, calibration, verdict):
    j = judge_crowd(B, slowest, refused, lag, calibration)
    assert j.verdict == verdict
    # both languages carry the figures, so a vendor sees why
    for text in (j.zh, j.en):
        assert f"{slowest:.2f}" in text and f"{lag:.2f}" in text and f"{calibration:.2f}" in text and "0.50" in text
    assert j.zh != j.en


def test_not_judgeable_says_it_is_no_verdict_on_the_platform():
    j = judge_crowd(B, 3.5, 0, 0.0, 2.0)
    assert j.verdict == "not_judgeable"
    assert "不是对平台的判定" in j.zh and "not a verdict on the platform" in j.en


def test_the_crowd_against_the_trivial_endpoint_is_answered():
    with TrivialEndpoint(body_bytes=500) as ep:
        got = run_crowd(lambda i: f"{ep.url}/x/{i}", 30, 0.3)
    assert got.statuses == [200] * 30
    assert len(got.times) == 30 and all(t > 0 for t in got.times)


def test_the_trivial_endpoint_speaks_tls_with_the_same_client(tmp_path):
    with TrivialEndpoint(body_bytes=500, tls_dir=tmp_path / "tls") as ep:
        assert ep.url.startswith("https://127.0.0.1:")
        got = run_crowd(lambda i: f"{ep.url}/x/{i}", 5, 0.1, ep.verify)
    assert got.statuses == [200] * 5


def test_a_blocked_event_loop_shows_as_lag():
    """The harness's own starvation, made from outside: the first user's URL blocks the loop for 0.6 s."""

    def url(i: int) -> str:
        if i == 0:
            time.sleep(0.6)
        return f"{ep.url}/x/{i}"

    with TrivialEndpoint(body_bytes=100) as ep:
        calm = run_crowd(lambda i: f"{ep.url}/x/{i}", 10, 0.2)
        blocked = run_crowd(url, 10, 0.2)
    assert blocked.send_lag_s >= 0.6 - 0.2  # user 9 was due at 0.18 s, sent after 0.6 s
    assert blocked.loop_lag >= 0.4 and blocked.statuses == [200] * 10
    assert calm.statuses == [200] * 10


def test_no_answer_is_status_0_not_an_exception():
    with TrivialEndpoint(body_bytes=100) as ep:
        url = ep.url
    got = run_crowd(lambda i: f"{url}/x/{i}", 3, 0.1, timeout_s=2.0)  # the endpoint is gone
    assert got.statuses == [0, 0, 0]


def test_the_serialized_defect_queues_trace_queries_one_behind_another():
    """The proof's defect (trace-serialized-under-load): alone a query waits its 80 ms; 3 at once 80, 160, 240 ms."""
    from conformance.proofs.http_defects import make_transform
    from conformance.proofs.proxy import Exchange

    t = make_transform("trace-serialized-under-load", 1, {})
    trace = Exchange("GET", "/api/v1/trace/123", "", [], b"")
    assert make_transform("trace-serialized-under-load", 1, {}).delay(trace) == pytest.approx(0.08, abs=0.005)
    waits = [t.delay(trace) for _ in range(3)]
    assert waits == pytest.approx([0.08, 0.16, 0.24], abs=0.01)
    assert t.delay(Exchange("GET", "/healthz", "", [], b"")) == 0.0
    assert t.delay(Exchange("POST", "/api/v1/trace/123", "", [], b"")) == 0.0
