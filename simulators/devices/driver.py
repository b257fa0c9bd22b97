"""Host-side drivers: talk to a scale or card reader on any pyserial port.

``ScaleDriver(port)`` / ``ReaderDriver(port)`` take an open pyserial-like
port or a URL (``sim://scale-01``, ``/dev/ttyUSB0``, ``socket://127.0.0.1:PORT``,
a pty path): the same code reaches a simulated or a real device.

Every call is one transaction (:meth:`DeviceDriver.transact`): send the
request, wait ``response_timeout_s`` (after the request's own time on the wire
at the port's baud rate, and again after each byte of an answer still
arriving) for the answer with the same SEQ,
retransmit (same SEQ) on timeout or on NAK BAD_CRC / TRUNCATED, at most
``retries`` times; then :class:`DeviceTimeout`.  A NAK for any other reason
raises :class:`DeviceNak` (reason name, zh, en).  Garbage on the line is
skipped by the frame decoder (resync on the next STX) and counted in
:attr:`DeviceDriver.stats`; events the device pushes meanwhile (SALE_EVENT,
CARD_EVENT) are ACKed and queued in :attr:`DeviceDriver.events`.  Nothing
blocks longer than ``(retries + 1) × response_timeout_s`` per call beyond the
time the bytes themselves need on the line.

The protocol logic without I/O is :class:`HostSession`; :func:`sim_transact`
runs it as a SimPy process on a virtual-time line end.
"""

from __future__ import annotations

import random
import time
from collections import deque
from datetime import datetime

import serial

from profiles.device import FrameFault, PayloadError, Protocol, UnknownCommand, get_protocol
from profiles.device import messages as m
from profiles.device.card_layout import CardBatch, CardHolder, CardLayout, CardReading, load_card_layout
from profiles.errors import RoucaiError

_RETRY_REASONS = ("BAD_CRC", "TRUNCATED")


class DeviceError(RoucaiError):
    """Base of driver errors (zh/en text for the CLI)."""


class DeviceTimeout(DeviceError):
    """No answer after every retry: unreachable, exit 3."""

    exit_code = 3

    def __init__(self, wire: str, attempts: int, timeout_s: float):
        super().__init__(
            f"{wire}：设备无应答（{attempts}次，每次{timeout_s:g}秒）",
            f"{wire}: no answer from the device ({attempts} attempts of {timeout_s:g} s)",
        )
        self.wire, self.attempts = wire, attempts


class DeviceNak(DeviceError):
    """The device refused the command (a NAK): exit 1."""

    exit_code = 1

    def __init__(self, wire: str, code: int, protocol: Protocol):
        r = protocol.naks.get(code)
        self.wire, self.code = wire, code
        self.reason = r.name if r else f"0x{code:02X}"
        super().__init__(
            f"{wire}：设备拒绝（{self.reason}：{r.zh if r else '未知原因'}）",
            f"{wire}: refused by the device ({self.reason}: {r.en if r else 'unknown reason'})",
        )


class HostSession:
    """Sans-I/O host protocol state: sequence numbers, decoding, classification."""

    def __init__(self, protocol: Protocol, seq_start: int | None = None):
        self.protocol = protocol
        self.decoder = protocol.decoder()
        self.seq = (seq_start if seq_start is not None else random.SystemRandom().randrange(1, 256)) & 0xFF
        self.stats = {
            "transactions": 0,
            "retransmissions": 0,
            "timeouts": 0,
            "naks": 0,
            "bad_payloads": 0,
            "events": 0,
            "unexpected": 0,
        }

    def next_request(self, msg: m.Message) -> tuple[int, bytes]:
        self.seq = self.seq % 255 + 1  # 1..255
        self.stats["transactions"] += 1
        return self.seq, self.protocol.encode(msg, self.seq)

    def feed(self, data: bytes, seq: int, cmd_code: int) -> tuple[list[tuple[str, object]], bytes]:
        """Classify what arrived while waiting for (seq, cmd).

        Returns (items, to_send): items are ``("answer", msg)``, ``("retry", nak)``,
        ``("nak", nak)``, ``("event", msg)``; ``to_send`` holds ACKs for events.
        """
        items, ack = [], bytearray()
        p = self.protocol
        for f in self.decoder.feed(data):
            if isinstance(f, FrameFault):
                continue  # counted by the decoder; the device will time out or resend
            try:
                msg = p.decode(f)
            except (PayloadError, UnknownCommand):
                self.stats["bad_payloads"] += 1
                continue
            if msg.role == "event":
                self.stats["events"] += 1
                ack += p.ack(f.seq, f.cmd)
                items.append(("event", msg))
            elif f.seq != seq:
                self.stats["unexpected"] += 1
            elif isinstance(msg, m.Nak):
                if msg.cmd != cmd_code:
                    self.stats["unexpected"] += 1
                    continue
                self.stats["naks"] += 1
                reason = p.naks.get(msg.reason)
                items.append(("retry" if reason and reason.name in _RETRY_REASONS else "nak", msg))
            elif isinstance(msg, m.Ack) and msg.cmd == cmd_code:
                items.append(("answer", None))
            elif msg.role == "response" and p.commands[msg.wire].code == cmd_code:
                items.append(("answer", msg))
            else:
                self.stats["unexpected"] += 1
        return items, bytes(ack)

    @property
    def errors(self) -> dict:
        d = dict(self.decoder.stats)
        d.update(self.stats)
        return d


