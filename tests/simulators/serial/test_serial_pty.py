"""The pty backend: symlink lifecycle, EIO gotcha, reopen, unplug/replug, modem lines unsupported."""

from __future__ import annotations

import os
import time

import pytest
import serial

from simulators.serial import LineError, ModemLinesUnsupported, open_line, unplug

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_symlink_points_at_a_pts_and_is_removed_on_close(tmp_path):
    link = tmp_path / "ttySCALE"
    line = open_line("pt", backend="pty", link=str(link))
    assert line.host_url == str(link)
    assert os.readlink(link).startswith("/dev/pts/") and os.path.exists(link)
    line.close()
    assert not os.path.lexists(link)


def test_default_link_is_under_a_private_temp_dir():
    with open_line("pt-default", backend="pty") as line:
        d = os.path.dirname(line.host_url)
        assert os.path.basename(line.host_url) == "pt-default"
        assert os.stat(d).st_mode & 0o777 == 0o700


def test_stale_symlink_is_replaced_but_a_file_is_refused(tmp_path):
    link = tmp_path / "tty"
    os.symlink("/dev/pts/99999", link)
    with open_line("pt-stale", backend="pty", link=str(link)):
        assert os.readlink(link) != "/dev/pts/99999"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(LineError):
        open_line("pt-file", backend="pty", link=str(f))


def test_raw_pty_master_read_without_slave_is_eio():
    """The gotcha the backend avoids by keeping its own slave fd open."""
    m, s = os.openpty()
    os.close(s)
    with pytest.raises(OSError) as e:
        os.read(m, 1)
    os.close(m)
    assert e.value.errno == 5


def test_host_can_open_close_reopen_without_eio_and_binary_is_clean():
    frame = bytes([0x00, 0x11, 0x13, 0x0D, 0x0A, 0x03, 0x04, 0x1A, 0xFF, 0x7F, 0x1B]) * 3
    with open_line("pt-re", backend="pty", paced=False) as line:
        line.device.timeout = 1
        for _ in range(3):
            with serial.serial_for_url(line.host_url, baudrate=9600, timeout=1) as h:
                h.write(frame)
                assert line.device.read(len(frame)) == frame
                line.device.write(frame)
                assert h.read(len(frame)) == frame
        line.device.write(b"before-open")  # no host: bytes wait in the slave's queue ...
        time.sleep(0.05)
        line.device.timeout = 0
        assert line.device.read(100) == b""  # ... and are not echoed back (slave is raw)
        with serial.serial_for_url(line.host_url, timeout=0.1) as h:
            assert h.read(11) == b""  # pyserial flushes input on open, as on a real port


def test_modem_lines_are_reported_unsupported():
    with open_line("pt-modem", backend="pty") as line:
        assert line.modem_lines_supported is False
        with pytest.raises(ModemLinesUnsupported):
            line.device.rts = True
        with pytest.raises(ModemLinesUnsupported):
            _ = line.device.cts
        with serial.serial_for_url(line.host_url) as h:
            with pytest.raises(OSError):  # the kernel says the same (ENOTTY)
                _ = h.cts


def test_closing_the_line_gives_the_host_a_serial_exception():
    line = open_line("pt-close", backend="pty")
    h = serial.serial_for_url(line.host_url, timeout=1)
    line.close()
    with pytest.raises(serial.SerialException):
        h.read(1)
    h.close()


def test_unplug_destroys_pty_and_replug_restores_the_same_name(tmp_path):
    link = str(tmp_path / "ttyU")
    with open_line("pt-unplug", backend="pty", link=link, faults=[unplug(at=0.15, duration=0.3)]) as line:
        first = os.readlink(link)
        h = serial.serial_for_url(link, timeout=1)
        with pytest.raises(serial.SerialException):
            h.read(1)  # the cable goes at 0.15 s
        h.close()
        assert not os.path.lexists(link)  # like /dev/ttyUSB0 disappearing
        deadline = time.monotonic() + 2
        while not os.path.lexists(link) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.path.lexists(link)
        assert first.startswith("/dev/pts/")
        with serial.serial_for_url(link, timeout=1) as h2:
            line.device.write(b"back")
            assert h2.read(4) == b"back"


def test_host_baud_rate_is_seen_through_termios_and_mismatch_garbles():
    from simulators.serial import LineSettings

    with open_line("pt-baud", backend="pty", settings=LineSettings(9600)) as line:

        def device_sees(baud):  # the pump re-reads the host's termios periodically: wait for it (bounded)
            deadline = time.monotonic() + 5
            while line._pump_end.settings.baudrate != baud and time.monotonic() < deadline:
                time.sleep(0.005)
            assert line._pump_end.settings.baudrate == baud

        with serial.serial_for_url(line.host_url, baudrate=4800, timeout=0.5) as h:
            device_sees(4800)
            line.device.write(b"hello")
            assert h.read(5) not in (b"hello", b"")
            h.baudrate = 9600
            device_sees(9600)
            line.device.write(b"hello")
            assert h.read(5) == b"hello"
            h.write(b"\x02ok\x03")
            line.device.timeout = 0.5
            assert line.device.read(4) == b"\x02ok\x03"


def test_termios_settings_round_trip_on_a_pty():
    from simulators.serial import LineSettings
    from simulators.serial.termios_settings import read_settings, write_settings

    m, s = os.openpty()
    try:
        write_settings(s, LineSettings(115200, stopbits=2))
        assert read_settings(s) == LineSettings(115200, stopbits=2)
        with serial.Serial(os.ttyname(s), baudrate=12345):  # non-standard rate: BOTHER
            assert read_settings(s).baudrate == 12345
    finally:
        os.close(m)
        os.close(s)
