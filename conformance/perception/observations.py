"""The run's observation log: every frame the harness exchanged with a device, in every perception test.

The run-wide invariants (``test_scale_invariants.py``) judge *every* observation instead of the samples
a single test looks at.  :class:`~conformance.perception.bench.TracedPort` reports each chunk it reads or
writes to :data:`RUN` (:meth:`ObservationLog.saw`); the bench adds markers for what the harness did
to the device outside the wire (power off/on: :meth:`ObservationLog.mark`).

Contract:

* One :class:`Observation` per decoded item, in arrival order, with the host's monotonic time, the
  device it came from or went to (``device``: one key per physical device; on the built-in target each
  test's fresh reference device has its own key), the direction (``host->device`` / ``device->host``),
  and either the decoded :class:`~profiles.device.messages.Message` or what was wrong (``fault``:
  ``bad_crc``, ``truncated``, ``undecodable``).
* Nothing here judges; it only keeps what was seen.  :meth:`reset` empties it (start of a session).
* Bounded: at most :data:`MAX_OBSERVATIONS` entries are kept; beyond that ``overflow`` counts what was
  not kept, and the invariants report it (never a silent gap).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from profiles.device import Frame, FrameFault, PayloadError, UnknownCommand

H2D, D2H = "host->device", "device->host"
MAX_OBSERVATIONS = 2_000_000


@dataclass(frozen=True, slots=True)
class Observation:
    t: float  #: host monotonic time
    device: str  #: which device
    direction: str  #: H2D or D2H, or "mark"
    seq: int | None
    cmd: int | None
    msg: object = None  #: the decoded message (None for a fault or a mark)
    fault: str = ""  #: bad_crc | truncated | undecodable | a mark's name
    nodeid: str = ""  #: the test that was running


class ObservationLog:
    """Every frame of a run, per device (see the module docstring)."""

    def __init__(self):
        self.entries: list[Observation] = []
        self.overflow = 0
        self.nodeid = ""

    def reset(self) -> None:
        self.entries.clear()
        self.overflow = 0
        self.nodeid = ""

    def _add(self, obs: Observation) -> None:
        if len(self.entries) >= MAX_OBSERVATIONS:
            self.overflow += 1
            return
        self.entries.append(obs)

    def saw(self, device: str, direction: str, items, protocol) -> None:
        """The frames and faults a decoder produced from one chunk of ``direction``."""
        now = time.monotonic()
        for it in items:
            if isinstance(it, Frame):
                try:
                    msg, fault = protocol.decode(it), ""
                except (PayloadError, UnknownCommand):
                    msg, fault = None, "undecodable"
                self._add(Observation(now, device, direction, it.seq, it.cmd, msg, fault, self.nodeid))
            elif isinstance(it, FrameFault):
                self._add(Observation(now, device, direction, it.seq, it.cmd, None, it.kind, self.nodeid))

    def mark(self, device: str, what: str) -> None:
        """Something the harness did to ``device`` outside the wire (``power_off``, ``power_on``)."""
        self._add(Observation(time.monotonic(), device, "mark", None, None, None, what, self.nodeid))

    def unpushed_sales(self, device: str, nodeid: str) -> list[tuple[float, int]]:
        """(time, record index) of the sales answered to SELL on ``device`` in test ``nodeid`` whose SALE_EVENT
        has not been seen, with no power mark after them (the harness may still be owed these events)."""
        from profiles.device import messages as m

        sold: dict[int, float] = {}
        known: set[int] = set()  # a SELL answer repeating a known record (idempotent request) is no sale
        for o in self.entries:
            if o.device != device:
                continue
            if o.direction == D2H and isinstance(o.msg, m.SellResponse):
                for r in o.msg.record:
                    if r.index not in known and o.nodeid == nodeid:
                        sold[r.index] = o.t
                    known.add(r.index)
            elif o.direction == D2H and isinstance(o.msg, m.SaleEvent):
                for r in o.msg.record:
                    sold.pop(r.index, None)
            elif o.direction == "mark" and o.fault in ("power_off", "power_on"):
                sold.clear()
        return sorted((t, i) for i, t in sold.items())

    def devices(self) -> list[str]:
        return list(dict.fromkeys(o.device for o in self.entries))

    def of(self, device: str) -> list[Observation]:
        return [o for o in self.entries if o.device == device]


#: The log of the running session (reset when a perception session starts).
RUN = ObservationLog()
