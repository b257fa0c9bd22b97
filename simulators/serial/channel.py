"""One direction of a line: a UART transmitter, the wire, and a receive buffer.

``write(data)`` never blocks.  The bytes are scheduled on the wire: they start
when the sender's transmitter is free (``busy_until``), one character per
sender byte time, and each becomes readable when its last stop bit has passed.
Faults transform the scheduled pieces; if the receiver's settings differ from
the sender's, the pieces are re-sampled bit by bit (:mod:`.uart`).  Reading
moves every character whose time has come into the receive buffer.

Waiting is left to the caller's clock: realtime ends block on :attr:`cond`;
SimPy ends use :meth:`when_count` to schedule a wake-up.  With ``paced=False``
characters are readable at once (faults that act on times then only reorder).
"""

from __future__ import annotations

import _thread
import bisect
import math
import threading
from collections import deque
from typing import Callable

from . import uart
from .faults import Context, Fault, Piece
from .settings import LineSettings
from .trace import WireTrace

_EPS = 1e-9


def _slack(now: float, bt: float) -> float:
    """Tolerance, in characters, for "is character k due at ``now``?".

    A fixed 1e-9 is not enough late in a long virtual-time run: at t ≈ 25,000 s the rounding of
    ``now - start`` alone is ~1e-8 of a 9600-baud character, so a reader woken exactly at a character's
    due time found it not yet due and waited Timeout(0) forever.  The slack grows with the magnitude of
    the clock (a few ulps of ``now``, in characters), staying far below any real timing resolution.
    """
    return _EPS + 8 * math.ulp(abs(now) + 1.0) / bt


class _VirtualCond(_thread.RLock):
    """The condition of a virtual-time channel: a C-level lock whose notifications reach nobody (SimPy
    readers are woken by :attr:`Channel.listeners`); waiting on it is a programming error."""

    __slots__ = ()

    def notify_all(self) -> None:
        pass

    def wait(self, timeout=None):
        raise RuntimeError("a virtual-time line is waited on with read_event, not by blocking")


