"""The in-process line ("sim" backend) through pyserial's sim:// handler and the device End."""

from __future__ import annotations

import time

import pytest
import serial

from simulators.serial import LineError, LineSettings, get_line, open_line, register

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_register_is_idempotent():
    register()
    register()
    assert serial.protocol_handler_packages.count("simulators.serial.urlhandler") == 1


def test_round_trip_both_directions():
    with open_line("rt") as line:
        with serial.serial_for_url(line.host_url, baudrate=9600, timeout=1) as h:
            line.device.timeout = 1
            h.write(b"\x02ping\x03")
            assert line.device.read(6) == b"\x02ping\x03"
            line.device.write(bytes(range(256)))
            assert h.read(256) == bytes(range(256))


def test_paced_delivery_takes_the_wire_time():
    with open_line("pace", settings=LineSettings(9600)) as line:
        with serial.serial_for_url(line.host_url, baudrate=9600, timeout=2) as h:
            t0 = time.monotonic()
            line.device.write(b"x" * 48)  # 48 * 10 bits / 9600 = 50 ms
            assert h.in_waiting == 0  # nothing has arrived yet
            assert h.read(48) == b"x" * 48
            assert 0.045 <= time.monotonic() - t0 < 0.2


def test_timeouts_zero_float_and_partial():
    with open_line("to") as line:
        with serial.serial_for_url(line.host_url, timeout=0) as h:
            assert h.read(10) == b""  # non-blocking
            h.timeout = 0.1
            t0 = time.monotonic()
            line.device.write(b"abc")
            assert h.read(10) == b"abc"  # partial after timeout
            assert 0.09 <= time.monotonic() - t0 < 0.5


def test_device_read_timeout_none_blocks_until_data():
    import threading

    with open_line("blk") as line:
        with serial.serial_for_url(line.host_url) as h:
            line.device.timeout = None
            threading.Timer(0.05, h.write, args=(b"z",)).start()
            t0 = time.monotonic()
            assert line.device.read(1) == b"z"
            assert time.monotonic() - t0 >= 0.04


def test_mismatched_baud_gives_garbage_and_matching_again_cures_it():
    with open_line("mis", settings=LineSettings(9600)) as line:
        with serial.serial_for_url(line.host_url, baudrate=4800, timeout=0.5) as h:
            line.device.write(b"hello")
            got = h.read(5)
            assert got != b"hello"
            h.baudrate = 9600  # _reconfigure_port applies it
            line.device.write(b"hello")
            assert h.read(5) == b"hello"


@pytest.mark.parametrize("host_kw", [dict(bytesize=7), dict(parity="E"), dict(baudrate=19200)])
def test_each_mismatched_setting_garbles_deterministically(host_kw):
    results = []
    for i in range(2):
        with open_line(f"mis{i}", settings=LineSettings(9600), paced=False) as line:
            with serial.serial_for_url(line.host_url, timeout=0.2, **{"baudrate": 9600, **host_kw}) as h:
                line.device.write(FRAME)
                results.append((h.read(64), line.stats["device->host"]))
    assert results[0] == results[1]
    got, stats = results[0]
    assert got != FRAME
    assert stats["framing_errors"] + stats["parity_errors"] > 0


FRAME = "\x02猪肉 1.234kg\x03".encode("gb18030")  # GB18030 text has high bits set


def test_parity_errors_are_counted():
    with open_line("par", settings=LineSettings(9600, 8, "E"), paced=False) as line:
        with serial.serial_for_url(line.host_url, parity="O", timeout=0.2) as h:
            line.device.write(b"abcd")
            assert h.read(4) == b"abcd"
            assert line.stats["device->host"]["parity_errors"] == 4


def test_null_modem_wiring():
    with open_line("modem") as line:
        with serial.serial_for_url(line.host_url) as h:
            assert line.modem_lines_supported
            h.rts = False
            h.dtr = True
            assert line.device.cts is False and line.device.dsr is True and line.device.cd is True
            line.device.rts = True
            line.device.dtr = False
            assert h.cts is True and h.dsr is False and h.cd is False and h.ri is False


def test_reset_buffers_and_out_waiting():
    with open_line("rst", settings=LineSettings(1200)) as line:
        with serial.serial_for_url(line.host_url, baudrate=1200, timeout=0.3) as h:
            line.device.write(b"x" * 100)  # ~0.83 s at 1200 baud
            assert line.device.out_waiting > 90
            line.device.reset_output_buffer()
            assert h.read(100) == b""  # cancelled before reaching the wire
            h.write(b"abc")
            time.sleep(0.05)
            line.device.reset_input_buffer()
            line.device.timeout = 0
            assert line.device.read(10) == b""


def test_flush_waits_for_the_wire():
    with open_line("fl", settings=LineSettings(9600)) as line:
        t0 = time.monotonic()
        line.device.write(b"y" * 96)  # 100 ms
        line.device.flush()
        assert time.monotonic() - t0 >= 0.095


def test_names_are_unique_and_validated():
    with open_line("dup") as line:
        assert get_line("dup") is line
        with pytest.raises(LineError):
            open_line("dup")
    for bad in ["", "a/b", "-x", "x" * 65, "sp ace"]:
        with pytest.raises(LineError):
            open_line(bad)
    with pytest.raises(LineError):
        get_line("dup")
    with pytest.raises(LineError):
        open_line("x", backend="usb")


def test_unknown_name_is_a_serial_exception_not_a_traceback_in_pyserial():
    with pytest.raises(serial.SerialException, match="no open line"):
        serial.serial_for_url("sim://nobody-here")
    with pytest.raises(serial.SerialException, match="sim://NAME"):
        serial.serial_for_url("sim://x/y?baud=3")


def test_only_one_host_at_a_time_and_reopen_works():
    with open_line("one") as line:
        h = serial.serial_for_url(line.host_url)
        with pytest.raises(serial.SerialException):
            serial.serial_for_url(line.host_url)
        h.close()
        with serial.serial_for_url(line.host_url, timeout=0.5) as h2:
            line.device.write(b"ok")
            assert h2.read(2) == b"ok"


def test_closed_line_raises_serial_exception_for_both_ends():
    line = open_line("gone")
    h = serial.serial_for_url(line.host_url, timeout=1)
    line.close()
    line.close()  # idempotent
    with pytest.raises(serial.SerialException):
        h.read(1)
    with pytest.raises(serial.SerialException):
        line.device.write(b"x")
    h.close()


def test_close_wakes_a_blocked_reader():
    import threading

    line = open_line("wake")
    line.device.timeout = None
    err = []

    def reader():
        try:
            line.device.read(1)
        except serial.SerialException as e:
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.05)
    line.close()
    t.join(2)
    assert not t.is_alive() and err


def test_device_read_until():
    with open_line("ru") as line:
        with serial.serial_for_url(line.host_url) as h:
            line.device.timeout = 1
            h.write(b"one\ntwo")
            assert line.device.read_until(b"\n") == b"one\n"
            line.device.timeout = 0.05
            assert line.device.read_until(b"\n") == b"two"
