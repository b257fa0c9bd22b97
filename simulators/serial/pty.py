"""Backend ``pty``: an OS pseudo-terminal under a stable symlink name.

The device side is the pty master (served by the pump, :mod:`.pump`); the host
opens the slave by the symlink (``line.host_url``), e.g. with
``serial.serial_for_url(path, baudrate=9600)`` or any program.

Measured gotchas handled here (../shared/reference/toolchain.md §2):

* the kernel ignores baud rates: pacing is done in software by the pump;
* modem-line ioctls fail on ptys (``ENOTTY``): ``modem_lines_supported`` is
  False and the device end raises :class:`~.line.ModemLinesUnsupported`;
* a master read while no slave fd is open fails with ``EIO``: the line keeps
  its own slave fd open (in raw mode, no echo) for its whole life, so a host
  may open, close and reopen the path freely;
* the host's baud rate and stop bits are read from the slave's termios (shared
  by every fd on the slave) and applied to the host end, so a host at the wrong
  baud rate receives garbage as on a real line.  Linux ptys force CS8 without
  parity whatever the host asks, so data bits and parity cannot be seen: the
  line assumes the host uses the line's;
* ``unplug`` closes the master: a host read raises ``SerialException``
  ("device reports readiness to read but returned no data"); the symlink is
  removed.  Replug creates a new pty and points the same symlink at it; like a
  USB adapter plugged back in, the host must reopen the path.
"""

from __future__ import annotations

import os
import tempfile
import tty
from pathlib import Path

from .line import LineError
from .termios_settings import read_settings, write_settings
from .pump import PumpedLine


def default_link_dir() -> Path:
    """``$TMPDIR/roucai-serial-<uid>``: where pty symlinks go unless ``link=`` is given."""
    return Path(tempfile.gettempdir()) / f"roucai-serial-{os.getuid()}"


class PtyLine(PumpedLine):
    """A line whose host end is a pty slave reached through a symlink."""

    backend = "pty"

    def __init__(
        self, name, settings=None, clock=None, faults=None, trace=None, paced=True, link: str | None = None
    ) -> None:
        if link is None:
            d = default_link_dir()
            d.mkdir(mode=0o700, exist_ok=True)
            link_path = d / name
        else:
            link_path = Path(link)
        if link_path.exists() and not link_path.is_symlink():
            raise LineError(f"{link_path} exists and is not a symlink; refusing to replace it")
        self.link = str(link_path)
        self._master = self._slave = None
        self.pts: str | None = None
        super().__init__(name, settings, clock, faults, trace, paced)
        self._make_pty()
        self._start_pump()

    @property
    def host_url(self) -> str:
        return self.link

    def _make_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF mangling before the host opens
        tty.setraw(master)
        write_settings(slave, self.settings)  # a host that sets nothing gets the line's rate
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.pts = os.ttyname(slave)
        tmp = self.link + ".new"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(self.pts, tmp)
        os.replace(tmp, self.link)  # atomic: the name never dangles while we are plugged in

    def _fd(self):
        return self._master

    def _sync_host_settings(self) -> None:
        slave = self._slave
        seen = read_settings(slave) if slave is not None else None
        if seen is None:
            return
        want = self.settings.with_(baudrate=seen.baudrate, stopbits=seen.stopbits)
        if want != self._pump_end.settings:
            self._pump_end.settings = want

    def _unplug(self) -> None:
        self._remove_link()
        self._close_fds()
        self._outbuf.clear()

    def _replug(self) -> None:
        self._make_pty()

    def _remove_link(self) -> None:
        try:
            if self.pts and os.readlink(self.link) == self.pts:
                os.unlink(self.link)
        except OSError:
            pass

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def _teardown(self) -> None:
        super()._teardown()
        self._remove_link()