class Channel:
    """Characters travelling from one end to the other.

    :param direction: ``"host->device"`` or ``"device->host"`` (used in traces and faults).
    :param tx, rx: the sender's and receiver's settings (changed later via attributes).
    """

    def __init__(
        self,
        direction: str,
        tx: LineSettings,
        rx: LineSettings,
        clock,
        faults: list[Fault],
        trace: WireTrace | None,
        paced: bool,
        t_open: float,
    ) -> None:
        self.direction = direction
        self.tx = tx
        self.rx = rx
        self.clock = clock
        self.paced = paced
        self.trace = trace
        self.t_open = t_open
        #: realtime lines: readers block on it; virtual-time lines: a plain lock (SimPy waits on events)
        self.cond = threading.Condition() if clock.realtime else _VirtualCond()
        self.ready = bytearray()
        self._pending: deque[list] = deque()  # [start, bt, data, taken]
        self.busy_until = t_open
        self.closed = False
        self.listeners: list[Callable[[], None]] = []
        self.stats = {
            "bytes_sent": 0,
            "bytes_delivered": 0,
            "bytes_lost": 0,
            "framing_errors": 0,
            "parity_errors": 0,
            "overruns": 0,
        }
        mine = [f for f in faults if f.applies(direction)]
        self._transmit = [f.bind(direction) for f in mine if f.stage == "transmit"]
        self._wire = [f.bind(direction) for f in mine if f.stage != "transmit"]
        self._unplug = [f for f in mine if f.name == "unplug"]
        ctx = self._ctx()
        for a in self._wire:
            for start, data in a.fault.idle_pieces(ctx, a.rng):
                self._schedule(start, data, self.tx.byte_time)

    # --- state ---------------------------------------------------------------------
    def _ctx(self) -> Context:
        return Context(bt=self.tx.byte_time, t_open=self.t_open, mask=self.tx.data_mask)

    def unplugged(self, t: float | None = None) -> bool:
        """True while an ``unplug`` fault of this direction holds the cable out."""
        if not self._unplug:
            return False
        t = self.clock.now() if t is None else t
        return any(f.unplugged(t, self.t_open) for f in self._unplug)

    def _schedule(self, start: float, data: bytes, bt: float) -> None:
        item = [start, bt, data, 0]
        if not self._pending or self._pending[-1][0] <= start:
            self._pending.append(item)
        else:  # noise scheduled ahead of a write
            starts = [p[0] for p in self._pending]
            self._pending.insert(bisect.bisect_right(starts, start), item)

    # --- writing -------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        """Schedule ``data`` on the wire; returns ``len(data)``.  Never blocks."""
        data = bytes(data)
        if not data:
            return 0
        with self.cond:
            self.stats["bytes_sent"] += len(data)
            if (
                not self.paced
                and not self._transmit
                and not self._wire
                and self.trace is None
                and (self.tx is self.rx or self.tx == self.rx)
            ):
                self.ready += data  # fast path: benchmark and plain unit tests
                self.stats["bytes_delivered"] += len(data)
                self.cond.notify_all()
                self._notify()
                return len(data)
            now = self.clock.now()
            bt = self.tx.byte_time if self.paced else 0.0
            start = max(now, self.busy_until) if self.paced else now
            pieces: list[Piece] = [(start, data)]
            ctx = Context(bt=bt, t_open=self.t_open, mask=self.tx.data_mask)
            names: list[str] = []
            for a in self._transmit:
                pieces = a.apply(pieces, ctx)
                names.append(a.fault.name)
            if self.paced:
                last_start, last = pieces[-1]
                self.busy_until = last_start + len(last) * bt
            for a in self._wire:
                before = pieces
                pieces = a.apply(pieces, ctx)
                if pieces != before:
                    names.append(a.fault.name)
            out_pieces = []
            for pstart, pdata in pieces:
                got, fe, pe = uart.receive(pdata, self.tx, self.rx)
                self.stats["framing_errors"] += fe
                self.stats["parity_errors"] += pe
                if got:
                    # garbled output is spread over the same wire time
                    pbt = bt * len(pdata) / len(got)
                    out_pieces.append((pstart, got, pbt))
            delivered = sum(len(g) for _, g, _ in out_pieces)
            self.stats["bytes_delivered"] += delivered
            self.stats["bytes_lost"] += max(0, len(data) - delivered)
            for pstart, got, pbt in out_pieces:
                self._schedule(pstart, got, pbt)
            if self.trace is not None:
                wire = b"".join(g for _, g, _ in out_pieces)
                self.trace.chunk(
                    start - self.t_open, self.direction, wire, sent=data, faults=[n for n in names if n] or None
                )
            self.cond.notify_all()
        self._notify()
        return len(data)

    def _notify(self) -> None:
        for fn in self.listeners:
            fn()

    # --- reading -------------------------------------------------------------------
    def promote(self, now: float) -> None:
        """Move every character whose last stop bit has passed into :attr:`ready`. Caller holds cond."""
        pend = self._pending
        while pend:
            item = pend[0]
            start, bt, data, taken = item
            if bt <= 0:
                due = len(data) if now + _EPS + 8 * math.ulp(abs(now) + 1.0) >= start else 0
            else:
                due = min(len(data), int(math.floor((now - start) / bt + _slack(now, bt))))
            if due > taken:
                self.ready += data[taken:due]
                item[3] = due
            if item[3] >= len(data):
                pend.popleft()
            else:
                break

    def take(self, size: int) -> bytes:
        """Remove and return up to ``size`` ready characters. Caller holds cond."""
        if size >= len(self.ready):
            out = bytes(self.ready)
            self.ready.clear()
        else:
            out = bytes(self.ready[:size])
            del self.ready[:size]
        return out

    def when_count(self, n: int) -> float | None:
        """Clock time at which :attr:`ready` will hold ``n`` characters, given what is
        scheduled now; ``None`` if never (not enough written yet). Caller holds cond."""
        need = n - len(self.ready)
        if need <= 0:
            return self.clock.now()
        for start, bt, data, taken in self._pending:
            left = len(data) - taken
            if need <= left:
                return start + (taken + need) * bt
            need -= left
        return None

    def next_due(self) -> float | None:
        """Clock time of the next character to become ready, or ``None``. Caller holds cond."""
        if not self._pending:
            return None
        start, bt, data, taken = self._pending[0]
        return start + (taken + 1) * bt

    def pending_count(self) -> int:
        return sum(len(p[2]) - p[3] for p in self._pending)

    def in_flight(self, now: float) -> int:
        """Characters written whose last bit has not yet left the sender (for ``out_waiting``). Caller holds cond."""
        left = 0
        for start, bt, data, taken in self._pending:
            done = len(data) if bt <= 0 else max(0, min(len(data), int((now - start) / bt + _slack(now, bt))))
            left += len(data) - max(done, taken)
        return left

    def reset_input(self) -> None:
        with self.cond:
            self.promote(self.clock.now())
            self.ready.clear()

    def reset_output(self) -> None:
        with self.cond:
            now = self.clock.now()
            self.promote(now)
            self._pending.clear()
            self.busy_until = now

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self._notify()
