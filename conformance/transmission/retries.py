"""Every retry of a failed upload the harness platform saw, with the delay the declared backoff gives it (TRAN-UPL-06).

Contract of :func:`retries`:

- A *failure* is an upload answered HTTP 5xx (by the platform, or by the harness's recorder during its
  503 period).  Transport errors are not seen at the platform side, so the times the platform was stopped
  are *blind windows*.
- The *retry* of a failure ``F`` is the node's first later upload (arriving at or after ``F``'s answer)
  that carries at least one of ``F``'s records.  An upload that is no retry of anything is a first attempt.
- The retry's rank ``n`` (1 for the first retry of an envelope) is the rank of ``F`` in its chain of
  consecutive failures: ``n(F) = n(P) + 1`` when ``F`` is itself the retry of a failure ``P``, else 1 when
  the node's previous upload before ``F`` was answered per record (ResultCode 0000: a known reset of the
  backoff) with no blind window between, else unknown (not judged: the node may have failed unseen, or
  been refused whole, which this module does not grade).
- A retry whose wait spans a blind window is not judged either.
- The declared backoff's delay for rank ``n`` is ``min(cap, first × 2^(n−1))`` (:func:`expected_delay`).

The delay measured is the retry's arrival minus the time the failure's answer was sent, both on the
harness's clock, so the failed exchange's own duration is not counted against the node.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retry:
    node: str
    n: int  #: 1 for the first retry of an envelope, 2 for the second, ...
    failed_at: float  #: epoch seconds: the failure's answer was sent
    retried_at: float  #: epoch seconds: the retry arrived
    expected_s: float  #: the declared backoff's delay for rank ``n``

    @property
    def delay_s(self) -> float:
        return self.retried_at - self.failed_at


def expected_delay(first: float, cap: float, n: int) -> float:
    """The declared exponential backoff: ``first``, ``2·first``, ``4·first`` ... at most ``cap`` (``n`` ≥ 1)."""
    return min(cap, first * 2 ** min(n - 1, 62))


def _failed(up) -> bool:
    return up.ex.status >= 500


def _blind(a: float, b: float, windows) -> bool:
    return any(s < b and e > a for s, e in windows)


def retries(uploads, first: float, cap: float, blind=()) -> tuple[list[Retry], int]:
    """``uploads``: :class:`~.recorder.Upload` of the nodes under test (any order); ``blind``: ``(start, end)``
    epoch-second windows when the platform was stopped.  Returns (every judged retry in arrival order, how many
    retries could not be judged)."""
    by_node: dict[str, list] = {}
    for up in uploads:
        by_node.setdefault(up.node, []).append(up)
    judged, unjudged = [], 0
    for node, ups in by_node.items():
        ups.sort(key=lambda u: u.ex.t)
        rank: dict[int, int | None] = {}  # index of a failure -> its rank in its chain (None: unknown)
        retry_of: dict[int, int] = {}  # index of an upload -> index of the failure it retries
        for i, up in enumerate(ups):
            if not _failed(up):
                continue
            if i in retry_of:
                rank[i] = None if rank[retry_of[i]] is None else rank[retry_of[i]] + 1
            else:
                prev = ups[i - 1] if i else None
                known = prev is not None and prev.answered and not _blind(prev.ex.t_end, up.ex.t, blind)
                rank[i] = 1 if known else None
            mine = set(up.records)
            j = next(
                (k for k in range(i + 1, len(ups)) if ups[k].ex.t >= up.ex.t_end and mine & set(ups[k].records)),
                None,
            )
            if j is None:
                continue
            retry_of.setdefault(j, i)
            if rank[i] is None or _blind(up.ex.t_end, ups[j].ex.t, blind):
                unjudged += 1
                continue
            judged.append(Retry(node, rank[i], up.ex.t_end, ups[j].ex.t, expected_delay(first, cap, rank[i])))
    judged.sort(key=lambda r: r.retried_at)
    return judged, unjudged


def tolerance(expected: float, slack_s: float) -> tuple[float, float]:
    """The accepted delay range for a retry whose declared delay is ``expected``: from 0.8 × expected (a
    timer that fires a little early, and the failure's answer time taken after it left) to expected plus
    the larger of ``slack_s`` and a quarter of it (the node's work between answer and retry, on a loaded
    machine)."""
    return 0.8 * expected, expected + max(slack_s, 0.25 * expected)


def off_schedule(judged: list[Retry], slack_s: float) -> list[dict]:
    """Every judged retry outside :func:`tolerance`, as evidence rows."""
    out = []
    for r in judged:
        lo, hi = tolerance(r.expected_s, slack_s)
        if not lo <= r.delay_s <= hi:
            out.append(
                {
                    "node": r.node,
                    "retry": r.n,
                    "delay_s": round(r.delay_s, 3),
                    "expected_s": r.expected_s,
                    "accepted_s": [round(lo, 3), round(hi, 3)],
                    "too": "early" if r.delay_s < lo else "late",
                }
            )
    return out
