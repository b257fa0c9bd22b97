"""A crowd of users timed by the harness, with the harness's own lag measured beside it.

:func:`run_crowd` sends ``users`` GETs from one asyncio client, user ``i`` scheduled at ``i * ramp_s / users``
after the start (the users arrive within ``ramp_s``, then all wait for their answers), and returns
:class:`CrowdTimes`: each answer's status and time (request sent to answer read, as the harness measures it),
and the harness's own event-loop lag: how late each user was sent against its schedule, and how late a 10 ms
ticker woke while the crowd was under way.  A starved harness shows as lag; what it cannot show (its own TLS and
HTTP work inside the measured time) a calibration crowd of the same shape against
:class:`~conformance.platform.trivial_endpoint.TrivialEndpoint` shows.  Bounded: every request has ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

TICK_S = 0.01


@dataclass(frozen=True)
class CrowdTimes:
    statuses: list[int]  #: per user: the HTTP status, 0 when no answer came (a transport error or timeout)
    times: list[float]  #: per user: seconds from send to the whole answer read
    send_lag_s: float  #: the latest a user was sent after its scheduled arrival
    tick_lag_s: float  #: the latest the ticker woke after its 10 ms sleep, while the crowd ran

    @property
    def slowest(self) -> float:
        return max(self.times, default=0.0)

    @property
    def loop_lag(self) -> float:
        """The harness's own worst event-loop lag during the crowd (seconds)."""
        return max(self.send_lag_s, self.tick_lag_s)

    def not_ok(self) -> int:
        return sum(1 for s in self.statuses if s != 200)


async def _crowd(url_of: Callable[[int], str], users: int, ramp_s: float, verify, timeout_s: float) -> CrowdTimes:
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    loop = asyncio.get_running_loop()
    tick_lag = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal tick_lag
        while not done.is_set():
            t = loop.time()
            await asyncio.sleep(TICK_S)
            tick_lag = max(tick_lag, loop.time() - t - TICK_S)

    async with httpx.AsyncClient(timeout=timeout_s, trust_env=False, limits=limits, verify=verify) as c:
        start = time.perf_counter()

        async def one(i: int) -> tuple[int, float, float]:
            due = i * ramp_s / users
            await asyncio.sleep(due)  # the users arrive within ramp_s, then all wait
            t0 = time.perf_counter()
            try:
                r = await c.get(url_of(i))
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            return status, time.perf_counter() - t0, max(0.0, t0 - start - due)

        tick = asyncio.create_task(ticker())
        try:
            got = await asyncio.gather(*(one(i) for i in range(users)))
        finally:
            done.set()
            await tick
    return CrowdTimes([s for s, _, _ in got], [t for _, t, _ in got], max(g for *_, g in got), tick_lag)


def run_crowd(
    url_of: Callable[[int], str], users: int, ramp_s: float, verify=True, timeout_s: float = 10.0
) -> CrowdTimes:
    """Send the crowd (user ``i`` GETs ``url_of(i)``) and time it; see the module docstring."""
    return asyncio.run(_crowd(url_of, users, ramp_s, verify, timeout_s))
