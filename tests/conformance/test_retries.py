"""conformance/transmission/retries.py: which uploads are retries, their rank, and the judgement of each delay.

The uploads are built here (exchanges with times and statuses); the whole list of judged retries is
compared, not membership, so an extra or a missing retry fails.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conformance.transmission.retries import expected_delay, off_schedule, retries, tolerance

FIRST, CAP = 0.25, 1.0


def up(node, t, dur, status, records, answered=None):
    ex = SimpleNamespace(t=t, t_end=t + dur, status=status)
    return SimpleNamespace(
        node=node, ex=ex, records=list(records), answered=status == 200 if answered is None else answered
    )


def rows(judged):
    return [(r.node, r.n, round(r.failed_at, 3), round(r.retried_at, 3), r.expected_s) for r in judged]


def test_expected_delay_doubles_from_first_up_to_the_cap():
    assert [expected_delay(FIRST, CAP, n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert expected_delay(1, 300, 10) == 300 and expected_delay(1, 300, 9) == 256


def test_a_chain_of_failures_is_ranked_from_the_reset_and_every_retry_judged():
    ups = [
        up("A", 0.0, 0.01, 200, ["r0"]),  # answered: the backoff is reset
        up("A", 1.0, 0.01, 503, ["r1"]),
        up("A", 1.27, 0.01, 503, ["r1", "r2"]),  # first retry (grew by a record)
        up("A", 1.79, 0.01, 503, ["r1", "r2"]),
        up("A", 2.81, 0.01, 200, ["r1", "r2"]),
        up("A", 5.0, 0.01, 503, ["r3"]),  # a new chain after the success
        up("A", 5.27, 0.01, 200, ["r3"]),
    ]
    judged, unjudged = retries(ups, FIRST, CAP)
    assert rows(judged) == [
        ("A", 1, 1.01, 1.27, 0.25),
        ("A", 2, 1.28, 1.79, 0.5),
        ("A", 3, 1.8, 2.81, 1.0),
        ("A", 1, 5.01, 5.27, 0.25),
    ]
    assert unjudged == 0
    assert off_schedule(judged, 0.3) == []


def test_a_first_retry_at_four_times_the_first_delay_is_late():
    ups = [
        up("A", 0.0, 0.01, 200, ["r0"]),
        up("A", 1.0, 0.01, 503, ["r1"]),
        up("A", 2.01, 0.01, 503, ["r1"]),  # 1.0 s after the answer: declared 0.25 s
        up("A", 3.03, 0.01, 200, ["r1"]),  # 1.01 s: declared 0.5 s
    ]
    judged, _ = retries(ups, FIRST, CAP)
    assert off_schedule(judged, 0.3) == [
        {"node": "A", "retry": 1, "delay_s": 1.0, "expected_s": 0.25, "accepted_s": [0.2, 0.55], "too": "late"},
        {"node": "A", "retry": 2, "delay_s": 1.01, "expected_s": 0.5, "accepted_s": [0.4, 0.8], "too": "late"},
    ]


def test_a_retry_without_backoff_is_early():
    ups = [up("A", 0.0, 0.01, 200, ["r0"]), up("A", 1.0, 0.01, 503, ["r1"]), up("A", 1.06, 0.01, 200, ["r1"])]
    judged, _ = retries(ups, FIRST, CAP)
    assert [(w["retry"], w["too"]) for w in off_schedule(judged, 0.3)] == [(1, "early")]


def test_the_delay_is_counted_from_the_answer_not_the_arrival_of_the_failure():
    # the failed exchange took 0.4 s to answer; the node waited 0.25 s after it
    ups = [up("A", 0.0, 0.01, 200, ["r0"]), up("A", 1.0, 0.4, 502, ["r1"]), up("A", 1.65, 0.01, 200, ["r1"])]
    judged, _ = retries(ups, FIRST, CAP)
    assert [round(r.delay_s, 3) for r in judged] == [0.25]
    assert off_schedule(judged, 0.3) == []


def test_unknown_ranks_and_blind_windows_are_not_judged():
    ups = [
        # no answered upload before the first failure: the node may have failed unseen, rank unknown
        up("A", 1.0, 0.01, 503, ["r1"]),
        up("A", 1.3, 0.01, 503, ["r1"]),  # its retry, and a failure whose rank is unknown too
        up("A", 1.9, 0.01, 200, ["r1"]),
        # a refusal (not 5xx, not answered per record) resets nothing the judge can know
        up("A", 3.0, 0.01, 400, ["r2"], answered=False),
        up("A", 4.0, 0.01, 503, ["r3"]),
        up("A", 4.3, 0.01, 200, ["r3"]),
        # the platform was stopped between the failure and its retry
        up("A", 6.0, 0.01, 503, ["r4"]),
        up("A", 9.0, 0.01, 200, ["r4"]),
    ]
    judged, unjudged = retries(ups, FIRST, CAP, blind=[(7.0, 8.0)])
    assert rows(judged) == []
    assert unjudged == 4


def test_a_failure_after_a_platform_outage_has_an_unknown_rank():
    ups = [
        up("A", 0.0, 0.01, 200, ["r0"]),
        up("A", 5.0, 0.01, 503, ["r1"]),  # first seen attempt after the outage: unseen failures before it
        up("A", 6.0, 0.01, 200, ["r1"]),
    ]
    assert retries(ups, FIRST, CAP, blind=[(1.0, 4.0)]) == ([], 1)


def test_nodes_are_judged_apart_and_a_retry_is_found_by_its_records():
    ups = [
        up("A", 0.0, 0.01, 200, ["a0"]),
        up("B", 0.0, 0.01, 200, ["b0"]),
        up("A", 1.0, 0.01, 503, ["a1"]),
        up("B", 1.1, 0.01, 503, ["b1"]),
        up("A", 1.2, 0.01, 200, ["a9"]),  # another envelope of A: not a retry of a1
        up("A", 1.27, 0.01, 200, ["a1"]),
        up("B", 1.37, 0.01, 200, ["b1"]),
        up("C", 2.0, 0.01, 503, ["c1"]),  # never retried: nothing to judge
    ]
    judged, unjudged = retries(ups, FIRST, CAP)
    assert rows(judged) == [("A", 1, 1.01, 1.27, 0.25), ("B", 1, 1.11, 1.37, 0.25)]
    assert unjudged == 0


@pytest.mark.parametrize(
    ("expected", "lo", "hi"),
    [(0.25, 0.2, 0.55), (1.0, 0.8, 1.3), (2.0, 1.6, 2.5), (300.0, 240.0, 375.0)],
)
def test_tolerance(expected, lo, hi):
    assert tolerance(expected, 0.3) == pytest.approx((lo, hi))
