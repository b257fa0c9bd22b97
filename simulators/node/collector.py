"""Collect sale records from the node's scales; acknowledge them only once the platform has.

One :class:`ScaleWorker` thread per configured scale owns its port and driver
(:class:`~simulators.devices.ScaleDriver`: the same code for ``sim://``, a pty, a
``socket://`` device or a real ``/dev/ttyUSB0``).  Each round:

1. **stop-trade**: read the scale's batch table (STATUS) and stop every batch the
   platform told the node to stop (:meth:`Outbox.stopped_batches`) that the scale
   holds and still sells; a batch loaded *after* the instruction is stopped on the
   next round (PERC-SCALE-19 / NODE-STOP-01);
2. **collect**: READ_RECORDS from the durable cursor; each sale line becomes the
   profile's records (:mod:`.sales`), checked with the catalogue, and goes into the
   outbox *together with* the new cursor (one transaction);
0. **batches**: load the bound operator's entered batches of the day the scale does not hold yet
   (LOAD_BATCH, :mod:`.batchpush`, NODE-WHOL-05) and reload a held batch whose limit a stall transfer lowered
   (NODE-RETL-01); once the batch table is full no new batch is tried until the next connection;
3. **acknowledge**: ACK_RECORDS up to the highest index whose records all have a
   final verdict from the platform (accepted / duplicate / rejected-and-kept), so
   the scale frees its memory only for records the platform has answered.

A port or device failure closes the driver and retries the connection with a
growing delay (``poll_s`` doubling, at most 30 s); nothing read is lost (the
cursor moves only with the records) and nothing is read twice into the outbox
(the source key is the sale's trace code).  Between rounds the worker listens
for pushed SALE_EVENTs, which end the wait early.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from profiles.device.messages import BatchEntry
from profiles.envelope import beijing
from profiles.profile import Profile
from simulators.devices.driver import DeviceError, DeviceNak, ScaleDriver

from . import logs
from .batchpush import EntryBatch, EntryBatches
from .config import DeviceConfig
from .outbox import Item, Outbox
from .sales import SaleMapper, in_catalogue_order

MAX_RETRY_S = 30.0
_REASON_CHARS = 60


class ScaleWorker:
    """:param device: a :class:`~.config.DeviceConfig`.  :param mapper: a :class:`SaleMapper`.

    A round's steps are methods a subclass may replace (a test lab installs a defect that way, from outside
    the product): :meth:`push_batches`, :meth:`change_limit`, :meth:`enforce_stops` and :meth:`ackable`."""

    def __init__(
        self,
        device: DeviceConfig,
        outbox: Outbox,
        mapper: SaleMapper,
        profile: Profile,
        node_code: str,
        node_name: str,
        clock: Callable[[], _dt.datetime] | None = None,
        entries: EntryBatches | None = None,
        default_price_fen: int = 1000,
    ) -> None:
        """:param entries: an :class:`~.batchpush.EntryBatches` to push from, or ``None`` (no pushing)."""
        self.dev = device
        self.entries = entries
        self.default_price_fen = default_price_fen
        self.pushed: dict[str, int] = {}  #: batch -> limit the scale holds (as pushed or found)
        self.table_full = False
        self.outbox = outbox
        self.mapper = mapper
        self.catalog = profile.records
        self.form = profile.envelope.city_form  #: a dialect's record forms: a sale keeps what its form carries
        self.node_code, self.node_name = node_code, node_name
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.source = f"scale:{device.id}"
        self.driver: ScaleDriver | None = None
        self.stops_applied: set[str] = set()
        self.status: dict[str, Any] = {
            "id": device.id,
            "url": device.url,
            "connected": False,
            "serial_no": None,
            "records_read": 0,
            "acked_index": outbox.cursor(device.id)[1],
            "last_error": None,
            "last_ok_ms": None,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    # -- connection -----------------------------------------------------------------
    def _connect(self) -> None:
        kw: dict[str, Any] = (
            {} if self.dev.response_timeout_s is None else {"response_timeout_s": self.dev.response_timeout_s}
        )
        drv = ScaleDriver(self.dev.port_url, baudrate=self.dev.baud, **kw)
        try:
            ident = drv.identify()
            drv.set_clock(beijing(self.clock()))
            if self.dev.operator:
                assert self.dev.stall is not None  # the configuration gives operator and stall together
                drv.bind_stall(
                    self.node_code,
                    self.dev.operator,
                    self.dev.stall,
                    self.node_name,
                    self.mapper.operator_name(self.dev.operator),
                )
        except BaseException:
            drv.close()
            raise
        self.driver = drv
        self.pushed, self.table_full = {}, False
        self.status.update(connected=True, serial_no=ident.serial_no, model=ident.model, last_error=None)
        logs.event("device_connected", device=self.dev.id, model=ident.model, serial_no=ident.serial_no)

    def _disconnect(self, error: str) -> None:
        if self.driver is not None:
            try:
                self.driver.close()
            except (OSError, serial.SerialException):
                pass
            self.driver = None
        self.status.update(connected=False, last_error=error)

    def connected(self) -> ScaleDriver:
        """The open driver: a round's steps run after :meth:`round` connected it (asserted)."""
        assert self.driver is not None, "a round's step runs on a connected scale"
        return self.driver

    # -- one round ------------------------------------------------------------------
    def round(self) -> int:
        """Stop-trade, collect, acknowledge once; returns the number of sale lines read."""
        if self.driver is None:
            self._connect()
        self.push_batches()
        self.enforce_stops()
        n = self._collect()
        self._acknowledge()
        self.status["last_ok_ms"] = time.time_ns() // 1_000_000
        return n

    def push_batches(self) -> None:
        """Load entered batches the scale lacks, and reload a held batch whose limit changed (a transfer out)."""
        if self.entries is None or not self.dev.operator:
            return
        self.entries.refresh()
        new = [
            b
            for b in self.entries.of_operator(self.dev.operator, self.clock())
            if self.pushed.get(b.batch) != b.limit_g and (b.batch in self.pushed or not self.table_full)
        ]
        if not new:
            return
        held = {b.batch_trace: b for b in self.connected().status().batches}
        for b in new:
            h = held.get(b.batch)
            if h is None and self.table_full:
                continue
            done = self._load(b, None) if h is None else h.limit_g == b.limit_g or self.change_limit(h, b)
            if done:
                self.pushed[b.batch] = b.limit_g

    def change_limit(self, held: BatchEntry, batch: EntryBatch) -> bool:
        """Reload ``held`` (the scale's batch) with the entered ``batch``'s lower limit, keeping its price
        (NODE-RETL-01).  Whether the batch counts as pushed (False: try again next round)."""
        return self._load(batch, held)

    def _load(self, b: EntryBatch, held: BatchEntry | None) -> bool:
        """LOAD_BATCH ``b`` (``held``: the scale's copy, reloaded); False only when the batch table is full."""
        try:
            self.connected().load_batch(
                b.batch,
                b.commodity,
                b.limit_g,
                held.unit_price_fen if held else (b.price_fen or self.default_price_fen),
                b.commodity_name,
            )
        except DeviceNak as exc:
            if exc.reason == "BATCH_TABLE_FULL":
                self.table_full = True
                logs.event("batch_table_full", logging.WARNING, device=self.dev.id, batch=b.batch)
                return False
            if exc.reason not in ("BAD_CODE", "BAD_PAYLOAD"):
                raise
            logs.event("batch_refused", logging.WARNING, device=self.dev.id, batch=b.batch, reason=exc.reason)
        else:
            logs.event(
                "batch_pushed" if held is None else "batch_limit_changed",
                device=self.dev.id,
                batch=b.batch,
                commodity=b.commodity,
                limit_g=b.limit_g,
            )
        return True

    def enforce_stops(self) -> None:
        """STOP_TRADE every batch the scale holds and sells that the platform stopped (NODE-STOP-01);
        :attr:`stops_applied` then names every instruction the scale has (the poller acknowledges those)."""
        stops = self.outbox.stopped_batches()
        if not stops:
            return
        st = self.connected().status()
        for b in st.batches:
            if b.batch_trace in stops and not b.stopped:
                self.connected().stop_trade(b.batch_trace, stops[b.batch_trace][:_REASON_CHARS])
                logs.event("stop_trade_pushed", device=self.dev.id, batch=b.batch_trace)
        self.stops_applied = set(stops)

    def _collect(self) -> int:
        nxt, _ = self.outbox.cursor(self.dev.id)
        total = 0
        for _ in range(1000):  # bounded: 1000 reads of up to read_max lines per round
            try:
                resp = self.connected().read_records(nxt, self.dev.read_max)
            except DeviceNak as exc:
                if exc.reason != "BAD_INDEX":
                    raise
                # the scale's storage was reset or replaced: read again from its start (source keys dedupe)
                logs.event("device_cursor_reset", logging.WARNING, device=self.dev.id, cursor=nxt)
                self.outbox.reset_cursor(self.dev.id)
                nxt = 1
                continue
            items = []
            for sale in resp.records:
                certs = self.outbox.batch_certificates(sale.batch_trace) if sale.batch_trace else {}
                for rtype, rec in self.mapper.records(sale, certs):
                    rt = self.catalog.types[rtype]
                    rec = in_catalogue_order(rt, self.form.narrow(rtype, rec))
                    errs = tuple(f for f in self.catalog.validate(rtype, rec) if f.severity == "error")
                    items.append(
                        Item(
                            rtype,
                            rec,
                            rt.business_date(rec) or sale.time.strftime("%Y%m%d"),
                            self.source,
                            f"sale:{sale.trace_code}:{rtype}",
                            sale.index,
                            errs,
                        )
                    )
            if resp.records or resp.next_index != nxt:
                self.outbox.add(items, cursor=(self.dev.id, resp.next_index))
            for it in items:
                if it.findings:
                    logs.event(
                        "record_invalid",
                        logging.WARNING,
                        device=self.dev.id,
                        rtype=it.rtype,
                        rule=it.findings[0].rule,
                        field=it.findings[0].field,
                    )
            total += len(resp.records)
            nxt = resp.next_index
            if not resp.records or resp.remaining == 0:
                break
        self.status["records_read"] += total
        return total

    def ackable(self) -> int:
        """The highest index the scale may free: all its records have a final verdict (NODE-DEV-01)."""
        return self.outbox.ackable_index(self.source)

    def _acknowledge(self) -> None:
        idx = self.ackable()
        _, acked = self.outbox.cursor(self.dev.id)
        if idx > acked:
            try:
                self.connected().ack_records(idx)
            except DeviceNak as exc:
                if exc.reason != "BAD_INDEX":
                    raise
                logs.event("device_ack_refused", logging.WARNING, device=self.dev.id, index=idx)
                return
            self.outbox.set_acked(self.dev.id, idx)
            self.status["acked_index"] = idx

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
                self._failures = 0
            except (DeviceError, serial.SerialException, OSError, ValueError) as exc:
                self._failures += 1
                err = getattr(exc, "en", None) or f"{type(exc).__name__}: {exc}"
                if self.status["connected"] or self._failures == 1:
                    logs.event("device_error", logging.WARNING, device=self.dev.id, error=str(err)[:200])
                self._disconnect(str(err)[:200])
                self._stop.wait(min(MAX_RETRY_S, self.dev.poll_s * 2 ** min(self._failures, 10)))
                continue
            self._idle(self.dev.poll_s)

    def _idle(self, seconds: float) -> None:
        """Wait up to ``seconds``; a pushed SALE_EVENT or stop() ends the wait early."""
        end = time.monotonic() + seconds
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                if self.driver is not None and self.driver.wait_event(min(left, 0.25)) is not None:
                    self.driver.events.clear()
                    return
                elif self.driver is None:
                    self._stop.wait(min(left, 0.25))
            except (serial.SerialException, OSError, ValueError):
                return

    def start(self) -> "ScaleWorker":
        self._thread = threading.Thread(target=self.run, name=f"node-scale-{self.dev.id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._disconnect("stopped")
