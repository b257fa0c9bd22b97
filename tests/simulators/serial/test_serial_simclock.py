"""Lines on SimPy virtual time: events, pacing in env time, many lines in one thread."""

from __future__ import annotations

import threading
import time

import pytest
import simpy

from simulators.serial import LineError, LineSettings, SimClock, open_line

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_read_event_fires_after_the_paced_time():
    env = simpy.Environment()
    with open_line("v", clock=SimClock(env), settings=LineSettings(9600)) as line:
        out = []

        def device(env):
            req = yield line.device.read_event(5)
            out.append((env.now, req))
            line.device.write(b"ack:" + req)

        def host(env):
            line.host.write(b"hello")
            got = yield line.host.read_event(9)
            out.append((env.now, got))

        env.process(device(env))
        env.process(host(env))
        env.run()
        bt = 1 / 960
        assert out[0] == (pytest.approx(5 * bt), b"hello")
        assert out[1] == (pytest.approx(14 * bt), b"ack:hello")


def test_read_until_event_and_timeouts():
    env = simpy.Environment()
    with open_line("vu", clock=SimClock(env)) as line:
        out = []

        def device(env):
            out.append((yield line.device.read_until_event(b"\r\n", timeout=1)))
            out.append((yield line.device.read_until_event(b"\r\n", max_size=3, timeout=1)))
            out.append((yield line.device.read_event(10, timeout=0.5)))
            out.append(env.now)

        env.process(device(env))
        line.host.write(b"AT\r\nlonger")
        env.run(until=5)
        assert out[:3] == [b"AT\r\n", b"lon", b"ger"]
        assert out[3] == pytest.approx(0.5 + 4 / 960, abs=1e-9) or out[3] >= 0.5


def test_sim_clock_refuses_pty_and_blocking_url():
    import serial

    env = simpy.Environment()
    with pytest.raises(LineError):
        open_line("vp", backend="pty", clock=SimClock(env))
    with open_line("vs", clock=SimClock(env)) as line:
        with pytest.raises(serial.SerialException, match="virtual time"):
            serial.serial_for_url(line.host_url)
        with pytest.raises(LineError):
            open_line("rt-ev").device.read_event(1)
    from simulators.serial import get_line

    get_line("rt-ev").close()


@pytest.mark.parametrize("n_lines", [1000])
def test_a_thousand_lines_echo_in_one_thread(n_lines):
    env = simpy.Environment()
    threads = threading.active_count()
    lines = [open_line(f"scale-{i:04d}", clock=SimClock(env)) for i in range(n_lines)]
    done = []

    def device(env, end):
        while True:
            req = yield end.read_until_event(b"\n", timeout=120)
            if not req:
                return
            end.write(b"OK " + req)

    def host(env, end, i):
        for k in range(5):
            end.write(f"W{i}:{k}\n".encode())
            ans = yield end.read_until_event(b"\n", timeout=5)
            assert ans == f"OK W{i}:{k}\n".encode()
            yield env.timeout(10)
        done.append(i)

    for i, line in enumerate(lines):
        env.process(device(env, line.device))
        env.process(host(env, line.host, i))
    t0 = time.perf_counter()
    env.run(until=60)
    wall = time.perf_counter() - t0
    for line in lines:
        line.close()
    assert len(done) == n_lines
    assert threading.active_count() == threads
    assert wall < 10
