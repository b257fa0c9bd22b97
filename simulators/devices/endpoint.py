"""The device side of the wire: bytes in → model → bytes out.  No I/O, no threads.

:class:`DeviceEndpoint` runs a protocol (:class:`profiles.device.Protocol`) in
front of a device model (anything with ``handle(msg)`` and ``pop_events()``,
e.g. :class:`~simulators.devices.scale.ScaleModel`).  The runner
(:mod:`.runner`) feeds it the bytes it reads and writes what it returns; the
same endpoint therefore serves a pty, a ``sim://`` line, a socket or a SimPy
virtual-time line.

Behaviour (``device_protocol.toml`` ``[timing]``):

* a good request → the response frame (CMD | 0x80), or ACK, or NAK with the
  model's reason; a malformed payload → NAK BAD_PAYLOAD; an unknown command →
  NAK UNKNOWN_CMD; a frame with a bad CRC → NAK BAD_CRC (echoing the SEQ/CMD
  the damaged frame claimed); a partial frame followed by ``inter_byte_timeout_s``
  of silence → NAK TRUNCATED.  The endpoint keeps serving after any of these.
* a retransmitted request (same SEQ and CMD as the last one answered) gets the
  same answer again without being executed twice.
* events the model produced (SALE_EVENT, CARD_EVENT) are pushed one at a time
  with the device's own SEQ; each must be ACKed by the host within
  ``event_ack_timeout_s`` or it is sent again, at most ``event_retries`` times,
  then dropped from the push queue (the record stays in storage for READ_RECORDS).
* a model that lost power (:class:`PowerLost`) answers nothing.

Faults handled here: ``mute`` (never answers), ``bad_crc=N`` (every Nth frame
sent has a wrong CRC), ``no_events`` (nothing pushed).
"""

from __future__ import annotations

from collections import deque

from profiles.device import Frame, FrameFault, PayloadError, Protocol, UnknownCommand
from profiles.device.messages import Message

from .faults import FaultSet
from .refusal import PowerLost, Refused


