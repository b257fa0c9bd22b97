"""Host programs never know which backend they have: one pyserial function, three backends."""

from __future__ import annotations

import time

import pytest
import serial

from simulators.serial import LineSettings, open_line

pytestmark = pytest.mark.usefixtures("no_leaks")


def host_program(url: str, baud: int) -> bytes:
    """What a vendor's host tool does: open by URL, send a request, read a framed answer."""
    with serial.serial_for_url(url, baudrate=baud, timeout=2) as port:
        port.reset_input_buffer()
        port.write(b"\x02READ 1\x03")
        head = port.read(1)
        return head + port.read_until(b"\x03")


def device_answers(line, request: bytes, answer: bytes) -> None:
    line.device.timeout = 3
    assert line.device.read(len(request)) == request
    line.device.write(answer)


@pytest.mark.parametrize("backend", ["sim", "pty", "socket"])
def test_same_host_code_on_every_backend(backend):
    import threading

    answer = "\x02SALE 猪肉 1.234kg 24.68元\x03".encode("gb18030")
    with open_line(f"same-{backend}", backend=backend, settings=LineSettings(115200)) as line:
        t = threading.Thread(target=device_answers, args=(line, b"\x02READ 1\x03", answer))
        t.start()
        got = host_program(line.host_url, 115200)
        t.join(5)
        assert got == answer


@pytest.mark.parametrize("backend", ["sim", "pty", "socket"])
def test_every_backend_is_paced(backend):
    n = 96  # 100 ms at 9600 8N1
    with open_line(f"paced-{backend}", backend=backend, settings=LineSettings(9600)) as line:
        with serial.serial_for_url(line.host_url, baudrate=9600, timeout=2) as h:
            if backend == "socket":
                assert line.wait_connected(2)
            t0 = time.monotonic()
            line.device.write(b"p" * n)
            assert h.read(n) == b"p" * n
            assert 0.095 <= time.monotonic() - t0 < 0.2
