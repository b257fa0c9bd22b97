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
  per stall (in-memory store, bound to the stall, batches loaded from the stall's lots), served
  by a :class:`~simulators.devices.runner.SimRunner` on its own virtual-time serial line
  (``simulators.serial`` ``SimClock``, 9600 baud).  The vendor sells on the scale (a call on
  the model: keys pressed, not wire traffic);   The scale pushes each sale as a SALE_EVENT frame; the node's host process (one per
  scale) ACKs it and emits the ``scale_sale`` record it carries, and every hour
  acknowledges the stored records (ACK_RECORDS through
  :func:`~simulators.devices.driver.sim_transact`).  The business data are identical;
  records may come out in a different order within one instant, which moves upload jitter.  Batches are loaded on the model
  directly (the host's LOAD_BATCH push is not put on the wire), and the model checks that
  every code the scale issues is the one the fast path would have issued (lock step).
"""
from __future__ import annotations

import datetime as dt
import itertools
import random

_LINE_IDS = itertools.count(1)


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
        return random.Random(f"{self.m.seed}:scale:{a.code}").randrange(2 ** 32)

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
        self.m.record("scale_sale", a.node.code, sale_data(self.m, a, code, lot.ref, lot.goods_code,
                                                           self.m.commodities[lot.goods_code].name_zh, r.net_g,
                                                           price_fen, amount, when, printed), scale=True)
        return r.net_g, code, amount, when

    def close(self) -> None:
        pass


def sale_data(m, a, code, batch, goods, name, g, price_fen, amount_fen, when, printed) -> dict:
    return {"scale_id": a.scale or "", "node_id": a.node.code, "position_id": a.position or "",
            "retailer_id": a.code, "trace_code": code, "batch_id": batch, "goods_code": goods, "goods_name": name,
            "weight": fmt_g(g), "price": fmt_fen(price_fen), "amount": fmt_fen(amount_fen),
            "sale_time": when.strftime("%Y%m%d%H%M%S"), "printed": "1" if printed else "0"}


class DeviceScales(FastScales):
    """Sales on simulated scales, records over virtual serial lines (see module doc)."""

    mode = "devices"

    def __init__(self, model, paced: bool = False):
        super().__init__(model)
        from profiles.device import get_protocol
        from simulators.devices.clock import DeviceClock
        from simulators.devices.driver import HostSession
        from simulators.devices.endpoint import DeviceEndpoint
        from simulators.devices.faults import FaultSet
        from simulators.devices.runner import SimRunner
        from simulators.devices.scale import ScaleModel
        from simulators.devices.storage import MemoryScaleStore
        from simulators.serial import LineSettings, SimClock, open_line
        env = model.env
        #: bytes take their wire time at 9600 baud (True) or arrive at once (False, the default:
        #: paced SimClock lines lose characters to float rounding after a few simulated hours)
        self.paced = paced
        self.proto = get_protocol(profile=model.p)
        self.scales: dict[str, object] = {}
        self.runners: dict[str, object] = {}
        self.lines = []
        self.loaded: dict[str, dict] = {}      # stall -> {batch: unit price loaded (fen)}
        self.printed: dict[str, bool] = {}
        self.stats = {"sales": 0, "refused": 0, "uploaded": 0, "transactions": 0, "host_errors": 0}
        run_id = next(_LINE_IDS)
        clock = SimClock(env)
        for i, a in enumerate(model.topo.stalls):
            line = open_line(f"market-{run_id}-{i}", clock=clock, settings=LineSettings(baudrate=9600),
                             paced=self.paced)
            self.lines.append(line)
            scale = ScaleModel(MemoryScaleStore(), profile=model.p, seed=self.seed_of(a), time_source=lambda: env.now,
                               clock=DeviceClock(lambda: env.now, start=self.clock_base(a)),
                               paper_receipts=10 ** 9, keep_receipts=1,
                               max_batches=100_000)
            scale.bind_stall(a.node.code, a.code, a.position or "0", a.node.name[:40], a.name[:20])
            self.scales[a.code] = scale
            self.loaded[a.code] = {}
            self.runners[a.code] = SimRunner(env, DeviceEndpoint(self.proto, scale), line.device)
            env.process(self._host(a, scale, line.host, HostSession(self.proto, seq_start=i % 255),
                                   random.Random(f"{model.seed}:host:{a.code}")))

    def sell(self, a, lot, want_g: int, price_fen: int, printed: bool):
        from simulators.devices.refusal import Refused
        scale = self.scales[a.code]
        loaded = self.loaded[a.code]
        if loaded.get(lot.ref) != price_fen:       # new batch, or the day's new price (a reload keeps sold_g)
            scale.load_batch(lot.ref, lot.goods_code, self.m.commodities[lot.goods_code].name_zh,
                             max(1, int(round(lot.received * 1000))), price_fen)
            loaded[lot.ref] = price_fen
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

    def _host(self, a, scale, end, session, rng):
        """The node's host software for one scale: listen for SALE_EVENT frames (ACK each, emit
        its records); at the first sale after each ``upload.scale_cycle_s`` × 60 seconds, acknowledge
        the stored records (ACK_RECORDS) so the scale's memory never fills.

        The acknowledgement rides on a sale rather than on a timer: a scale that sells nothing
        stores nothing new, and a waiting read with a timeout would leave one stale timer per sale
        on the event heap."""
        from profiles.device import messages as msg
        from simulators.devices.driver import DeviceError, sim_transact
        env = self.m.env
        ack_every = 60.0 * float(self.m.rates.upload["scale_cycle_s"])
        next_ack = env.now + rng.uniform(0, ack_every)
        last_index = 0
        acked = 0
        events: list = []
        while True:
            data = yield end.read_event(1)
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
                    except DeviceError:
                        self.stats["host_errors"] += 1
            for ev in events:
                for r in (ev.record if isinstance(ev, msg.SaleEvent) else ()):
                    self.m.record("scale_sale", a.node.code, sale_data(
                        self.m, a, r.trace_code, r.batch_trace, r.commodity, r.commodity_name, r.weight_g,
                        r.unit_price_fen, r.amount_fen, r.time, self.printed.pop(r.trace_code, True)), scale=True)
                    self.stats["uploaded"] += 1
                    last_index = max(last_index, r.index)
            events.clear()

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
