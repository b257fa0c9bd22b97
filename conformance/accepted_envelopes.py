"""Envelopes the platform accepted whole during the run, with when they were sent: candidates for a late replay.

TRAN-ENV-10 asks the platform to remember every envelope it received for twice the clock window, so an envelope
sent again minutes later (still inside the window) is refused as a replay.  A replay sent at once does not show
a memory that forgets after a minute; waiting a minute in one test would slow every run.  So the run keeps, as
it goes, a few of the envelopes it saw accepted (:meth:`AcceptedEnvelopes.note`, fed by
:class:`~conformance.uploads.Uploader`), and the replay test, which runs last, takes one that is old enough
(:meth:`AcceptedEnvelopes.pick`).

Contract: at most one envelope is kept per ``spacing_s`` seconds of the monotonic clock, and none older than
``keep_s``; only envelopes answered ``0000`` with every record ``accepted``.  Pure bookkeeping: no I/O.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    at: float  #: time.monotonic() just before the envelope was sent
    body: bytes


class AcceptedEnvelopes:
    """A thinned record of the run's wholly accepted envelopes (see the module docstring)."""

    def __init__(self, keep_s: float = 900.0, spacing_s: float = 5.0):
        self.keep_s, self.spacing_s = keep_s, spacing_s
        self._items: deque[Sent] = deque()

    def note(self, body: bytes, answer, at: float) -> None:
        """Keep ``body`` (sent at monotonic ``at``) if ``answer`` accepted every record of it and none was kept
        in the last ``spacing_s`` seconds."""
        verdicts = answer.verdicts
        if answer.code != "0000" or not verdicts or any(v != "accepted" for v in verdicts):
            return
        while self._items and at - self._items[0].at > self.keep_s:
            self._items.popleft()
        if not self._items or at - self._items[-1].at >= self.spacing_s:
            self._items.append(Sent(at, body))

    def pick(self, youngest_s: float, oldest_s: float, now: float | None = None) -> Sent | None:
        """The youngest kept envelope sent between ``youngest_s`` and ``oldest_s`` seconds before ``now``; else the
        oldest one younger than ``oldest_s`` (the caller waits until it is ``youngest_s`` old); else ``None``."""
        now = time.monotonic() if now is None else now
        fresh = [s for s in self._items if now - s.at <= oldest_s]
        ripe = [s for s in fresh if now - s.at >= youngest_s]
        if ripe:
            return ripe[-1]
        return fresh[0] if fresh else None
