"""The load shape of a city's day: the market model's hourly rates compressed into the test's duration.

``DayShape.tick()`` (Locust calls it about once a second on the master or local runner):

* for ``0 <= t < duration``: the compressed clock hour ``h = floor(24 t / duration)`` and the users
  :func:`~loadtests.users.users_needed` sizes for it from the plan's curve (envelopes per hour of
  the model's day(s) × the scale factor, which the plan already holds);
* for ``duration <= t``: the drain period with the users of hour 23, until every load-generating
  process reported its share sent and answered (``HOOKS.drained``), at most ``drain`` seconds;
* then ``None``: the test ends.

The uploads themselves are paced by the plan's schedule (:mod:`.workload`); the shape provides the
concurrency to carry them, following the same curve.
"""

from __future__ import annotations

from locust import LoadTestShape

from .hooks import HOOKS
from .users import users_needed

SPAWN_RATE = 200.0


def day_plan(meta: dict, traffic: dict, duration: float, parts: int) -> list[int]:
    """Total users for each of the 24 compressed hours."""
    return [sum(users_needed(meta, traffic, duration, parts, h).values()) for h in range(24)]


class DayShape(LoadTestShape):
    use_common_options = False

    def tick(self):
        if not HOOKS.ready:
            return (0, SPAWN_RATE) if self.get_run_time() < 30 else None
        t = self.get_run_time()
        duration, drain = HOOKS.duration, HOOKS.drain
        if t < duration:
            h = min(int(t / duration * 24), 23)
            return HOOKS.users_by_hour[h], SPAWN_RATE
        if HOOKS.all_drained() or t >= duration + drain:
            return None
        return HOOKS.users_by_hour[23], SPAWN_RATE