class DeviceDriver:
    """Blocking driver on a pyserial-like port (or URL).

    :param port: an open port object or a URL string for ``serial.serial_for_url``.
    :param baudrate: used only when ``port`` is a URL.
    :param response_timeout_s / retries: override the protocol's ``[timing]``.
    """

    def __init__(
        self,
        port,
        *,
        protocol: Protocol | None = None,
        baudrate: int = 9600,
        response_timeout_s: float | None = None,
        retries: int | None = None,
        seq_start: int | None = None,
        poll_s: float = 0.01,
    ):
        self.protocol = protocol or get_protocol()
        self._owns = isinstance(port, str)
        self.port = serial.serial_for_url(port, baudrate=baudrate, timeout=poll_s) if self._owns else port
        self.port.timeout = poll_s
        t = self.protocol.timing
        self.response_timeout_s = t.response_timeout_s if response_timeout_s is None else response_timeout_s
        self.retries = t.retries if retries is None else retries
        self.session = HostSession(self.protocol, seq_start)
        self.events: deque[m.Message] = deque()

    @property
    def stats(self) -> dict:
        """Decoder counters (garbage_bytes, bad_crc, resyncs…) + transaction counters."""
        return self.session.errors

    def close(self) -> None:
        if self._owns:
            self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def transact(self, msg: m.Message) -> m.Message | None:
        """Send ``msg``; return the response (``None`` for ACK).  Raises DeviceTimeout / DeviceNak."""
        seq, frame = self.session.next_request(msg)
        code = self.protocol.commands[msg.wire].code
        attempts = 0
        while attempts <= self.retries:
            if attempts:
                self.session.stats["retransmissions"] += 1
            attempts += 1
            self.port.write(frame)
            deadline = time.monotonic() + self._wire_time(len(frame)) + self.response_timeout_s
            retry = False
            while not retry and time.monotonic() < deadline:
                data = self.port.read(max(1, self.port.in_waiting))
                if not data:
                    continue
                if self.session.decoder.pending:  # an answer is still arriving: wait for its bytes
                    deadline = max(deadline, time.monotonic() + self.response_timeout_s)
                items, ack = self.session.feed(data, seq, code)
                if ack:
                    self.port.write(ack)
                outcome = _keep_events(items, self.events)
                if outcome is not None:
                    kind, obj = outcome
                    if kind == "answer":
                        return obj
                    if kind == "nak":
                        raise DeviceNak(msg.wire, obj.reason, self.protocol)
                    retry = True
        self.session.stats["timeouts"] += 1
        raise DeviceTimeout(msg.wire, attempts, self.response_timeout_s)

    def _wire_time(self, nbytes: int) -> float:
        """Seconds ``nbytes`` take on the line at the port's baud rate (10 bits per byte, 8N1)."""
        baud = getattr(self.port, "baudrate", None)
        return nbytes * 10 / baud if isinstance(baud, (int, float)) and baud > 0 else 0.0

    def wait_event(self, timeout_s: float = 1.0) -> m.Message | None:
        """The next pushed event (ACKed), or ``None`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.events and time.monotonic() < deadline:
            data = self.port.read(max(1, self.port.in_waiting))
            if data:
                items, ack = self.session.feed(data, -1, -1)
                if ack:
                    self.port.write(ack)
                self.events.extend(o for k, o in items if k == "event")
        return self.events.popleft() if self.events else None

    # -- commands every device has --------------------------------------------------
    def identify(self) -> m.IdentifyResponse:
        return self.transact(m.IdentifyRequest())

    def get_clock(self) -> datetime:
        return self.transact(m.GetClockRequest()).time

    def set_clock(self, value: datetime) -> None:
        self.transact(m.SetClockRequest(value.replace(microsecond=0)))

    def status(self) -> m.StatusResponse:
        return self.transact(m.StatusRequest())


class ScaleDriver(DeviceDriver):
    """Host side of a traceability scale."""

    def bind_stall(
        self, node_code: str, operator_code: str, stall: str, market_name: str = "", vendor_name: str = ""
    ) -> None:
        self.transact(m.BindStallRequest(node_code, operator_code, stall, market_name, vendor_name))

    def load_batch(
        self, batch_trace: str, commodity: str, limit_g: int, unit_price_fen: int, commodity_name: str = ""
    ) -> None:
        self.transact(m.LoadBatchRequest(batch_trace, commodity, commodity_name, limit_g, unit_price_fen))

    def stop_trade(self, batch_trace: str, reason: str = "") -> None:
        self.transact(m.StopTradeRequest(batch_trace, reason))

    def weigh(self) -> m.WeighResponse:
        return self.transact(m.WeighRequest())

    def tare(self) -> None:
        self.transact(m.TareRequest())

    def sell(self, batch_trace: str, request_id: int = 0) -> m.SaleRecord:
        return self.transact(m.SellRequest(batch_trace, request_id)).record[0]

    def read_records(self, from_index: int, max_count: int = 10) -> m.ReadRecordsResponse:
        return self.transact(m.ReadRecordsRequest(from_index, max_count))

    def ack_records(self, up_to_index: int) -> m.AckRecordsResponse:
        return self.transact(m.AckRecordsRequest(up_to_index))

    def upload_all(
        self, from_index: int = 1, batch: int = 10, limit: int = 100_000, acknowledge: bool = True
    ) -> list[m.SaleRecord]:
        """Read every stored record from ``from_index`` (resumable), acknowledging each chunk."""
        out: list[m.SaleRecord] = []
        idx = from_index
        while len(out) < limit:
            resp = self.read_records(idx, batch)
            if not resp.records:
                break
            out += resp.records
            if acknowledge:
                self.ack_records(resp.records[-1].index)
            idx = resp.next_index
            if resp.remaining == 0:
                break
        return out


class ReaderDriver(DeviceDriver):
    """Host side of a service-card reader, plus whole-card read/write by the profile's layout."""

    def __init__(self, port, *, layout: CardLayout | None = None, **kw):
        super().__init__(port, **kw)
        self.layout = layout or load_card_layout()

    def poll(self) -> m.PollResponse:
        return self.transact(m.PollRequest())

    def auth(self, sector: int, key: bytes, key_type: int = 0x60) -> None:
        self.transact(m.AuthRequest(sector, key_type, bytes(key)))

    def read_block(self, block: int) -> bytes:
        return self.transact(m.ReadBlockRequest(block)).data

    def write_block(self, block: int, data: bytes) -> None:
        self.transact(m.WriteBlockRequest(block, bytes(data)))

    def halt(self) -> None:
        self.transact(m.HaltRequest())

    def read_card(self, codes=None, key: bytes | None = None) -> CardReading:
        """Read the application sectors and interpret them (findings instead of exceptions
        for card content; DeviceNak for a missing card or a key the card refuses)."""
        L = self.layout
        p = self.poll()
        if not p.present:
            raise DeviceNak("POLL", self.protocol.nak_by_name["NO_CARD"].code, self.protocol)
        blocks: dict[int, bytes] = {}
        for s in [0] + L.base_sectors + L.batch_sectors:
            self.auth(s, key or L.key_a, 0x60)
            for b in L.data_blocks(s):
                blocks[b] = self.read_block(b)
        return L.read(blocks, p.uid, codes)

    def _write(self, plan: list[tuple[int, bytes]]) -> None:
        done = set()
        for blk, data in plan:
            s = self.layout.sector_of(blk)
            if s not in done:
                self.auth(s, self.layout.key_b, 0x61)
                done.add(s)
            self.write_block(blk, data)

    def write_holder(self, reading: CardReading, holder: CardHolder) -> None:
        self._write(self.layout.plan_base_write(reading, holder))

    def add_batch(self, reading: CardReading, batch: CardBatch) -> None:
        self._write(self.layout.plan_batch_write(reading, batch))


