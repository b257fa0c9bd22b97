"""Many scales in one process under SimPy virtual time (no thread per device).

Each scale is a :class:`~simulators.devices.scale.ScaleModel` (in-memory store)
served by a :class:`~simulators.devices.runner.SimRunner` on its own paced
``SimClock`` line; a shopper process sells on it (Poisson arrivals, the
operator waits for the reading to settle); a host process polls it like the
deployed firmware's uploader (every ``poll_s``, READ_RECORDS then ACK_RECORDS,
devices.md §1.2 e: 60 s) through :func:`~simulators.devices.driver.sim_transact`.
Scales run in polling mode (``no_events``), as the host only listens while it
polls.

``run_fleet(n, hours, ...)`` returns counts that must agree: every sale
committed by a scale is uploaded exactly once by its host (unless the run
ended before the next poll: ``pending`` counts those).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import simpy

from profiles import load_profile
from profiles.device import get_protocol
from profiles.device import messages as m

from .driver import DeviceError, HostSession, sim_transact
from .endpoint import DeviceEndpoint
from .faults import FaultSet
from .refusal import Refused
from .runner import SimRunner
from .scale import ScaleModel
from .storage import MemoryScaleStore


@dataclass
class FleetStats:
    scales: int = 0
    sim_seconds: float = 0.0
    sales: int = 0
    refused: int = 0
    uploaded: int = 0
    duplicates: int = 0
    transactions: int = 0
    host_errors: int = 0
    pending: int = 0
    bytes_on_wire: int = 0
    uploaded_codes: set = field(default_factory=set, repr=False)


def run_fleet(
    n: int = 1000,
    hours: float = 1.0,
    *,
    seed: int = 0,
    sales_per_hour: float = 40.0,
    poll_s: float = 60.0,
    baud: int = 9600,
    profile=None,
    env: simpy.Environment | None = None,
) -> FleetStats:
    """Simulate ``n`` scales for ``hours`` of virtual time; returns :class:`FleetStats`."""
    from simulators.serial import LineSettings, SimClock, open_line

    prof = profile or load_profile()
    proto = get_protocol(profile=prof)
    env = env or simpy.Environment()
    rng = random.Random(seed)
    stats = FleetStats(scales=n)
    codes = prof.codes
    lines = []
    try:
        for i in range(n):
            line = open_line(f"fleet-{seed}-{i}", clock=SimClock(env), settings=LineSettings(baudrate=baud))
            lines.append(line)
            node = codes.node_code("650102", 1 + i // 9000)
            op = codes.operator_code(node, 1 + i % 9000)
            scale = ScaleModel(
                MemoryScaleStore(),
                profile=prof,
                seed=rng.randrange(2**32),
                time_source=lambda: env.now,
                faults=FaultSet(["no_events"]),
                paper_receipts=10**6,
            )
            scale.bind_stall(node, op, f"S{i}")
            batch = codes.trace_code(codes.operator_code("650102999", 1 + i % 9000), 1 + i)
            scale.load_batch(batch, "21111002", "", 10_000_000, 2800)
            runner = SimRunner(env, DeviceEndpoint(proto, scale), line.device)
            env.process(
                _shopper(env, scale, runner, batch, random.Random(rng.randrange(2**32)), sales_per_hour / 3600.0, stats)
            )
            env.process(
                _host(
                    env,
                    line.host,
                    HostSession(proto, seq_start=i % 255),
                    poll_s,
                    random.Random(rng.randrange(2**32)),
                    stats,
                )
            )
        env.run(until=hours * 3600.0)
        stats.sim_seconds = hours * 3600.0
        stats.pending = stats.sales - stats.uploaded
        stats.bytes_on_wire = sum(
            sum(v for k, v in d.items() if k.startswith("bytes_delivered"))
            for ln in lines
            for d in ln.stats.values()
            if isinstance(d, dict)
        )
    finally:
        for ln in lines:
            ln.close()
    return stats


def _shopper(env, scale: ScaleModel, runner: SimRunner, batch: str, rng: random.Random, rate: float, stats: FleetStats):
    settle = scale.metro.settle_s
    while True:
        yield env.timeout(rng.expovariate(rate))
        scale.place(rng.randrange(150, 3000))
        yield env.timeout(settle)
        try:
            scale.sell(batch)
            stats.sales += 1
        except Refused:
            stats.refused += 1
        scale.place(0)
        runner.kick()


def _host(env, end, session: HostSession, poll_s: float, rng: random.Random, stats: FleetStats):
    yield env.timeout(rng.uniform(0, poll_s))  # hosts do not all poll in the same instant
    idx = 1
    while True:
        try:
            while True:
                resp = yield from sim_transact(env, end, session, m.ReadRecordsRequest(idx, 10))
                stats.transactions += 1
                if not resp.records:
                    break
                for r in resp.records:
                    if r.trace_code in stats.uploaded_codes:
                        stats.duplicates += 1
                    stats.uploaded_codes.add(r.trace_code)
                stats.uploaded += len(resp.records)
                yield from sim_transact(env, end, session, m.AckRecordsRequest(resp.records[-1].index))
                stats.transactions += 1
                idx = resp.next_index
                if resp.remaining == 0:
                    break
        except DeviceError:
            stats.host_errors += 1
        yield env.timeout(poll_s)
