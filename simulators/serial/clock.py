"""Clocks a line runs on: the wall clock (threads, blocking reads) or SimPy virtual time.

Both expose ``now() -> float`` in seconds.  :class:`WallClock` uses
``time.monotonic()``; :class:`SimClock` uses ``env.now`` of a SimPy
environment, whose unit this package takes to be one second.
"""

from __future__ import annotations

import time


class WallClock:
    """Real time.  Lines on this clock are thread-safe and reads block with timeouts."""

    realtime = True

    def now(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "WallClock()"


class SimClock:
    """SimPy virtual time (``env.now``, seconds).  Lines on this clock never block:
    waiting is done with SimPy events (``end.read_event(n)``), so thousands of lines
    share one thread."""

    realtime = False

    def __init__(self, env) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)

    def __repr__(self) -> str:
        return f"SimClock({self.env!r})"
