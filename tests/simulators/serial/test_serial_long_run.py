"""A paced line on the SimPy clock late in a long run: a character due at t is readable at t.

Regression: with a fixed 1e-9 tolerance, float rounding at t ≈ 25,000 s made a reader woken at the due time
find the character not yet due, and it waited Timeout(0) forever (seen in a full market day in device mode).
"""

import simpy
import pytest

from simulators.serial import LineSettings, SimClock, open_line


@pytest.mark.parametrize("t0", [24_961.0, 86_400.0 * 3 + 0.123456789, 1e6 + 0.1])
@pytest.mark.parametrize("baud", [9600, 115200])
def test_paced_read_completes_late_in_a_long_virtual_run(t0, baud):
    env = simpy.Environment(initial_time=t0)
    got = {}
    with open_line(f"late-{baud}-{int(t0)}", clock=SimClock(env), settings=LineSettings(baudrate=baud)) as line:

        def device():
            line.device.write(b"x" * 64)
            yield env.timeout(0)

        def host():
            data = yield line.host.read_event(64, timeout=1.0)
            got["data"], got["t"] = data, env.now

        env.process(device())
        env.process(host())
        events = 0
        while env.peek() != float("inf") and events < 10_000:  # bounded: a livelock fails, it does not hang
            env.step()
            events += 1
    assert got.get("data") == b"x" * 64, f"read did not complete ({events} events)"
    assert events < 10_000
    assert got["t"] - t0 == pytest.approx(64 * 10 / baud, rel=0.01)
