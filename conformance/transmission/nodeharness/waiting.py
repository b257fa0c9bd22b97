"""The one bounded wait every phase uses: poll a condition until it holds or its time is up."""

from __future__ import annotations

import time


def wait_for(cond, timeout: float, step: float = 0.05):
    """Poll ``cond()`` until truthy (returned) or ``None`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            return None
        time.sleep(step)
