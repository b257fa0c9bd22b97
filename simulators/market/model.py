"""The market day as one SimPy model: one ``Environment`` owns time, actors are processes.

:class:`MarketModel` wires a generated city (``simulators.city``) to the flows
(``planning``, ``slaughter``, ``origin``, ``wholesale``, ``retail``) and to the outputs:
the :class:`~simulators.market.ledger.Ledger` (the truth) and an optional JSON-lines
``stream`` (records as nodes would upload them, in time order).

Time: simulated seconds from 00:00 of ``start`` (local clock); day ``d`` covers
``[d*86400, (d+1)*86400)``.  Every random draw comes from a named stream
``random.Random(f"{seed}:{name}")`` (:meth:`MarketModel.rng`), so the same seed gives the
same bytes, and the business flows do not depend on the fault switches.

Shared things are SimPy objects: each retail stall is a ``Resource`` (one customer at a
time); a holder's restocking is an ``Event`` that buyers waiting on a short supplier
wait for (with a deadline).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import random
from typing import IO, Callable

import simpy

from .errors import MarketConfigError
from .faults import Faults
from .issuer import TraceIssuer
from .ledger import Ledger
from .recordfaults import RECORD_SWITCHES, RecordFaults
from .retail import RETAIL_UPLOADS, check_retail_upload
from .pricing import PriceBook
from .rates import DAY_S, Rates
from .sources import SourceBook
from .stock import Holding, Lot, kg3
from .topology import build_topology

MAX_DAYS = 31


class MarketModel:
    """One simulated run over ``days`` days from ``start`` (see module doc).

    :param city: a :class:`simulators.city.model.City`.
    :param profile: the loaded profile (codes, commodities, identifiers).
    :param fault_rates: switch name → rate (``faults.parse_fault_options``).
    :param env: a ``simpy.Environment`` or ``simpy.rt.RealtimeEnvironment`` (default: a new
        ``Environment``).
    :param stream: text stream for the record JSON lines (``None``: no stream).
    :param progress: called as ``progress(t, model)`` every simulated hour.
    :param retail_upload: ``summary`` (a stall's day per lot) or ``lines`` (one record per receipt line),
        :mod:`.retail`; the ledger header names it only when it is not the default.
    :raises MarketConfigError: impossible configuration (checked before any event runs).
    """

    def __init__(
        self,
        city,
        profile,
        *,
        seed: int,
        start: dt.date,
        days: int = 1,
        rates: Rates | None = None,
        fault_rates: dict[str, float] | None = None,
        ledger: Ledger | None = None,
        stream: IO[str] | None = None,
        env: simpy.Environment | None = None,
        progress: Callable | None = None,
        mode: str = "fast",
        record_hooks: list | None = None,
        retail_upload: str = RETAIL_UPLOADS[0],
    ):
        if not 1 <= days <= MAX_DAYS:
            raise MarketConfigError(f"--days 须在1到{MAX_DAYS}之间", f"--days must be 1..{MAX_DAYS}")
        check_retail_upload(retail_upload)
        self.city = city
        self.p = profile
        self.seed = int(seed)
        self.start = start
        self.days = days
        self.mode = mode
        #: what retail nodes upload of their sales (:data:`.retail.RETAIL_UPLOADS`)
        self.retail_upload = retail_upload
        self.rates = rates or Rates.load()
        self.fault_rates = dict(self.rates.faults if fault_rates is None else fault_rates)
        self.faults = Faults(self.fault_rates, self.rates.upload, self.seed)
        self.topo = build_topology(city, profile.commodities, self.seed)
        self.record_faults = RecordFaults(
            self.faults,
            {n.code: n.role for n in self.topo.nodes},
            self.fault,
            {(a.node.code, a.position): a.scale for a in self.topo.stalls if a.scale},
        )
        self.env = env if env is not None else simpy.Environment()
        self.ledger = ledger if ledger is not None else Ledger(deadline_grace_s=self.rates.upload["deadline_grace_s"])
        self.stream = stream
        self.progress = progress
        self.record_hooks = list(record_hooks or [])
        self.commodities = profile.commodities
        self.issuer = TraceIssuer(profile.codes)
        self.ids = profile.identifiers
        self.sources = SourceBook(city.origins, profile.identifiers, self.seed)
        self.prices = PriceBook(profile.commodities, self.rates, self.seed, start)
        self.holdings: dict[str, Holding] = {}
        self.lots: dict[str, Lot] = {}
        self.lot_children: dict[str, list[str]] = {}
        self._restocked: dict[str, simpy.Event] = {}
        self._rngs: dict[str, random.Random] = {}
        self._cert_serial: dict[tuple, int] = {}
        self._origins_seen: set[str] = set()
        self._date_text: dict[int, tuple[str, str]] = {}
        self._dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
        self._outages: dict[tuple[str, int], tuple[float, float] | None] = {}
        self.species_of: dict[str, str] = self._species_map()
        self.counters = {"records": 0, "sales": 0, "untraceable": 0, "stockouts": 0}
        self.day_info: list[dict] = []
        self.slaughter_choice: dict[tuple, object] = {}  # (buyer, species) -> slaughterhouse actor
        self.samples: dict[str, int] = {}  # node -> detection samples taken
        self._check()
        from .devices import FastScales

        self.scales = FastScales(self)
        #: device mode: card readers and handhelds (:class:`simulators.market.terminals.DeviceTerminals`)
        self.terminals = None

    # -- configuration -----------------------------------------------------
    def _species_map(self) -> dict[str, str]:
        cat_species = {"猪肉": "pig", "牛肉": "cattle", "羊肉": "sheep", "禽肉": "poultry"}
        out = {}
        for c in self.commodities:
            if c.kind == "meat" and c.category in cat_species:
                out[c.code] = cat_species[c.category]
        for sp, spec in self.rates.species.items():
            if isinstance(spec, dict):
                for code in spec.get("offal", []):
                    out[code] = sp
        return out

    def _check(self) -> None:
        for sp in self.topo.slaughter_by_species:
            if sp not in self.rates.species:
                raise MarketConfigError(f"速率文件缺少物种 {sp}", f"rates: no [species] entry for {sp}")
        for a in self.topo.stalls:
            if not a.assortment:
                raise MarketConfigError(f"摊位 {a.code} 没有可售商品", f"stall {a.code} has nothing it could sell")
            for g in a.assortment:
                if self.commodities[g].kind == "meat" and self.species_of.get(g) not in self.topo.slaughter_by_species:
                    raise MarketConfigError(
                        f"摊位 {a.code} 的商品 {g} 没有屠宰厂供货", f"stall {a.code}: no slaughterhouse supplies {g}"
                    )

    # -- randomness, time, text --------------------------------------------
    def rng(self, name: str) -> random.Random:
        r = self._rngs.get(name)
        if r is None:
            r = self._rngs[name] = random.Random(f"{self.seed}:{name}")
        return r

    def date_of(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def ts(self, t: float) -> str:
        """Local clock text of simulated time ``t`` (``YYYY-MM-DDTHH:MM:SS.mmm``)."""
        day, sod = divmod(t, DAY_S)
        ms = int(round(sod * 1000))
        if ms >= 86400000:
            day, ms = day + 1, 0
        d = self._date_text.get(int(day))
        if d is None:
            date = self.date_of(int(day))
            d = self._date_text[int(day)] = (date.isoformat(), f"{date:%Y%m%d}")
        s, ms = divmod(ms, 1000)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        return f"{d[0]}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}"

    def ymd(self, t: float) -> str:
        """yyyyMMdd of simulated time ``t`` (for the records' date fields)."""
        day = int(t // DAY_S)
        d = self._date_text.get(day)
        if d is None:
            self.ts(day * DAY_S)
            d = self._date_text[day]
        return d[1]

    def node_ymd(self, node_code: str, t: float) -> str:
        """The business date a node's own clock shows at true time ``t`` (clock drift applied)."""
        return self.ymd(max(0.0, t + self.faults.drift(node_code)))

    @staticmethod
    def w3(x: float) -> str:
        return f"{x:.3f}"

    @staticmethod
    def p2(x: float) -> str:
        return f"{x:.2f}"

    def certificate(self, kind: str, region: str, day: int) -> str:
        key = (kind, region, day)
        n = self._cert_serial.get(key, 0) + 1
        self._cert_serial[key] = n
        if n >= 10000:
            raise MarketConfigError(
                "同一地区同日证明编号超过9999", f"more than 9999 {kind} certificates in {region} on day {day}"
            )
        return self.ids.new_certificate(kind, region, self.date_of(day), n)

    # -- stock ---------------------------------------------------------------
    def holding(self, actor) -> Holding:
        h = self.holdings.get(actor.code)
        if h is None:
            h = self.holdings[actor.code] = Holding(actor.code, actor.node.code)
        return h

    def restocked(self, holder: str) -> simpy.Event:
        ev = self._restocked.get(holder)
        if ev is None or ev.triggered:
            ev = self._restocked[holder] = self.env.event()
        return ev

    def notify_restock(self, holder: str) -> None:
        ev = self._restocked.pop(holder, None)
        if ev is not None and not ev.triggered:
            ev.succeed()

    def new_lot(
        self,
        *,
        ref: str,
        kind: str,
        goods: str,
        kg: float,
        holder,
        parent: str | None,
        from_node: str | None = None,
        cert: dict | None = None,
        origin: dict | None = None,
        supplier: tuple | None = None,
        price: float | None = None,
        sink: bool = False,
        extra: dict | None = None,
    ) -> Lot:
        """Create a lot (and its ledger line).  ``holder`` is an Actor, or ``None`` for a sink."""
        node = holder.node.code if holder is not None else None
        lot = Lot(
            ref,
            goods,
            holder.code if holder is not None else "",
            node or "",
            kg3(kg),
            kg3(kg),
            parent,
            dict(cert or {}),
            dict(origin or {}),
            supplier,
        )
        day = int(self.env.now // DAY_S)
        lot.day_in = day
        if price is not None:
            lot.price = price
        self.lots[ref] = lot
        if parent is not None and parent in self.lots:
            self.lot_children.setdefault(parent, []).append(ref)
        obj = {
            "k": "lot",
            "id": ref,
            "kind": kind,
            "parent": parent,
            "node": node,
            "holder": lot.holder,
            "goods_code": goods,
            "kg": lot.received,
            "t": round(self.env.now, 3),
            "day": day,
        }
        if from_node:
            obj["from_node"] = from_node
        if price is not None:
            obj["price"] = price
        if sink:
            obj["sink"] = True
        if extra:
            obj.update(extra)
        self.ledger.add(obj, self._text(obj))
        return lot

    def origin_entry(self, origin) -> str:
        """Ledger id of a city origin (written once)."""
        oid = f"O{origin.id}"
        if oid not in self._origins_seen:
            self._origins_seen.add(oid)
            obj = {
                "k": "lot",
                "id": oid,
                "kind": "origin",
                "parent": None,
                "node": None,
                "holder": "",
                "goods_code": "",
                "kg": 0.0,
                "t": round(self.env.now, 3),
                "day": int(self.env.now // DAY_S),
                "origin_type": origin.type,
                "name": origin.name,
                "region": origin.region_code,
            }
            base_id = self.sources.base_id(origin)
            if base_id:
                obj["base_id"] = base_id
            self.ledger.add(obj, self._text(obj))
        return oid

    def event(self, name: str, stream: bool = False, **data) -> None:
        obj = {"k": "event", "name": name, "t": round(self.env.now, 3), **data}
        text = self._text(obj, force=stream)
        self.ledger.add(obj, text)
        if stream and self.stream is not None:
            self.stream.write(text)
            self.stream.write("\n")

    def fault(self, name: str, **data) -> None:
        obj = {"k": "fault", "name": name, "t": round(self.env.now, 3), **data}
        self.ledger.add(obj, self._text(obj))

    def _text(self, obj: dict, force: bool = False) -> str | None:
        if self.ledger.sink is None and not force:
            return None
        return self._dumps(obj)

    # -- records -----------------------------------------------------------
    def outage(self, node: str, day: int) -> tuple[float, float] | None:
        key = (node, day)
        if key not in self._outages:
            o = self.faults.outage(node, day)
            self._outages[key] = None if o is None else (day * DAY_S + o[0], day * DAY_S + o[1])
        return self._outages[key]

    def upload_times(self, node: str, t: float, scale: bool) -> list[float]:
        up = self.rates.upload
        cyc = float(up["scale_cycle_s"] if scale else up["node_batch_s"])
        r = self.rng(f"upload:{node}")
        first = (math.floor(t / cyc) + 1) * cyc + r.uniform(0.0, 5.0 if scale else 30.0)
        for day in {int(t // DAY_S), int(first // DAY_S)}:
            o = self.outage(node, day)
            if o is not None and o[0] <= first < o[1] or (o is not None and o[0] <= t < o[1]):
                first = max(first, o[1] + r.uniform(0.0, 60.0))
        late, dup = self.faults.upload_extras(r)
        if late:
            first += late
            self.fault("late_upload", node=node, delay_s=round(late, 3))
        out = [round(first, 3)]
        if dup is not None:
            out.append(round(first + dup, 3))
            self.fault("duplicate_upload", node=node, after_s=round(dup, 3))
        return out

    def record(self, rtype: str, node: str, data: dict, scale: bool = False) -> None:
        """Emit one record made at ``node`` now: ledger line + stream line (same text)."""
        t = self.env.now
        rf = self.record_faults
        silent = rf.active and (
            rf.silent(node, int(t // DAY_S), self.ymd(t))
            or rf.scale_silent(rtype, node, data, int(t // DAY_S), self.ymd(t))
        )
        if rf.active and not silent:  # record-level faults (recordfaults.py): all rates 0 by default
            data = rf.apply(rtype, node, data, int(t // DAY_S), self.node_ymd(node, t))
        obj = {
            "k": "record",
            "t": round(t, 3),
            "ts": self.ts(t),
            "type": rtype,
            "node": node,
            "data": data,
            "upload": self.upload_times(node, t, scale),
        }
        if silent:  # the node uploads nothing of this day (its mistakes cannot show either)
            obj["upload"] = []
        off = self.faults.drift(node)
        if off:
            obj["clock_offset_s"] = off
        text = self._text(obj, force=self.stream is not None)
        self.ledger.add(obj, text)
        if self.stream is not None:
            self.stream.write(text)
            self.stream.write("\n")
        self.counters["records"] += 1
        for hook in self.record_hooks:
            hook(obj)

    # -- running -----------------------------------------------------------
    def run(self) -> Ledger:
        """Run every day to its end; returns the ledger.  Deterministic for a seed."""
        from . import planning

        self.ledger.add(self._header())
        for n in self.topo.nodes:
            obj = {"k": "node", "code": n.code, "type": n.role, "city_type": n.type, "name": n.name, "region": n.region}
            self.ledger.add(obj, self._text(obj))
        for a in self.topo.stalls:
            if self.faults.second_scale(a.code):
                self.fault(
                    "second_scale", node=a.node.code, holder=a.code, share=self.fault_rates.get("second_scale_use", 0)
                )
        for n in self.topo.nodes:
            off = self.faults.drift(n.code)
            if off:
                self.fault("clock_drift", node=n.code, offset_s=off)
        for d in range(self.days):
            self.env.process(planning.day(self, d))
        if self.progress is not None:
            self.env.process(self._ticker())
        if hasattr(self.env, "sync"):
            self.env.sync()
        gc.freeze()  # the city, topology and profile live all run long: the collector need not rescan them
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], 100_000), *thresholds[1:])  # events and records die young in bulk
        try:
            self.env.run(until=self.days * DAY_S)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            self.scales.close()
            if self.terminals is not None:
                self.terminals.close()
        self._close()
        return self.ledger

    def _header(self) -> dict:
        return {
            "k": "run",
            "format": "roucai-ledger",
            "version": 1,
            "preset": self.city.preset,
            "seed": self.seed,
            "city_seed": self.city.seed,
            "city": self.city.city_code,
            "start": self.start.isoformat(),
            "days": self.days,
            "mode": self.mode,
            "profile": self.p.lineage[0],
            "faults": {
                k: v for k, v in sorted(self.fault_rates.items()) if v or k not in RECORD_SWITCHES
            },  # a default ledger stays byte-identical
            "deadline_grace_s": self.rates.upload["deadline_grace_s"],
        } | ({"retail_upload": self.retail_upload} if self.retail_upload != RETAIL_UPLOADS[0] else {})

    def _ticker(self):
        while self.env.now < self.days * DAY_S:
            yield self.env.timeout(3600)
            self.progress(self.env.now, self)

    def _close(self) -> None:
        for ref, lot in self.lots.items():
            if lot.remaining > 0:
                self.event("end_stock", lot=ref, node=lot.node, holder=lot.holder, kg=lot.remaining)
