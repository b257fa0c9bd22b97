"""Scales under SimPy virtual time: sales go over paced lines and are uploaded exactly once."""

from __future__ import annotations

import simpy

from profiles.device import get_protocol
from profiles.device import messages as m
from simulators.devices.driver import DeviceNak, HostSession, sim_transact
from simulators.devices.endpoint import DeviceEndpoint
from simulators.devices.fleet import run_fleet
from simulators.devices.runner import SimRunner
from simulators.serial import LineSettings, SimClock, open_line

from devices_helpers import BATCH, bound_scale


def test_fleet_uploads_every_sale_once_and_is_deterministic():
    a = run_fleet(5, 0.25, seed=3, sales_per_hour=120, poll_s=30)
    b = run_fleet(5, 0.25, seed=3, sales_per_hour=120, poll_s=30)
    assert a.sales > 100 and a.duplicates == 0 and a.host_errors == 0
    assert a.uploaded + a.pending == a.sales and a.pending <= 5 * 10
    assert (a.sales, a.uploaded, a.transactions, a.bytes_on_wire) == (
        b.sales,
        b.uploaded,
        b.transactions,
        b.bytes_on_wire,
    )


def test_sim_transact_takes_the_wire_time():
    env = simpy.Environment()
    proto = get_protocol()
    scale = bound_scale(time_source=lambda: env.now)
    with open_line("vt-1", clock=SimClock(env), settings=LineSettings(baudrate=9600)) as line:
        SimRunner(env, DeviceEndpoint(proto, scale), line.device)
        out = {}

        def host():
            s = HostSession(proto, seq_start=1)
            out["ident"] = yield from sim_transact(env, line.host, s, m.IdentifyRequest())
            out["t"] = env.now
            try:
                yield from sim_transact(env, line.host, s, m.SellRequest(BATCH))
            except DeviceNak as e:
                out["nak"] = e.reason

        env.process(host())
        env.run(until=5)
    req = len(proto.encode(m.IdentifyRequest(), 1))
    resp = len(proto.encode(out["ident"], 1))
    assert out["ident"].device_kind == "scale" and out["nak"] == "WEIGHT_INVALID"
    assert abs(out["t"] - (req + resp) * 10 / 9600) < 0.002  # virtual time = bytes on a 9600 8N1 line
