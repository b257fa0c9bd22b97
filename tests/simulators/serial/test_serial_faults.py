"""Each line fault, its determinism (same seed -> same bytes) and the CLI spec parser."""

from __future__ import annotations

import time

import pytest
import serial
import simpy
from hypothesis import given, settings as hsettings, strategies as st

from simulators.serial import (
    LineSettings,
    SimClock,
    WireTrace,
    bit_errors,
    byte_loss,
    delay,
    fault_from_spec,
    noise_burst,
    open_line,
    split,
    unplug,
)

pytestmark = pytest.mark.usefixtures("no_leaks")
BT = LineSettings(9600).byte_time


def run_virtual(faults, chunks, until=5.0, name="vf", settings=None):
    """Send ``chunks`` device->host on a SimClock line; return (received bytes, arrival times, trace)."""
    env = simpy.Environment()
    trace = WireTrace()
    got, times = bytearray(), []
    with open_line(name, clock=SimClock(env), faults=faults, trace=trace, settings=settings) as line:

        def device(env):
            for c in chunks:
                line.device.write(c)
                yield env.timeout(0.5)

        def host(env):
            while True:
                b = yield line.host.read_event(1, timeout=until)
                if not b:
                    return
                got.extend(b)
                times.append(env.now)

        env.process(device(env))
        env.process(host(env))
        env.run(until=until + 1)
    return bytes(got), times, trace.records


DATA = bytes(range(256)) * 2


def test_byte_loss_drops_about_rate_and_keeps_order():
    got, _, _ = run_virtual([byte_loss(0.1, seed=1)], [DATA])
    assert 0.8 * len(DATA) < len(got) < 0.97 * len(DATA)
    # what survives is a subsequence of what was sent
    it = iter(DATA)
    assert all(b in it for b in got)


def test_bit_errors_flip_bits_at_about_rate():
    got, _, _ = run_virtual([bit_errors(0.01, seed=2)], [DATA])
    assert len(got) == len(DATA)
    flipped = sum(bin(a ^ b).count("1") for a, b in zip(got, DATA))
    assert 0.004 * 8 * len(DATA) < flipped < 0.02 * 8 * len(DATA)


def test_split_inserts_a_gap_inside_each_write():
    got, times, _ = run_virtual([split(0.05, every=4)], [b"ABCDEFGH"])
    assert got == b"ABCDEFGH"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[3] == pytest.approx(0.05 + BT)  # after the 4th byte
    assert gaps[0] == pytest.approx(BT)


def test_split_at_seeded_random_point_is_reproducible():
    a = run_virtual([split(0.02, seed=5)], [b"0123456789"])[1]
    b = run_virtual([split(0.02, seed=5)], [b"0123456789"])[1]
    assert a == b and max(y - x for x, y in zip(a, a[1:])) == pytest.approx(0.02 + BT)


def test_delay_shifts_arrival_not_content():
    got, times, _ = run_virtual([delay(0.3)], [b"abc"])
    assert got == b"abc"
    assert times[0] == pytest.approx(0.3 + BT)


def test_noise_burst_garbles_the_window_and_puts_bytes_on_the_idle_line():
    # writes at 0.0, 0.5, 1.0; burst covers the 0.5 write and idle time after it
    got, times, _ = run_virtual([noise_burst(0.2, at=0.5, seed=3)], [b"A" * 20] * 3)
    before = [b for b, t in zip(got, times) if t < 0.5]
    inside = [b for b, t in zip(got, times) if 0.5 <= t < 0.7 + BT]
    after = [b for b, t in zip(got, times) if t >= 1.0]
    assert bytes(before) == b"A" * 20 and bytes(after) == b"A" * 20
    assert len(inside) > 20  # idle-line noise added
    assert inside.count(ord("A")) < 5


def test_unplug_loses_bytes_in_the_window_only():
    got, _, _ = run_virtual([unplug(at=0.4, duration=0.3)], [b"one", b"two", b"three"])
    assert got == b"onethree"


def test_unplug_host_gets_serial_exception_then_replug_restores():
    with open_line("unp", faults=[unplug(at=0.1, duration=0.2)]) as line:
        with serial.serial_for_url(line.host_url, timeout=1) as h:
            line.device.write(b"before")
            assert h.read(6) == b"before"
            t0 = time.monotonic()
            with pytest.raises(serial.SerialException, match="disconnected"):
                h.read(1)  # blocks into the unplug window
            assert time.monotonic() - t0 < 0.3
            with pytest.raises(serial.SerialException):
                h.write(b"x")
            time.sleep(max(0.0, line.t_open + 0.31 - time.monotonic()))
            line.device.write(b"after")
            assert h.read(5) == b"after"


def test_faults_are_scoped_to_a_direction():
    env = simpy.Environment()
    with open_line("dirf", clock=SimClock(env), faults=[byte_loss(1.0, direction="host->device")]) as line:
        line.device.write(b"down")
        line.host.write(b"up")
        env.run(until=1)
        assert line.host.read(10) == b"down"
        assert line.device.read(10) == b""
        assert line.stats["host->device"]["bytes_lost"] == 2


chunks_st = st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=5)


@given(chunks_st, st.integers(0, 2**32), st.floats(0, 0.3))
@hsettings(max_examples=25, deadline=None)
def test_same_seed_same_corrupted_bytes_and_trace(chunks, seed, rate):
    faults = [
        byte_loss(rate, seed=seed),
        bit_errors(rate / 4, seed=seed),
        split(0.01, seed=seed),
        noise_burst(0.1, at=0.2, seed=seed),
    ]
    a = run_virtual(faults, chunks, until=3)
    b = run_virtual(faults, chunks, until=3)
    assert a[0] == b[0] and a[1] == b[1]
    strip = lambda recs: [{k: v for k, v in r.items() if k != "wall_time"} for r in recs]
    assert strip(a[2]) == strip(b[2])


def test_different_seeds_differ():
    a = run_virtual([bit_errors(0.05, seed=1)], [DATA])[0]
    b = run_virtual([bit_errors(0.05, seed=2)], [DATA])[0]
    assert a != b


def test_fault_from_spec():
    assert fault_from_spec("byte_loss:rate=0.01,seed=3") == byte_loss(0.01, seed=3)
    assert fault_from_spec("split:gap_s=0.02,every=8", default_seed=9) == split(0.02, every=8, seed=9)
    assert fault_from_spec("unplug:at=5,duration=2") == unplug(5, 2)
    assert fault_from_spec("delay:seconds=0.1,direction=host->device") == delay(0.1, "host->device")
    for bad in [
        "nothing",
        "byte_loss:rate",
        "byte_loss:speed=3",
        "byte_loss:rate=2",
        "delay",
        "split:gap_s=-1",
        "delay:seconds=0.1,direction=sideways",
    ]:
        with pytest.raises(ValueError):
            fault_from_spec(bad)
