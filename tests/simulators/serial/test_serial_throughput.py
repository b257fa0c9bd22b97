"""Measured line throughput within +-2 % of theory (8N1) at 9600 and 115200 baud, sim and pty.

Device->host: the device writes N bytes at once; the host reads them with plain
pyserial; rate = N / (time of the last byte - time of the write).  The host
never sees the data faster than the wire allows (pacing) nor much slower
(scheduling latency, a few ms, is the only error term: < 2 % of the window).
"""

from __future__ import annotations

import time

import pytest
import serial

from simulators.serial import LineSettings, open_line

pytestmark = pytest.mark.usefixtures("no_leaks")


def measure_device_to_host(backend: str, baud: int, seconds: float) -> tuple[float, float]:
    s = LineSettings(baud)
    n = int(s.bytes_per_second * seconds)
    with open_line(f"tp-{backend}-{baud}", backend=backend, settings=s) as line:
        with serial.serial_for_url(line.host_url, baudrate=baud, timeout=seconds * 2 + 1) as h:
            if backend == "socket":
                line.wait_connected(2)
            payload = bytes(i & 0xFF for i in range(n))
            t0 = time.monotonic()
            line.device.write(payload)
            got = h.read(n)
            elapsed = time.monotonic() - t0
    assert got == payload
    return n / elapsed, s.bytes_per_second


def measure_host_to_device(backend: str, baud: int, seconds: float) -> tuple[float, float]:
    s = LineSettings(baud)
    n = int(s.bytes_per_second * seconds)
    with open_line(f"tpu-{backend}-{baud}", backend=backend, settings=s) as line:
        with serial.serial_for_url(line.host_url, baudrate=baud, timeout=1) as h:
            line.device.timeout = seconds * 2 + 1
            t0 = time.monotonic()
            h.write(b"u" * n)
            got = line.device.read(n)
            elapsed = time.monotonic() - t0
    assert got == b"u" * n
    return n / elapsed, s.bytes_per_second


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sim", "pty"])
def test_9600_within_2_percent_over_2_5_seconds(backend):
    rate, theory = measure_device_to_host(backend, 9600, 2.5)
    assert rate == pytest.approx(theory, rel=0.02), f"{backend}: {rate:.1f} B/s vs {theory:.1f}"


@pytest.mark.parametrize("backend", ["sim", "pty", "socket"])
def test_115200_within_2_percent(backend):
    rate, theory = measure_device_to_host(backend, 115200, 0.6)
    assert rate == pytest.approx(theory, rel=0.02), f"{backend}: {rate:.1f} B/s vs {theory:.1f}"


@pytest.mark.parametrize("backend", ["sim", "pty"])
def test_host_to_device_115200_within_2_percent(backend):
    rate, theory = measure_host_to_device(backend, 115200, 0.6)
    assert rate == pytest.approx(theory, rel=0.02), f"{backend}: {rate:.1f} B/s vs {theory:.1f}"
