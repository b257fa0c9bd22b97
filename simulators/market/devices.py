"""The stalls' traceability scales, in both fidelities: one interface, one truth.

Both implementations weigh with the device simulators' own metrology
(:class:`simulators.devices.weighing.WeighingUnit`, class III counter scale: divisions
2/5 g, min 20 e, noise of a stable reading) seeded per stall by
``random.Random(f"{seed}:scale:{stall operator}")``, issue one trace code per sale line
from the stall operator's sequence, and price a line as the scale does
(``amount_fen = (net_g × unit_price_fen + 500) // 1000``).  So a seed gives the same
business records in both modes.

* :class:`FastScales` (``--mode fast``): the weighing unit alone; the ``scale_sale``
  record is emitted at the sale.
* :class:`DeviceScales` (``--mode devices``): a full :class:`~simulators.devices.scale.ScaleModel`
  per stall (in-memory store, bound to the stall), served by a
  :class:`~simulators.devices.runner.SimRunner` on its own virtual-time serial line
  (``simulators.serial`` ``SimClock``, 9600 baud, unpaced).  One host process per scale (the
  node's host software) owns the host end of the line and does, as frames through
  :func:`~simulators.devices.driver.sim_transact`:

  - LOAD_BATCH: before the vendor first sells from a lot at a price (the lot's first sale, and
    again on each new day's price), the retail sale waits for the host's LOAD_BATCH transaction
    (:meth:`DeviceScales.load`).  Unpaced lines take no simulated time, so sale times stay those
    of the fast mode.  (A load at the lot's arrival would need the day's stall price earlier than
    the fast mode draws it, which would change the prices.)
  - STOP_TRADE: a stop-trade order (:func:`simulators.market.wholesale.stop_trade`) reaches every
    stall scale the batch was loaded on (:meth:`DeviceScales.stop`); the scale then refuses the
    batch (TRADE_STOPPED).  A batch never loaded needs no frame: the host will not load it.
  - SALE_EVENT: the scale pushes each sale; the host ACKs it and emits the ``scale_sale`` record it
    carries.
  - ACK_RECORDS: at the first wake-up after each ``upload.scale_cycle_s`` × 60 s the host
    acknowledges the stored records, so the scale's memory never fills.

  The vendor sells on the scale (a call on the model: keys pressed, not wire traffic), and the model
  checks that every code the scale issues is the one the fast path would have issued (lock step).
  The business data are identical; records may come out in a different order within one instant,
  which moves upload jitter.  Every NAK and timeout of a host transaction is counted in
  :attr:`DeviceScales.stats` (``host_errors``, ``naks`` by reason, ``timeouts``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import deque

_LINE_IDS = itertools.count(1)
#: reason text of the STOP_TRADE frame (the market model stops trade only on a failed pesticide test)
STOP_REASON = "农残检测不合格"


def fmt_g(g: int) -> str:
    return f"{g // 1000}.{g % 1000:03d}"


def fmt_fen(f: int) -> str:
    return f"{f // 100}.{f % 100:02d}"


class FastScales:
    """Weighing and coding of traced sales without the device (see module doc)."""

    mode = "fast"

    def __init__(self, model):
        from simulators.devices.weighing import Metrology

        self.m = model
        self.metro = Metrology.from_profile(model.p.data("device_protocol"), "counter")
        #: grams a line must leave in its lot: a reading may round up by a division
        self.margin_g = 2 * self.metro.e2_g
        self.min_g = self.metro.min_g
        self._units: dict[str, object] = {}
        self.base = dt.datetime.combine(model.start, dt.time())

    def seed_of(self, a) -> int:
        return random.Random(f"{self.m.seed}:scale:{a.code}").randrange(2**32)

    def clock_base(self, a) -> dt.datetime:
        return self.base + dt.timedelta(seconds=self.m.faults.drift(a.node.code))

    def _unit(self, a):
        u = self._units.get(a.code)
        if u is None:
            from simulators.devices.weighing import WeighingUnit

            env = self.m.env
            u = self._units[a.code] = WeighingUnit(self.metro, random.Random(self.seed_of(a)), lambda: env.now)
        return u

    def sell(self, a, lot, want_g: int, price_fen: int, printed: bool):
        """Sell ``want_g`` of ``lot`` at stall ``a``: ``(net_g, trace_code, amount_fen, time)`` or ``None``."""
        u = self._unit(a)
        u.place(want_g, settled=True)
        r = u.read()
        u.place(0.0, settled=True)
        if not u.saleable(r):
            return None
        code = self.m.issuer.issue(a.code)
        when = (self.clock_base(a) + dt.timedelta(seconds=self.m.env.now)).replace(microsecond=0)
        amount = (r.net_g * price_fen + 500) // 1000
        self.m.record(
            "scale_sale",
            a.node.code,
            sale_data(
                self.m,
                a,
                code,
                lot.ref,
                lot.goods_code,
                self.m.commodities[lot.goods_code].name_zh,
                r.net_g,
                price_fen,
                amount,
                when,
                printed,
            ),
            scale=True,
        )
        return r.net_g, code, amount, when

    def load(self, a, lot, price_fen: int):
        """Make ``lot`` sellable at ``price_fen`` on stall ``a``'s scale: an event to wait for, or
        ``None`` when there is nothing to wait for (always, here: no device)."""
        return None

    def stop(self, lot, reason: str = STOP_REASON) -> None:
        """A stop-trade order reached ``lot`` (nothing to tell without a device)."""

    def close(self) -> None:
        pass


def sale_data(m, a, code, batch, goods, name, g, price_fen, amount_fen, when, printed) -> dict:
    return {
        "scale_id": a.scale or "",
        "node_id": a.node.code,
        "position_id": a.position or "",
        "retailer_id": a.code,
        "trace_code": code,
        "batch_id": batch,
        "goods_code": goods,
        "goods_name": name,
        "weight": fmt_g(g),
        "price": fmt_fen(price_fen),
        "amount": fmt_fen(amount_fen),
        "sale_time": f"{when.year:04d}{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}{when.second:02d}",
        "printed": "1" if printed else "0",
    }


class DeviceScales(FastScales):
    """Sales on simulated scales, records over virtual serial lines (see module doc)."""

    mode = "devices"

    def __init__(self, model, paced: bool = False):
        super().__init__(model)
        from profiles.device import get_protocol
        from simulators.devices.clock import DeviceClock
        from simulators.devices.driver import HostSession
        from simulators.devices.endpoint import DeviceEndpoint
        from simulators.devices.refusal import Refused
        from simulators.devices.runner import SimRunner
        from simulators.devices.scale import ScaleModel
        from simulators.devices.storage import MemoryScaleStore
        from simulators.serial import LineSettings, SimClock, open_line

        env = model.env
        #: bytes take their wire time at 9600 baud (True) or arrive at once (False, the default: paced
        #: lines cost ~10x the CPU and a LOAD_BATCH's wire time would move sale times off the fast mode's)
        self.paced = paced
        self.proto = get_protocol(profile=model.p)
        self.scales: dict[str, object] = {}
        self.runners: dict[str, object] = {}
        self.lines = []
        self.loaded: dict[str, dict] = {}  # stall -> {batch: unit price asked (fen); None: the load failed}
        self.printed: dict[str, bool] = {}
        self._refused = Refused  # imported here: device mode may be unavailable (see unavailable())
        #: ``naks``: NAK reason -> count over all host transactions (a timeout counts in ``timeouts``)
        self.stats = {
            "sales": 0,
            "refused": 0,
            "uploaded": 0,
            "transactions": 0,
            "host_errors": 0,
            "loads": 0,
            "stops": 0,
            "timeouts": 0,
            "naks": {},
        }
        self._queues: dict[str, deque] = {}  # stall -> host commands waiting: (request, done event)
        self._reads: dict[str, object] = {}  # stall -> the idle host's pending read (cancelled to wake it)
        run_id = next(_LINE_IDS)
        clock = SimClock(env)
        for i, a in enumerate(model.topo.stalls):
            line = open_line(
                f"market-{run_id}-{i}", clock=clock, settings=LineSettings(baudrate=9600), paced=self.paced
            )
            self.lines.append(line)
            scale = ScaleModel(
                MemoryScaleStore(),
                profile=model.p,
                seed=self.seed_of(a),
                time_source=lambda: env.now,
                clock=DeviceClock(lambda: env.now, start=self.clock_base(a)),
                paper_receipts=10**9,
                keep_receipts=0,  # receipts are printed, never read back
                max_batches=100_000,
            )
            scale.bind_stall(a.node.code, a.code, a.position or "0", a.node.name[:40], a.name[:20])
            self.scales[a.code] = scale
            self.loaded[a.code] = {}
            self._queues[a.code] = deque()
            self.runners[a.code] = SimRunner(env, DeviceEndpoint(self.proto, scale), line.device)
            env.process(
                self._host(
                    a,
                    line.host,
                    HostSession(self.proto, seq_start=i % 255),
                    random.Random(f"{model.seed}:host:{a.code}"),
                )
            )

    # -- the market model asks the host ----------------------------------------------------
    def load(self, a, lot, price_fen: int):
        """The host loads ``lot`` on stall ``a``'s scale at ``price_fen`` fen/kg (LOAD_BATCH, limit =
        the lot's received grams), unless it already did at that price (a reload with the day's new
        price keeps the batch's sold grams).  Returns the transaction's event (value: ``None`` or the
        :class:`~simulators.devices.driver.DeviceError`) for the sale to wait on, or ``None``."""
        from profiles.device import messages as msg

        loaded = self.loaded[a.code]
        if loaded.get(lot.ref) == price_fen:
            return None
        loaded[lot.ref] = price_fen
        self.stats["loads"] += 1
        req = msg.LoadBatchRequest(
            lot.ref,
            lot.goods_code,
            self.m.commodities[lot.goods_code].name_zh,
            max(1, int(round(lot.received * 1000))),
            price_fen,
        )
        return self._submit(a.code, req, lambda ev: self._load_done(a.code, lot.ref, ev))

    def stop(self, lot, reason: str = STOP_REASON) -> None:
        """Tell the scale of ``lot``'s holder that trade of the batch is stopped (STOP_TRADE), if the
        host ever loaded it there; nobody waits for the answer (its outcome lands in ``stats``)."""
        from profiles.device import messages as msg

        if lot.ref in self.loaded.get(lot.holder, ()):
            self.stats["stops"] += 1
            self._submit(lot.holder, msg.StopTradeRequest(lot.ref, reason))

    def _load_done(self, stall: str, ref: str, ev) -> None:
        if ev.value is not None:  # refused or unanswered: the next sale asks again
            self.loaded[stall][ref] = None

    def _submit(self, stall: str, req, on_done=None):
        done = self.m.env.event()
        if on_done is not None:
            done.callbacks.append(on_done)
        self._queues[stall].append((req, done))
        rd = self._reads.get(stall)
        if rd is not None and not rd.triggered:
            rd.succeed(b"")  # wakes the idle host; the line end drops a triggered read
        return done

    # -- the vendor ----------------------------------------------------------------------
    def sell(self, a, lot, want_g: int, price_fen: int, printed: bool):
        Refused = self._refused
        if lot.ref not in self.loaded[a.code]:
            raise RuntimeError(f"stall {a.code} sells {lot.ref} before the host was asked to load it")
        scale = self.scales[a.code]
        try:
            rec = scale.sell(lot.ref, weight_g=want_g)
        except Refused:
            self.stats["refused"] += 1
            return None
        finally:
            scale.place(0.0, settled=True)
        expected = self.m.issuer.issue(a.code)
        if rec.trace_code != expected:
            raise RuntimeError(f"scale {a.code} issued {rec.trace_code}, the model expected {expected}")
        self.printed[rec.trace_code] = printed
        self.stats["sales"] += 1
        self.runners[a.code].kick()
        return rec.weight_g, rec.trace_code, rec.amount_fen, rec.time

    # -- the node's host software ------------------------------------------------------------
    def _host(self, a, end, session, rng):
        """The node's host software for one scale, sole owner of the line's host end.

        Idle, it waits for a byte (a pushed SALE_EVENT) or a command (:meth:`_submit` cancels the
        pending read to wake it).  On bytes: ACK each event.  At the first wake-up after each
        ``upload.scale_cycle_s`` × 60 seconds it acknowledges the stored records (ACK_RECORDS) so the
        scale's memory never fills.  Then it runs the queued commands in order (LOAD_BATCH,
        STOP_TRADE; also those queued meanwhile), one :func:`sim_transact` each, and succeeds each
        command's event with ``None`` or the :class:`DeviceError`.  Last it emits the ``scale_sale`` records of the events received
        (also those that arrived during a transaction).

        The acknowledgement rides on a wake-up rather than on a timer: a scale that sells nothing
        stores nothing new, and a waiting read with a timeout would leave one stale timer per sale
        on the event heap."""
        from profiles.device import messages as msg
        from simulators.devices.driver import DeviceError, sim_transact

        env = self.m.env
        queue = self._queues[a.code]
        reads = self._reads
        ack_every = 60.0 * float(self.m.rates.upload["scale_cycle_s"])
        next_ack = env.now + rng.uniform(0, ack_every)
        last_index = 0
        acked = 0
        events: list = []
        while True:
            rd = reads[a.code] = end.read_event(1)
            data = yield rd
            if data:
                data += end.read(end.in_waiting)
                items, ack = session.feed(data, -1, -1)
                if ack:
                    end.write(ack)
                events.extend(obj for kind, obj in items if kind == "event")
            if env.now >= next_ack:
                next_ack = env.now + ack_every
                if last_index > acked:
                    try:
                        yield from sim_transact(env, end, session, msg.AckRecordsRequest(last_index), events=events)
                        acked = last_index
                        self.stats["transactions"] += 1
                    except DeviceError as exc:
                        self._count_error(exc)
            while queue:
                req, done = queue.popleft()
                outcome = None
                try:
                    yield from sim_transact(env, end, session, req, events=events)
                    self.stats["transactions"] += 1
                except DeviceError as exc:
                    outcome = exc
                    self._count_error(exc)
                done.succeed(outcome)
            for ev in events:
                for r in ev.record if isinstance(ev, msg.SaleEvent) else ():
                    self.m.record(
                        "scale_sale",
                        a.node.code,
                        sale_data(
                            self.m,
                            a,
                            r.trace_code,
                            r.batch_trace,
                            r.commodity,
                            r.commodity_name,
                            r.weight_g,
                            r.unit_price_fen,
                            r.amount_fen,
                            r.time,
                            self.printed.pop(r.trace_code, True),
                        ),
                        scale=True,
                    )
                    self.stats["uploaded"] += 1
                    last_index = max(last_index, r.index)
            events.clear()

    def _count_error(self, exc) -> None:
        from simulators.devices.driver import DeviceNak, DeviceTimeout

        st = self.stats
        st["host_errors"] += 1
        if isinstance(exc, DeviceNak):
            st["naks"][exc.reason] = st["naks"].get(exc.reason, 0) + 1
        elif isinstance(exc, DeviceTimeout):
            st["timeouts"] += 1

    def close(self) -> None:
        """Tear the serial lines down (idempotent)."""
        for ln in self.lines:
            ln.close()


def unavailable() -> tuple[str, str] | None:
    """Why device mode cannot run here (``None``: it can)."""
    try:
        import simulators.devices.scale  # noqa: F401
        import simulators.serial  # noqa: F401
    except ImportError as exc:
        return (f"设备模式不可用：{exc}", f"device mode is not available: {exc}")
    return None


def attach(model) -> None:
    """Switch ``model`` to device mode (before :meth:`MarketModel.run`)."""
    model.scales = DeviceScales(model)
    model.mode = "devices"
    from .terminals import attach as attach_terminals

    attach_terminals(model)  # card readers at the wholesale counters, handhelds at the gates