class DeviceEndpoint:
    """:param protocol: the wire protocol.  :param device: the model.  :param faults: wire faults."""

    def __init__(self, protocol: Protocol, device, faults: FaultSet | None = None):
        self.protocol = protocol
        self.device = device
        self._pop_events = getattr(device, "pop_events", None)  # the device's pushed events (None: it pushes none)
        self.faults = faults or getattr(device, "faults", None) or FaultSet()
        self.timing = protocol.timing
        self.decoder = protocol.decoder()
        self._last_key: tuple[int, int] | None = None
        self._last_answer = b""
        self._last_rx = 0.0
        self._events: deque[Message] = deque()
        self._event_seq = 0
        self._outstanding: tuple[int, int, bytes] | None = None  # (seq, cmd, frame)
        self._sent_at = 0.0
        self._tries = 0
        self._frames_out = 0
        self.stats = {
            "requests": 0,
            "naks_sent": 0,
            "replays": 0,
            "events_sent": 0,
            "events_acked": 0,
            "events_dropped": 0,
            "ignored_off": 0,
        }

    # -- input --------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> bytes:
        """Feed bytes read at ``now`` (seconds); returns the bytes to write."""
        if not data:
            return self.poll(now)
        self._last_rx = now
        out = bytearray()
        for item in self.decoder.feed(data):
            out += self._on_item(item, now)
        out += self._push(now)
        return bytes(out)

    def poll(self, now: float) -> bytes:
        """Time passed with no input: flush a stale partial frame, push/retransmit events."""
        out = bytearray()
        if self.decoder.pending and now - self._last_rx >= self.timing.inter_byte_timeout_s:
            for item in self.decoder.flush():
                out += self._on_item(item, now)
        out += self._push(now)
        return bytes(out)

    def next_deadline(self, now: float) -> float | None:
        """When :meth:`poll` next has something to do (``None``: only on input or new events)."""
        dl = None
        if self.decoder.pending:
            dl = self._last_rx + self.timing.inter_byte_timeout_s
        if self._outstanding is not None:
            ack = self._sent_at + self.timing.event_ack_timeout_s
            if dl is None or ack < dl:
                dl = ack
        return dl

    def _on_item(self, item, now: float) -> bytes:
        if isinstance(item, FrameFault):
            if item.seq is None or item.cmd is None:
                return self._nak(0, 0, "TRUNCATED")
            return self._nak(item.seq, item.cmd, "BAD_CRC" if item.kind == "bad_crc" else "TRUNCATED")
        return self._on_frame(item, now)

    def _on_frame(self, frame: Frame, now: float) -> bytes:
        p = self.protocol
        if frame.cmd in (p.ack_code, p.nak_code):
            self._on_host_ack(frame)
            return b""
        if not self._powered():
            self.stats["ignored_off"] += 1
            return b""
        key = (frame.seq, frame.cmd)
        if key == self._last_key and self._last_answer:
            self.stats["replays"] += 1
            return self._emit(self._last_answer)
        self.stats["requests"] += 1
        try:
            msg = p.decode(frame)
        except UnknownCommand:
            return self._answer(key, p.nak(frame.seq, frame.cmd, "UNKNOWN_CMD"))
        except PayloadError:
            return self._answer(key, p.nak(frame.seq, frame.cmd, "BAD_PAYLOAD"))
        if msg.role != "request":
            return self._answer(key, p.nak(frame.seq, frame.cmd, "UNKNOWN_CMD"))
        cmd = p.by_code[frame.cmd]
        if getattr(self.device, "kind", None) not in cmd.devices:
            return self._answer(key, p.nak(frame.seq, frame.cmd, "UNKNOWN_CMD"))
        try:
            resp = self.device.handle(msg)
        except Refused as r:
            return self._answer(key, p.nak(frame.seq, frame.cmd, r.reason))
        except PowerLost:
            return b""
        self._collect_events()
        if resp is None:
            return self._answer(key, p.ack(frame.seq, frame.cmd))
        return self._answer(key, p.encode(resp, frame.seq))

    def _powered(self) -> bool:
        return getattr(self.device, "powered", True)

    def _answer(self, key: tuple[int, int], frame: bytes) -> bytes:
        if frame[4] == self.protocol.nak_code:
            self.stats["naks_sent"] += 1
        self._last_key, self._last_answer = key, frame
        return self._emit(frame)

    def _nak(self, seq: int, cmd: int, reason: str) -> bytes:
        if not self._powered():
            return b""
        self.stats["naks_sent"] += 1
        return self._emit(self.protocol.nak(seq, cmd, reason))

    def _emit(self, frame: bytes) -> bytes:
        """Last step before the wire: the ``mute`` and ``bad_crc`` faults."""
        if self.faults.on("mute"):
            return b""
        self._frames_out += 1
        n = int(self.faults.value("bad_crc", 0) or 0)
        if n and self._frames_out % n == 0:
            frame = frame[:-2] + bytes(((frame[-2] ^ 0xFF),)) + frame[-1:]
        return frame

    # -- events -------------------------------------------------------------------
    def _collect_events(self) -> None:
        pop = self._pop_events
        if pop is not None:
            got = pop()
            if got:
                self._events.extend(got)

    def _on_host_ack(self, frame: Frame) -> None:
        o = self._outstanding
        if o is not None and frame.seq == o[0] and frame.cmd == self.protocol.ack_code:
            self._outstanding = None
            self.stats["events_acked"] += 1

    def _push(self, now: float) -> bytes:
        if not self._powered() or self.faults.on("no_events"):
            return b""
        self._collect_events()
        o = self._outstanding
        if o is not None:
            if now - self._sent_at < self.timing.event_ack_timeout_s:
                return b""
            if self._tries > self.timing.event_retries:
                self._outstanding = None
                self.stats["events_dropped"] += 1
            else:
                self._tries += 1
                self._sent_at = now
                return self._emit(o[2])
        if not self._events:
            return b""
        msg = self._events.popleft()
        self._event_seq = (self._event_seq + 1) & 0xFF
        frame = self.protocol.encode(msg, self._event_seq)
        self._outstanding = (self._event_seq, self.protocol.commands[msg.wire].code, frame)
        self._sent_at, self._tries = now, 1
        self.stats["events_sent"] += 1
        return self._emit(frame)

    def power_reset(self) -> None:
        """After the device restarted: forget volatile protocol state."""
        self.decoder.reset()
        self._last_key, self._last_answer = None, b""
        self._events.clear()
        self._outstanding = None
