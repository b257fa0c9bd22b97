"""The socket backend: pyserial socket:// on 127.0.0.1, one host at a time, unplug."""

from __future__ import annotations

import socket
import time

import pytest
import serial

from simulators.serial import ModemLinesUnsupported, open_line, unplug

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_binds_loopback_only_and_round_trips():
    with open_line("sk", backend="socket", paced=False) as line:
        assert line.host_url.startswith("socket://127.0.0.1:")
        assert line._srv.getsockname()[0] == "127.0.0.1"
        with serial.serial_for_url(line.host_url, timeout=1) as h:
            assert line.wait_connected(2)
            h.write(b"\x00\xff ping")
            line.device.timeout = 1
            assert line.device.read(7) == b"\x00\xff ping"
            line.device.write(b"pong")
            assert h.read(4) == b"pong"
        with pytest.raises(ModemLinesUnsupported):
            line.device.dtr = False


def test_second_connection_is_closed_at_once():
    with open_line("sk2", backend="socket") as line:
        with serial.serial_for_url(line.host_url, timeout=1):
            assert line.wait_connected(2)
            s = socket.create_connection(("127.0.0.1", line.port), timeout=1)
            s.settimeout(1)
            assert s.recv(10) == b""  # closed by the line
            s.close()


def test_host_reconnects_after_closing():
    with open_line("sk3", backend="socket", paced=False) as line:
        for i in range(3):
            with serial.serial_for_url(line.host_url, timeout=1) as h:
                assert line.wait_connected(2)
                line.device.write(b"n%d" % i)
                assert h.read(2) == b"n%d" % i
            deadline = time.monotonic() + 2
            while line.connected and time.monotonic() < deadline:
                time.sleep(0.005)


def test_unplug_closes_the_connection():
    with open_line("sk4", backend="socket", faults=[unplug(at=0.1, duration=0.2)]) as line:
        h = serial.serial_for_url(line.host_url, timeout=1)
        assert line.wait_connected(2)
        with pytest.raises(serial.SerialException):
            h.read(1)
        h.close()
        time.sleep(max(0.0, line.t_open + 0.35 - time.monotonic()))
        with serial.serial_for_url(line.host_url, timeout=1) as h2:
            assert line.wait_connected(2)
            line.device.write(b"back")
            assert h2.read(4) == b"back"
