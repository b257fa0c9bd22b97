"""A thread that joins a line's host side to an OS file descriptor (pty master or TCP socket).

The kernel does not pace ptys or sockets, so pacing and faults stay in the
line's channels: the pump writes device->host characters to the fd when their
time has come (granularity ~0.5 ms), and feeds bytes the host writes into the
host->device channel, which paces them towards the device as if they had left
a UART at the line's baud rate.  A host that does not read loses bytes beyond
:data:`OUT_LIMIT` (counted as ``overruns``), like a UART whose buffer is full;
the pump never blocks.
"""

from __future__ import annotations

import os
import select
import threading

from .line import Line

#: Bytes held for a host that is not reading before further bytes are dropped.
OUT_LIMIT = 4096
#: Longest sleep of the pump (s); bounds the reaction time to close().
MAX_WAIT = 0.25
#: Shortest sleep (s): characters due within this window are sent together.
MIN_WAIT = 0.0005


class PumpedLine(Line):
    """A line whose host end is an OS fd served by a pump thread (backends pty, socket).

    Subclasses provide :meth:`_fd` (current fd or ``None``), :meth:`_read_fd`,
    :meth:`_extra_rlist` / :meth:`_on_extra` (e.g. a listening socket),
    :meth:`_host_gone`, :meth:`_unplug`, :meth:`_replug`, :meth:`_close_fds`.
    """

    modem_lines_supported = False

    def _start_pump(self) -> None:
        self._pump_end = self.host
        self.host = None  # the host is the OS program, not an object here
        self._outbuf = bytearray()
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.d2h.listeners.append(self._wake)
        self._was_unplugged = False
        self._boundaries = sorted(
            {self.t_open + f.at for f in self._unplugs} | {self.t_open + f.at + f.duration for f in self._unplugs}
        )
        self._thread = threading.Thread(target=self._run, name=f"serial-pump-{self.name}", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    # --- hooks ------------------------------------------------------------------------
    def _fd(self) -> int | None:
        raise NotImplementedError

    def _read_fd(self, fd: int) -> bytes:
        """Read what the host wrote; ``b""`` means the host went away."""
        return os.read(fd, 4096)

    def _extra_rlist(self) -> list:
        return []

    def _on_extra(self, obj) -> None:
        pass

    def _host_gone(self) -> None:
        pass

    def _unplug(self) -> None:
        pass

    def _replug(self) -> None:
        pass

    def _close_fds(self) -> None:
        pass

    def _sync_host_settings(self) -> None:
        """Follow settings the host program chose, where the backend can see them."""

    # --- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        ch_out, ch_in = self.d2h, self.h2d
        clock = self.clock
        while not self._stop:
            now = clock.now()
            unplugged = self.unplugged(now)
            if unplugged != self._was_unplugged:
                self._was_unplugged = unplugged
                (self._unplug if unplugged else self._replug)()
                if self.trace is not None:
                    self.trace.event(now - self.t_open, "unplug" if unplugged else "replug")
            self._sync_host_settings()
            with ch_out.cond:
                ch_out.promote(now)
                data = ch_out.take(len(ch_out.ready)) if ch_out.ready else b""
                nd = ch_out.next_due()
            fd = self._fd()
            if data:
                if fd is None:
                    ch_out.stats["overruns"] += len(data)
                else:
                    self._outbuf += data
            if self._outbuf and fd is not None:
                self._flush_out(fd, ch_out)
            wait = MAX_WAIT if nd is None else min(MAX_WAIT, max(MIN_WAIT, nd - now))
            for b in self._boundaries:
                if b > now:
                    wait = min(wait, max(MIN_WAIT, b - now))
                    break
            rlist = [self._wake_r] + self._extra_rlist() + ([fd] if fd is not None else [])
            wlist = [fd] if (fd is not None and self._outbuf) else []
            try:
                r, _, _ = select.select(rlist, wlist, [], wait)
            except (OSError, ValueError):  # fd closed under us (unplug/close)
                continue
            for obj in r:
                if obj == self._wake_r:
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                elif obj == fd:
                    try:
                        got = self._read_fd(fd)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        got = b""
                    if got:
                        self._sync_host_settings()
                        ch_in.write(got)
                    else:
                        self._host_gone()
                else:
                    self._on_extra(obj)

    def _flush_out(self, fd: int, ch) -> None:
        try:
            n = os.write(fd, self._outbuf)
            del self._outbuf[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            ch.stats["overruns"] += len(self._outbuf)
            self._outbuf.clear()
            return
        if len(self._outbuf) > OUT_LIMIT:
            ch.stats["overruns"] += len(self._outbuf) - OUT_LIMIT
            del self._outbuf[OUT_LIMIT:]

    def _teardown(self) -> None:
        self._stop = True
        self._wake()
        self._thread.join(timeout=5)
        self._close_fds()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
