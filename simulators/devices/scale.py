"""The traceability scale (追溯秤 / 标签电子秤 / 智能溯源秤) as a state machine.

Separate from any transport: :meth:`ScaleModel.handle` takes a request message
and returns the response message (``None`` = plain ACK) or raises
:class:`~simulators.devices.refusal.Refused` with a NAK reason; the endpoint
(:mod:`.endpoint`) puts it on a wire.  Tests and the market simulation may also
call the methods directly (:meth:`sell`, :meth:`place`).

Functions (标签电子秤 definition, standards.md §3.1): 计量 (:mod:`.weighing`), 摊位号
管理 (:meth:`bind_stall`), 多批次管理 (:meth:`load_batch`, up to ``max_batches``),
限量控制 (a sale that would take a batch past its loaded quantity is refused:
LIMIT_EXCEEDED), 数据上传 (:meth:`read_records` / :meth:`ack_records` and pushed
SALE_EVENTs), 追溯码打印 (:mod:`.receipt`).  Stop-trade blocks a batch's sales.

Trace codes: one per sale line, ``p.codes.trace_code(operator, seq)`` with
``seq`` = the store's last sequence + 1, committed in the same SQLite
transaction as the sale (:mod:`.storage`), so a sequence is never reused,
even across power cuts.  (A scale keeps its own sequence: several scales of one
operator need disjoint ``trace_seq_start`` ranges; the JNLC practice of the
platform pre-allocating blocks, devices.md §1.2 e, is the field answer.)

Order number: serial number + ``yyMMddHHmmss`` (the deployed firmware's form,
devices.md §1.2 c) + the 4-digit storage index, so two sales in one second differ.

A sale with ``request_id`` is idempotent: the same id returns the committed
sale instead of selling twice (what a host needs after a power cut).
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from profiles import load_profile
from profiles.codes import CodeError
from profiles.device import get_protocol
from profiles.device import messages as m
from profiles.profile import Profile

from .clock import DeviceClock
from .faults import FaultSet
from .receipt import Receipt, ReceiptLine
from .refusal import PowerLost, Refused
from .storage import MemoryScaleStore, ScaleStore
from .weighing import Metrology, Reading, WeighingUnit


@dataclass(frozen=True)
class Identity:
    vendor: str = "roucai-sim"
    model: str = "RS-15"
    firmware: str = "1.0.0"
    serial_no: str = "RS0000000001"


class ScaleModel:
    """One simulated scale.

    :param store: a :class:`ScaleStore` or :class:`MemoryScaleStore`, a file path (durable), or ``None``
        (SQLite in memory).
    :param model: ``"counter"`` (案秤 15 kg) or ``"platform"`` (台秤 150 kg).
    :param seed: seeds the weighing noise and the serial number.
    :param time_source: seconds (``time.monotonic`` or ``lambda: env.now``).
    :param faults: a :class:`FaultSet` (``scale`` faults).
    :param capacity: offline storage capacity in records (default from the profile).
    :param paper_receipts: receipts left on the roll.
    :param keep_receipts: the last receipts kept to read back (:attr:`receipts`); ``0``: each is printed (paper
        counted) and none is built or kept (a market simulation's scales, where nobody reads them back).
    """

    kind = "scale"

    def __init__(
        self,
        store: ScaleStore | MemoryScaleStore | str | Path | None = None,
        *,
        profile: Profile | None = None,
        model: str = "counter",
        seed: int = 0,
        time_source: Callable[[], float] = time.monotonic,
        clock: DeviceClock | None = None,
        faults: FaultSet | None = None,
        capacity: int | None = None,
        max_batches: int | None = None,
        trace_seq_start: int = 1,
        paper_receipts: int = 500,
        card_reader: bool = True,
        identity: Identity | None = None,
        keep_receipts: int = 20,
    ) -> None:
        self.profile = profile or load_profile()
        data = get_protocol(profile=self.profile).data  # parsed once per profile
        self.protocol_name = data["protocol"]["name"]
        self.receipt_cfg = data["receipt"]
        defaults = data["scale"]["defaults"]
        self.metro = Metrology.from_profile(data, model)
        self.rng = random.Random(seed)
        self.time_source = time_source
        self.faults = faults or FaultSet()
        self.clock = clock or DeviceClock(time_source, drift_ppm=float(self.faults.value("clock_drift", 0.0)))
        self.weigh = WeighingUnit(self.metro, self.rng, time_source)
        self.identity = identity or Identity(
            model="RS-15" if model == "counter" else "RS-150",
            serial_no=f"RS{random.Random(seed).randrange(10**10):010d}",
        )
        self.store = store if isinstance(store, (ScaleStore, MemoryScaleStore)) else ScaleStore(store)
        self.capacity = int(capacity if capacity is not None else defaults["storage_records"])
        if self.faults.on("memory_full"):
            n = int(self.faults.value("memory_full"))
            self.capacity = n if n > 0 else self.store.unacked_count()
        self.max_batches = int(max_batches if max_batches is not None else defaults["max_batches"])
        self.trace_seq_start = int(trace_seq_start)
        self.paper = (
            0
            if self.faults.on("paper_out")
            else (int(self.faults.value("paper_low")) if self.faults.on("paper_low") else int(paper_receipts))
        )
        self.card_reader = card_reader
        self.powered = True
        self.events: deque[m.Message] = deque()
        self.receipts: deque[Receipt] = deque(maxlen=keep_receipts)
        self.sale_attempts = 0
        self._handlers: dict[type[m.Message], Callable[[Any], m.Message | None]] = {
            m.IdentifyRequest: lambda q: self.identify(),
            m.GetClockRequest: lambda q: m.GetClockResponse(self.clock.now().replace(microsecond=0)),
            m.SetClockRequest: lambda q: self.set_clock(q.time),
            m.BindStallRequest: lambda q: self.bind_stall(
                q.node_code, q.operator_code, q.stall, q.market_name, q.vendor_name
            ),
            m.LoadBatchRequest: lambda q: self.load_batch(
                q.batch_trace, q.commodity, q.commodity_name, q.limit_g, q.unit_price_fen
            ),
            m.StopTradeRequest: lambda q: self.stop_trade(q.batch_trace, q.reason),
            m.StatusRequest: lambda q: self.status(),
            m.ReadRecordsRequest: lambda q: self.read_records(q.from_index, q.max_count),
            m.AckRecordsRequest: lambda q: self.ack_records(q.up_to_index),
            m.WeighRequest: lambda q: self.weigh_response(),
            m.TareRequest: lambda q: self.tare(),
            m.SellRequest: lambda q: m.SellResponse([self.sell(q.batch_trace, request_id=q.request_id or None)]),
        }

    # -- dispatch -------------------------------------------------------------------
    def handle(self, msg: m.Message) -> m.Message | None:
        """The answer to request ``msg`` (``None``: ACK).  Raises Refused / PowerLost."""
        if not self.powered:
            raise PowerLost()
        h = self._handlers.get(type(msg))
        if h is None:
            raise Refused("UNKNOWN_CMD", msg.wire)
        return h(msg)

    def pop_events(self) -> list[m.Message]:
        out = list(self.events)
        self.events.clear()
        return out

    # -- identity, clock ----------------------------------------------------------------
    def capabilities(self) -> dict[str, str]:
        mt = self.metro
        return {
            "max_g": str(mt.max_g),
            "min_g": str(mt.min_g),
            "e1_g": str(mt.e1_g),
            "e2_g": str(mt.e2_g),
            "switch_g": str(mt.switch_g),
            "accuracy_class": "III",
            "max_batches": str(self.max_batches),
            "storage_records": str(self.capacity),
            "storage_full_policy": "refuse-sales",
            "printer": "1",
            "card_reader": "1" if self.card_reader else "0",
            "qr": "1",
        }

    def identify(self) -> m.IdentifyResponse:
        i = self.identity
        return m.IdentifyResponse(
            "scale",
            i.vendor,
            i.model,
            i.firmware,
            i.serial_no,
            self.protocol_name,
            [m.Capability(k, v) for k, v in self.capabilities().items()],
        )

    def set_clock(self, value: datetime) -> None:
        if not 2000 <= value.year <= 2099:
            raise Refused("CLOCK_INVALID", value.isoformat())
        self.clock.set(value)

    # -- stall and batches ----------------------------------------------------------------
    def bind_stall(
        self, node_code: str, operator_code: str, stall: str, market_name: str = "", vendor_name: str = ""
    ) -> None:
        codes = self.profile.codes
        if (
            not codes.is_valid(node_code, "node")
            or not codes.is_valid(operator_code, "operator")
            or not operator_code.startswith(node_code)
        ):
            raise Refused("BAD_CODE", f"{node_code}/{operator_code}")
        self.store.bind_stall(
            {
                "node_code": node_code,
                "operator_code": operator_code,
                "stall": stall,
                "market_name": market_name,
                "vendor_name": vendor_name,
            }
        )

    def load_batch(
        self, batch_trace: str, commodity: str, commodity_name: str, limit_g: int, unit_price_fen: int
    ) -> None:
        self.check_codes(batch_trace, commodity)
        if limit_g <= 0 or unit_price_fen <= 0:
            raise Refused("BAD_PAYLOAD", "limit and price must be positive")
        if self.store.batch(batch_trace) is None and len(self.store.batches()) >= self.max_batches:
            raise Refused("BATCH_TABLE_FULL")
        if not commodity_name and commodity in self.profile.commodities:
            commodity_name = self.profile.commodities[commodity].name_zh
        self.store.load_batch(
            {
                "batch_trace": batch_trace,
                "commodity": commodity,
                "commodity_name": commodity_name,
                "limit_g": limit_g,
                "unit_price_fen": unit_price_fen,
            }
        )

    def stop_trade(self, batch_trace: str, reason: str = "") -> None:
        if not self.store.stop_batch(batch_trace, reason):
            raise Refused("UNKNOWN_BATCH", batch_trace)

    # -- weighing ---------------------------------------------------------------------
    def place(self, load_g: float, settled: bool = False) -> None:
        self.weigh.place(load_g, settled)

    def weigh_response(self) -> m.WeighResponse:
        r = self.weigh.read()
        return m.WeighResponse(r.gross_g, r.tare_g, r.net_g, r.division_g, r.stable, r.overload)

    def tare(self) -> None:
        if not self.weigh.tare():
            raise Refused("WEIGHT_INVALID", "tare needs a stable load within range")

    # -- status -------------------------------------------------------------------------
    def status(self) -> m.StatusResponse:
        used = self.store.unacked_count()
        paper = 2 if self.paper <= 0 else (1 if self.paper <= 20 else 0)
        power = 2 if self.faults.on("battery_low") else 0
        batches = [
            m.BatchEntry(
                b["batch_trace"], b["commodity"], b["limit_g"], b["sold_g"], b["unit_price_fen"], bool(b["stopped"])
            )
            for b in self.store.batches()
        ]
        return m.StatusResponse(
            paper,
            1 if self.faults.on("ink_out") else 0,
            used,
            max(0, self.capacity - used),
            power,
            self.faults.on("tamper"),
            self.store.stall() is not None,
            batches,
            self.store.next_index,
        )

    # -- selling ------------------------------------------------------------------------
    def sell(self, batch_trace: str, weight_g: int | None = None, request_id: int | None = None) -> m.SaleRecord:
        """Sell one line of ``batch_trace`` at the current net weight (or put ``weight_g`` net on first).

        Returns the committed record.  Raises Refused (NAK reason) or PowerLost.
        """
        if not self.powered:
            raise PowerLost()
        if request_id:
            done = self.store.sale_by_request(request_id)
            if done is not None:
                return _record(done)
        stall = self.store.stall()
        if stall is None:
            raise Refused("NOT_BOUND")
        batch = self.store.batch(batch_trace)
        if batch is None:
            raise Refused("UNKNOWN_BATCH", batch_trace)
        self.check_stopped(batch)
        if self.paper <= 0:
            raise Refused("PAPER_OUT")
        if self.store.unacked_count() >= self.capacity:
            self.memory_full()
        if weight_g is not None:
            self.weigh.place(weight_g + self.weigh.tare_g, settled=True)
        r = self.weigh.read()
        if not self.saleable(r):
            raise Refused("WEIGHT_INVALID", f"net {r.net_g} g stable={r.stable} overload={r.overload}")
        self.check_limit(batch, r.net_g)
        self.sale_attempts += 1
        seq = self.next_trace_seq(max(self.store.last_trace_seq, self.trace_seq_start - 1))
        try:
            trace = self.profile.codes.trace_code(stall["operator_code"], seq)
        except CodeError as exc:
            raise Refused("BAD_CODE", str(exc)) from exc
        now = self.clock.now().replace(microsecond=0)
        amount = self.amount_fen(r.net_g, batch["unit_price_fen"])
        idx = self.store.next_index
        sale = {
            "trace_code": trace,
            "batch_trace": batch_trace,
            "commodity": batch["commodity"],
            "commodity_name": batch["commodity_name"],
            "weight_g": r.net_g,
            "unit_price_fen": batch["unit_price_fen"],
            "amount_fen": amount,
            "time": now,
            "order_no": f"{self.identity.serial_no}{now.year % 100:02d}{now.month:02d}{now.day:02d}{now.hour:02d}"
            f"{now.minute:02d}{now.second:02d}{idx % 10000:04d}",
            "operator_code": stall["operator_code"],
            "stall": stall["stall"],
        }
        cut = self.faults.on("power_loss") and self.sale_attempts == int(self.faults.value("power_loss"))
        try:
            row = self.store.commit_sale(
                self.as_stored(sale), seq, request_id, batch_trace, before_commit=self._cut_power if cut else None
            )
        except PowerLost:
            self.power_cut()
            raise
        rec = _record(row)
        self.print_receipt(rec, stall)
        if not self.faults.on("no_events"):
            self.events.append(m.SaleEvent([rec]))
        return rec

    # The steps of a sale a firmware's bug may replace (in a subclass installed from outside by a proof:
    # conformance/proofs/device_firmware.py).
    def check_codes(self, batch_trace: str, commodity: str) -> None:
        """Refuse a batch whose trace or commodity code is not valid (BAD_CODE, PERC-SCALE-11)."""
        codes = self.profile.codes
        if not codes.is_valid(batch_trace, "trace") or not codes.is_valid(commodity, "commodity"):
            raise Refused("BAD_CODE", f"{batch_trace}/{commodity}")

    def check_stopped(self, batch: dict[str, Any]) -> None:
        """Refuse a sale of a batch the platform stopped (TRADE_STOPPED, PERC-SCALE-19)."""
        if batch["stopped"]:
            raise Refused("TRADE_STOPPED", batch["stop_reason"])

    def memory_full(self) -> None:
        """Storage holds ``capacity`` unacknowledged records: the sale is refused (MEMORY_FULL)."""
        raise Refused("MEMORY_FULL", f"{self.capacity} records")

    def saleable(self, r: Reading) -> bool:
        """Whether reading ``r`` may be sold: stable, within min..max, not overloaded (PERC-SCALE-01/05)."""
        return self.weigh.saleable(r)

    def check_limit(self, batch: dict[str, Any], net_g: int) -> None:
        """Refuse a sale over the batch's remaining quantity (LIMIT_EXCEEDED, PERC-SCALE-06)."""
        if batch["sold_g"] + net_g > batch["limit_g"]:
            raise Refused("LIMIT_EXCEEDED", f"{batch['sold_g']} + {net_g} > {batch['limit_g']} g")

    def next_trace_seq(self, last: int) -> int:
        """The trace sequence of the next sale after ``last`` (each code issued once)."""
        return last + 1

    @staticmethod
    def as_stored(sale: dict[str, Any]) -> dict[str, Any]:
        """The sale record as the firmware writes it to storage: every field (PERC-SCALE-13)."""
        return sale

    @staticmethod
    def amount_fen(net_g: int, unit_price_fen: int) -> int:
        """The amount of ``net_g`` at ``unit_price_fen`` per kg, rounded half-up to the fen."""
        return (net_g * unit_price_fen + 500) // 1000

    @staticmethod
    def _cut_power() -> None:
        raise PowerLost()

    def print_receipt(self, rec: m.SaleRecord, stall: dict[str, Any]) -> None:
        """Print the sale's receipt (kept in :attr:`receipts`): its trace code and a QR of it (PERC-SCALE-21)."""
        self.paper -= 1
        if self.receipts.maxlen == 0:  # keep_receipts=0: nothing is read back, so nothing is built
            return
        qr = self.receipt_cfg["qr_template"].format(
            url=self.receipt_cfg["qr_url"], order_no=rec.order_no, trace_code=rec.trace_code
        )
        name_en = ""
        if rec.commodity in self.profile.commodities:
            name_en = self.profile.commodities[rec.commodity].name_en
        self.receipts.append(
            Receipt(
                stall.get("market_name", ""),
                rec.stall,
                stall.get("vendor_name", ""),
                rec.time,
                rec.order_no,
                [
                    ReceiptLine(
                        rec.commodity_name,
                        rec.weight_g,
                        rec.unit_price_fen,
                        rec.amount_fen,
                        rec.trace_code,
                        name_en,
                    )
                ],
                qr,
                blank=self.faults.on("ink_out"),
            )
        )

    # -- upload ---------------------------------------------------------------------------
    def read_records(self, from_index: int, max_count: int, max_bytes: int = 1900) -> m.ReadRecordsResponse:
        """Unacknowledged records from ``from_index`` (at most ``max_count``, and what fits ``max_bytes``)."""
        nxt = self.store.next_index
        if from_index > nxt:
            raise Refused("BAD_INDEX", f"{from_index} > next {nxt}")
        rows = self.store.read_from(from_index, max(0, min(max_count, 255)))
        recs: list[m.SaleRecord] = []
        size = 0
        for row in rows:
            rec = _record(row)
            n = _record_size(rec)
            if recs and size + n > max_bytes:
                break
            recs.append(rec)
            size += n
        cont = recs[-1].index + 1 if recs else max(from_index, 1)
        return m.ReadRecordsResponse(cont, self.store.count_from(cont), recs)

    def ack_records(self, up_to_index: int) -> m.AckRecordsResponse:
        if up_to_index >= self.store.next_index:
            raise Refused("BAD_INDEX", f"{up_to_index} >= next {self.store.next_index}")
        freed = self.store.acknowledge(up_to_index)
        return m.AckRecordsResponse(freed, self.store.unacked_count())

    # -- cards ----------------------------------------------------------------------------
    def card_tap(self, uid: bytes, operator_code: str, kind: int = 1, removed: bool = False) -> None:
        """A service card was presented to (or removed from) the scale's reader."""
        if self.card_reader and not self.faults.on("no_events"):
            self.events.append(m.CardEvent(2 if removed else 1, bytes(uid), operator_code, kind))

    # -- power ----------------------------------------------------------------------------
    def power_cut(self) -> None:
        """Power is gone: uncommitted work, tare and unsent events are lost; storage and RTC stay."""
        self.powered = False
        self.events.clear()
        self.weigh.clear_tare()
        self.store.power_cut()

    def restart(self) -> None:
        """Power back: reopen storage (the durable state is whatever was committed)."""
        self.store = self.store.reopen()
        self.faults.clear("power_loss")
        self.powered = True


def _record(row: dict[str, Any]) -> m.SaleRecord:
    return m.SaleRecord(
        row["idx"],
        row["trace_code"],
        row["batch_trace"],
        row["commodity"],
        row["commodity_name"],
        row["weight_g"],
        row["unit_price_fen"],
        row["amount_fen"],
        row["time"],
        row["order_no"],
        row["operator_code"],
        row["stall"],
    )


def _record_size(r: m.SaleRecord) -> int:
    enc = "gb18030"
    return (
        4
        + 20
        + 20
        + 8
        + 1
        + len(r.commodity_name.encode(enc))
        + 12
        + 14
        + 1
        + len(r.order_no.encode(enc))
        + 13
        + 1
        + len(r.stall.encode(enc))
    )
