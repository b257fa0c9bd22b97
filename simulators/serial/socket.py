"""Backend ``socket``: the host reaches the device over TCP on 127.0.0.1.

``line.host_url`` is ``socket://127.0.0.1:PORT`` (pyserial's own ``socket://``
handler).  One host connection at a time: a second connection is closed at
once.  Pacing and faults are applied by the pump; pyserial's socket handler
ignores baud rates and modem lines, so the line's settings are the device's and
modem lines are unsupported.  ``unplug`` closes the host connection (its reads
raise ``SerialException``) and refuses new ones until replug.
"""

from __future__ import annotations

import socket as _socket
import time

from .pump import PumpedLine


class SocketLine(PumpedLine):
    """A line whose host end is a TCP connection to 127.0.0.1:``port``."""

    backend = "socket"

    def __init__(self, name, settings=None, clock=None, faults=None, trace=None, paced=True, port: int = 0) -> None:
        super().__init__(name, settings, clock, faults, trace, paced)
        srv = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        srv.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        try:
            srv.bind(("127.0.0.1", port))
        except OSError:
            srv.close()
            raise
        srv.listen(2)
        srv.setblocking(False)
        self._srv = srv
        self.port = srv.getsockname()[1]
        self._conn: _socket.socket | None = None
        self._start_pump()

    @property
    def host_url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def connected(self) -> bool:
        """True while a host is connected."""
        return self._conn is not None

    def wait_connected(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` s for a host connection (bytes the device writes before
        are lost, as on an unplugged cable); returns :attr:`connected`."""
        deadline = time.monotonic() + timeout
        while self._conn is None and time.monotonic() < deadline and not self.closed:
            time.sleep(0.002)
        return self._conn is not None

    def _fd(self):
        return self._conn.fileno() if self._conn is not None else None

    def _read_fd(self, fd):
        return self._conn.recv(4096)

    def _extra_rlist(self):
        return [self._srv]

    def _on_extra(self, obj) -> None:
        try:
            conn, _ = self._srv.accept()
        except (BlockingIOError, OSError):
            return
        if self._conn is not None or self._was_unplugged:
            conn.close()  # one cable, one host
            return
        conn.setblocking(False)
        conn.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self._conn = conn

    def _host_gone(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._outbuf.clear()

    def _unplug(self) -> None:
        self._host_gone()

    def _close_fds(self) -> None:
        self._host_gone()
        self._srv.close()
