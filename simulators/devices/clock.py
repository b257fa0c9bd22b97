"""A device's real-time clock: battery-backed, settable, drifting.

``now() = set_value + (t - t_set) * (1 + drift_ppm / 1e6)`` where ``t`` comes
from ``time_source()`` in seconds (``time.monotonic`` in real time, ``lambda:
env.now`` under SimPy).  The clock survives a power cut of its device (it is
the RTC); a device restart keeps the same :class:`DeviceClock` object.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Callable


class DeviceClock:
    """:param time_source: seconds, monotonic.  :param start: the clock's value now.
    :param drift_ppm: rate error in parts per million (+ runs fast)."""

    def __init__(
        self, time_source: Callable[[], float] = time.monotonic, start: datetime | None = None, drift_ppm: float = 0.0
    ):
        self.time_source = time_source
        self.drift_ppm = float(drift_ppm)
        self._base = start or datetime.now().replace(microsecond=0)
        self._t0 = time_source()

    def now(self) -> datetime:
        elapsed = (self.time_source() - self._t0) * (1.0 + self.drift_ppm / 1e6)
        return self._base + timedelta(seconds=elapsed)

    def set(self, value: datetime) -> None:
        """Set the clock (SET_CLOCK); drift continues from here."""
        self._base = value
        self._t0 = self.time_source()
