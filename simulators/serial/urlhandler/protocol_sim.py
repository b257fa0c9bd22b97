"""pyserial handler for ``sim://NAME``: the host end of the in-process line NAME.

URL format: ``sim://NAME`` (no options).  The line must have been opened with
``open_line(NAME, backend="sim")`` on a realtime clock in this process.
The host's UART settings are pyserial's ``baudrate``, ``bytesize``, ``parity``
and ``stopbits``; they are applied to the line on open and on every change
(``_reconfigure_port``), so a host at 4800 baud talking to a device at 9600
receives garbage, as on a real line.  ``rts``/``dtr`` drive the device's
``cts``/``dsr``; ``cts``/``dsr``/``cd``/``ri`` read the device's lines.
Only one pyserial object may hold a line's host end at a time.
"""

from __future__ import annotations

import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from simulators.serial.line import LineError
from simulators.serial.registry import get_line
from simulators.serial.settings import LineSettings


class Serial(SerialBase):
    """The host end of a simulated line, as a pyserial port."""

    BAUDRATES = (
        50,
        75,
        110,
        134,
        150,
        200,
        300,
        600,
        1200,
        1800,
        2400,
        4800,
        9600,
        19200,
        38400,
        57600,
        115200,
        230400,
        460800,
        921600,
    )

    def __init__(self, *args, **kwargs):
        self._line = None
        self._end = None
        super().__init__(*args, **kwargs)

    # --- open / close ------------------------------------------------------------
    def open(self):
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        line = self._line_from_url(self.port)
        if line.host_attached:
            raise SerialException(f"sim://{line.name} is already open by another host port")
        self._line, self._end = line, line.host
        self._end._open = True
        self._reconfigure_port()
        line.host_attached = True
        self.is_open = True
        if not self._dsrdtr:
            self._update_dtr_state()
        if not self._rtscts:
            self._update_rts_state()

    @staticmethod
    def _line_from_url(url: str):
        parts = urllib.parse.urlsplit(url)
        form = 'expected a string in the form "sim://NAME"'
        if parts.scheme != "sim":
            raise SerialException(f"{form}: not starting with sim:// ({parts.scheme!r})")
        if parts.query or parts.path not in ("", "/"):
            raise SerialException(f"{form}: no path or options are accepted ({url!r})")
        try:
            line = get_line(parts.netloc)
        except LineError as e:
            raise SerialException(f"{e}; open it first (simulators.serial.open_line or roucai device)") from None
        if line.backend != "sim":
            raise SerialException(f"line {line.name!r} is a {line.backend} line; open {line.host_url}")
        if not line.clock.realtime:
            raise SerialException(f"line {line.name!r} runs on SimPy virtual time; use line.host")
        return line

    def close(self):
        if self.is_open:
            self.is_open = False
            if self._line is not None:
                self._line.host_attached = False
        self._line = self._end = None
        super().close()

    def _reconfigure_port(self):
        if self._end is None:
            return
        try:
            s = LineSettings(
                baudrate=int(self._baudrate),
                bytesize=int(self._bytesize),
                parity=str(self._parity),
                stopbits=1.5 if self._stopbits == 1.5 else int(self._stopbits),
            )
        except (TypeError, ValueError) as e:
            raise ValueError(f"invalid settings for sim://: {e}") from None
        self._end.settings = s

    # --- data ------------------------------------------------------------------------
    def _live(self):
        if not self.is_open or self._end is None:
            raise PortNotOpenError()
        return self._end

    @property
    def in_waiting(self):
        return self._live().in_waiting

    @property
    def out_waiting(self):
        return self._live().out_waiting

    def read(self, size=1):
        end = self._live()
        end.timeout = self._timeout
        return end.read(size)

    def write(self, data):
        end = self._live()
        return end.write(bytes(memoryview(data).tobytes() if not isinstance(data, bytes) else data))

    def flush(self):
        if self.is_open and self._end is not None:  # io.RawIOBase.close() calls flush()
            self._end.flush()

    def reset_input_buffer(self):
        self._live().reset_input_buffer()

    def reset_output_buffer(self):
        self._live().reset_output_buffer()

    def send_break(self, duration=0.25):
        self._live()

    def _update_break_state(self):
        self._live()

    # --- modem lines (null modem to the device end) -----------------------------------
    def _update_rts_state(self):
        self._live().rts = self._rts_state

    def _update_dtr_state(self):
        self._live().dtr = self._dtr_state

    @property
    def cts(self):
        return self._live().cts

    @property
    def dsr(self):
        return self._live().dsr

    @property
    def ri(self):
        return self._live().ri

    @property
    def cd(self):
        return self._live().cd

    def fileno(self):
        raise SerialException("sim:// ports have no file descriptor; use the pty backend for fd-based clients")