def _keep_events(items, events: list | None):
    """Append every pushed event of one read to ``events`` (``None``: drop them) and return the read's
    first other item ``(kind, obj)`` (answer, nak, …) or ``None``.  The session has already ACKed the
    events, so one that follows the answer in the same read must not be lost with the return."""
    outcome = None
    for kind, obj in items:
        if kind == "event":
            if events is not None:
                events.append(obj)
        elif outcome is None:
            outcome = (kind, obj)
    return outcome


def sim_transact(
    env, end, session: HostSession, msg: m.Message, timeout_s: float = 0.5, retries: int = 3, events: list | None = None
):
    """SimPy process: one transaction on a virtual-time line end; value = response (or None for ACK).

    Raises DeviceTimeout / DeviceNak inside the process, like :meth:`DeviceDriver.transact`.
    """
    seq, frame = session.next_request(msg)
    code = session.protocol.commands[msg.wire].code
    for attempt in range(retries + 1):
        if attempt:
            session.stats["retransmissions"] += 1
        end.write(frame)
        deadline = env.now + len(frame) * end.settings.bits_per_byte / end.settings.baudrate + timeout_s
        retry = False
        while not retry and env.now < deadline:
            data = yield end.read_event(session.decoder.wanted, timeout=deadline - env.now)
            if not data:
                break
            data += end.read(end.in_waiting)
            if session.decoder.pending:
                deadline = max(deadline, env.now + timeout_s)
            items, ack = session.feed(data, seq, code)
            if ack:
                end.write(ack)
            outcome = _keep_events(items, events)
            if outcome is not None:
                kind, obj = outcome
                if kind == "answer":
                    return obj
                if kind == "nak":
                    raise DeviceNak(msg.wire, obj.reason, session.protocol)
                retry = True
    session.stats["timeouts"] += 1
    raise DeviceTimeout(msg.wire, retries + 1, timeout_s)


__all__ = [
    "DeviceDriver",
    "ScaleDriver",
    "ReaderDriver",
    "HostSession",
    "DeviceError",
    "DeviceTimeout",
    "DeviceNak",
    "sim_transact",
]
