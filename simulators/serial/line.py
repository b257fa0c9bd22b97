"""The in-process line: two :class:`End` objects joined by two :class:`Channel` s.

Wiring is a null modem: what one end writes the other reads; one end's RTS is
the other's CTS, DTR the other's DSR and CD.  Each end has its own UART
settings; the sender's settings pace a direction and a receiver with other
settings decodes garbage (:mod:`.uart`).
"""

from __future__ import annotations

import threading

import serial

from profiles.errors import RoucaiError

from .channel import Channel
from .clock import WallClock
from .faults import Fault
from .settings import LineSettings
from .trace import WireTrace


class LineError(RoucaiError):
    """Misuse of the line API: duplicate or unknown name, wrong backend/clock combination."""


class ModemLinesUnsupported(serial.SerialException):
    """This backend cannot model modem lines (ptys and TCP sockets have none)."""


def _port_closed() -> serial.SerialException:
    return serial.SerialException("Attempting to use a port that is not open")


class End:
    """One end of a line, pyserial-like (see the package docstring for the contract).

    ``timeout``: ``None`` blocks, ``0`` never blocks, float = seconds (realtime lines).
    On a :class:`~.clock.SimClock` line ``read`` never blocks; use :meth:`read_event`.
    """

    def __init__(self, line: "Line", role: str, tx: Channel, rx: Channel, settings: LineSettings) -> None:
        self._line = line
        self.role = role
        self._tx = tx
        self._rx = rx
        self._settings = settings
        self.timeout: float | None = None
        self._open = True
        self._rts = True
        self._dtr = True
        self.peer: End | None = None
        self._waiters: list[list] = []  # SimPy: [need_fn, event, expired]
        self._timer_at: float | None = None
        if not line.clock.realtime:
            rx.listeners.append(self._service)

    # --- settings and state --------------------------------------------------------
    @property
    def settings(self) -> LineSettings:
        return self._settings

    @settings.setter
    def settings(self, s: LineSettings) -> None:
        if not isinstance(s, LineSettings):
            raise TypeError("settings must be a LineSettings")
        with self._tx.cond:
            self._tx.tx = s
        with self._rx.cond:
            self._rx.rx = s
        self._settings = s

    @property
    def is_open(self) -> bool:
        return self._open and not self._line.closed

    @property
    def line(self) -> "Line":
        return self._line

    def _check(self) -> None:
        line = self._line
        if not self._open or line.closed:
            raise _port_closed()
        if line.has_unplug and self.role == "host" and line.unplugged():
            raise serial.SerialException("device disconnected (cable unplugged)")

    # --- data ------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        """Queue ``data`` for sending; returns its length; never blocks."""
        self._check()
        return self._tx.write(data)

    def flush(self) -> None:
        """Wait (realtime lines) until every written byte has left this end."""
        self._check()
        ch = self._tx
        if not ch.clock.realtime:
            return
        with ch.cond:
            while ch.busy_until > ch.clock.now() and not ch.closed:
                ch.cond.wait(max(0.0, ch.busy_until - ch.clock.now()))

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes; blocks until ``size`` arrived or ``timeout`` expired."""
        self._check()
        if size <= 0:
            return b""
        ch = self._rx
        clock = ch.clock
        timeout = self.timeout
        with ch.cond:
            now = clock.now()
            ch.promote(now)
            if len(ch.ready) >= size or timeout == 0 or not clock.realtime:
                return ch.take(size)
            deadline = None if timeout is None else now + timeout
            watch_unplug = self.role == "host" and self._line.has_unplug
            while True:
                when = ch.when_count(size)
                until = [t for t in (when, deadline) if t is not None]
                wait = (min(until) - now) if until else None
                if watch_unplug:
                    wait = 0.02 if wait is None else min(wait, 0.02)
                if wait is None:
                    ch.cond.wait()
                elif wait > 0:
                    ch.cond.wait(wait)
                if not self.is_open or ch.closed:
                    raise _port_closed()
                if watch_unplug and self._line.unplugged():
                    raise serial.SerialException("device disconnected (cable unplugged)")
                now = clock.now()
                ch.promote(now)
                if len(ch.ready) >= size or (deadline is not None and now >= deadline):
                    return ch.take(size)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        """Read until ``expected`` (included), ``size`` bytes, or timeout (realtime lines)."""
        self._check()
        ch = self._rx
        with ch.cond:
            deadline = None if self.timeout is None else ch.clock.now() + self.timeout
            while True:
                now = ch.clock.now()
                ch.promote(now)
                idx = ch.ready.find(expected)
                if idx >= 0 and (size is None or idx + len(expected) <= size):
                    return ch.take(idx + len(expected))
                if size is not None and len(ch.ready) >= size:
                    return ch.take(size)
                if not ch.clock.realtime or self.timeout == 0 or (deadline is not None and now >= deadline):
                    return ch.take(len(ch.ready))
                nxt = ch.next_due()
                until = [t for t in (nxt, deadline) if t is not None]
                if until:
                    ch.cond.wait(max(0.0, min(until) - now))
                else:
                    ch.cond.wait()
                if not self.is_open or ch.closed:
                    raise _port_closed()

    @property
    def in_waiting(self) -> int:
        """Bytes that have arrived and not been read."""
        self._check()
        ch = self._rx
        with ch.cond:
            ch.promote(ch.clock.now())
            return len(ch.ready)

    @property
    def out_waiting(self) -> int:
        """Bytes written by this end that have not started on the wire yet."""
        ch = self._tx
        with ch.cond:
            return ch.in_flight(ch.clock.now())

    def reset_input_buffer(self) -> None:
        self._check()
        self._rx.reset_input()

    def reset_output_buffer(self) -> None:
        self._check()
        self._tx.reset_output()

    def close(self) -> None:
        """Close this end (the line stays; use ``line.close()`` to tear it down)."""
        self._open = False
        for ch in (self._rx, self._tx):
            with ch.cond:
                ch.cond.notify_all()

    # --- modem lines (null modem) --------------------------------------------------------
    def _modem(self) -> None:
        if not self._line.modem_lines_supported:
            raise ModemLinesUnsupported(f"modem lines are not supported on the {self._line.backend!r} backend")

    @property
    def rts(self) -> bool:
        self._modem()
        return self._rts

    @rts.setter
    def rts(self, v: bool) -> None:
        self._modem()
        self._rts = bool(v)

    @property
    def dtr(self) -> bool:
        self._modem()
        return self._dtr

    @dtr.setter
    def dtr(self, v: bool) -> None:
        self._modem()
        self._dtr = bool(v)

    @property
    def cts(self) -> bool:
        self._modem()
        return self.peer._rts

    @property
    def dsr(self) -> bool:
        self._modem()
        return self.peer._dtr

    @property
    def cd(self) -> bool:
        self._modem()
        return self.peer._dtr

    @property
    def ri(self) -> bool:
        self._modem()
        return False

    # --- SimPy virtual time ---------------------------------------------------------------
    def read_event(self, n: int, timeout: float | None = None):
        """SimPy event whose value is ``n`` bytes once they have arrived (paced), or what
        arrived by ``timeout`` env-seconds (possibly ``b""``).  SimClock lines only."""
        return self._wait(lambda ch: n, n, timeout)

    def read_until_event(self, terminator: bytes, max_size: int = 4096, timeout: float | None = None):
        """SimPy event: bytes up to and including ``terminator``, or ``max_size`` bytes, or
        what arrived by ``timeout``.  SimClock lines only."""
        if not terminator:
            raise ValueError("terminator must not be empty")

        def need(ch: Channel) -> int | None:
            with_pending = bytes(ch.ready) + b"".join(p[2][p[3] :] for p in ch._pending)[:max_size]
            idx = with_pending.find(terminator)
            if 0 <= idx and idx + len(terminator) <= max_size:
                return idx + len(terminator)
            return max_size if len(with_pending) >= max_size else None

        return self._wait(need, max_size, timeout)

    def _wait(self, need, cap: int, timeout: float | None):
        clock = self._line.clock
        if clock.realtime:
            raise LineError("read_event needs a SimClock line; use read() on realtime lines")
        if not self.is_open:
            raise _port_closed()
        env = clock.env
        ev = env.event()
        waiter = [need, ev, False, cap]
        self._waiters.append(waiter)
        if timeout is not None:

            def expire(_evt, w=waiter):
                w[2] = True
                self._service()

            env.timeout(timeout).callbacks.append(expire)
        self._service()
        return ev

    def _service(self, _evt=None) -> None:
        """Resolve SimPy waiters in order; schedule the next wake-up on the env."""
        if _evt is not None:
            self._timer_at = None
        ch = self._rx
        env = self._line.clock.env
        now = float(env.now)
        if ch._pending:
            ch.promote(now)
        while self._waiters:
            need_fn, ev, expired, cap = self._waiters[0]
            if ev.triggered:
                self._waiters.pop(0)
                continue
            need = need_fn(ch)
            if need is not None and len(ch.ready) >= need:
                self._waiters.pop(0)
                ev.succeed(ch.take(need))
                continue
            if expired or ch.closed:
                self._waiters.pop(0)
                ev.succeed(ch.take(min(cap, len(ch.ready))))
                continue
            if need is None:  # wait for more writes (they call us)
                break
            when = ch.when_count(need)
            if when is not None and (self._timer_at is None or when < self._timer_at - 1e-12):
                self._timer_at = when
                env.timeout(max(0.0, when - now)).callbacks.append(self._service)
            break


class Line:
    """A null-modem line with a host end and a device end (in-process backend ``"sim"``)."""

    backend = "sim"
    modem_lines_supported = True

    def __init__(
        self,
        name: str,
        settings: LineSettings | None = None,
        clock=None,
        faults: list[Fault] | None = None,
        trace: WireTrace | None = None,
        paced: bool = True,
    ) -> None:
        self.name = name
        self.settings = settings or LineSettings()
        self.clock = clock or WallClock()
        self.faults = list(faults or [])
        self.trace = trace
        self.paced = paced
        self.closed = False
        self.t_open = self.clock.now()
        self._unplugs = [f for f in self.faults if f.name == "unplug"]
        self.has_unplug = bool(self._unplugs)
        mk = lambda d: Channel(d, self.settings, self.settings, self.clock, self.faults, trace, paced, self.t_open)
        self.h2d = mk("host->device")
        self.d2h = mk("device->host")
        self.host = End(self, "host", tx=self.h2d, rx=self.d2h, settings=self.settings)
        self.device = End(self, "device", tx=self.d2h, rx=self.h2d, settings=self.settings)
        self.host.peer, self.device.peer = self.device, self.host
        self.host_attached = False
        self._lock = threading.Lock()
        if trace is not None:
            trace.opened(name, self.backend, self.settings.to_dict(), "wall" if self.clock.realtime else "sim")

    @property
    def host_url(self) -> str:
        return f"sim://{self.name}"

    def unplugged(self, t: float | None = None) -> bool:
        """True while an ``unplug`` fault holds the cable out."""
        if not self._unplugs:
            return False
        t = self.clock.now() if t is None else t
        return any(f.unplugged(t, self.t_open) for f in self._unplugs)

    @property
    def stats(self) -> dict:
        return {"host->device": dict(self.h2d.stats), "device->host": dict(self.d2h.stats)}

    def _teardown(self) -> None:
        """Backend-specific clean-up (pty, socket)."""

    def close(self) -> None:
        """Tear the line down; idempotent.  Ends raise ``SerialException`` afterwards."""
        if self.closed:
            return
        self.closed = True
        self.h2d.close()
        self.d2h.close()
        self._teardown()
        if self.trace is not None:
            self.trace.flush()
        from .registry import _forget

        _forget(self)

    def __enter__(self) -> "Line":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.backend} {self.settings.short()} -> {self.host_url}>"
