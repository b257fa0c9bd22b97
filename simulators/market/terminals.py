"""Device mode at the market's gates and counters: service-card readers and handheld terminals.

:class:`DeviceTerminals` (attached by :func:`attach`, ``--mode devices`` only; in fast mode
``model.terminals`` is ``None`` and the flows build these records themselves):

* **Service cards (卡单同行).**  At start every card of the city fixture is issued: a
  :class:`~simulators.devices.card.MifareCard` written with the profile's card layout
  (:mod:`profiles.device.card_layout`; holder = the card's operator, issuing node = the operator's
  node, the holder name cut to the layout's 14 GB18030 bytes, kind 主卡/副卡 from the fixture).
  Every node that sells by ``market_tran_info`` (meat and vegetable wholesale markets, distribution
  centres: ``topology.ENTRY_ROLES``) has one :class:`~simulators.devices.reader.ReaderModel` on its
  own virtual-time serial line (``SimClock``, 9600 baud, unpaced: no simulated time passes), served
  by a :class:`~simulators.devices.runner.SimRunner`.  The counter serves one trade at a time (a
  SimPy ``Resource``): when a buyer with a card trades, the card is presented (the reader pushes a
  CARD_EVENT) and the market's host reads it over the wire through
  :func:`~simulators.devices.driver.sim_transact`: POLL, then AUTH (key A) + READ_BLOCK of block 1
  (application id) and of both base-record copies (sectors 1 and 2), then HALT — 12 transactions.
  The blocks are interpreted with the profile's layout; the trade record's buyer is the operator
  whose code was read (name from the market's register of operators), not the model's actor.
  A cash buyer (散户) has no card: nothing is read.  A registered buyer without a card trades under
  its registration (counted as ``no_card``).
* **A card that cannot be read** (the reader NAKs — e.g. ``wrong_key``: AUTH_FAILED —, no answer,
  a card whose base record fails the layout's checks, or an operator code not in the register):
  the trade goes ahead as a cash trade.  The market cannot name the buyer, so the record names the
  market's own operator record and 散户, and the goods leave the traced chain (``consume``): the
  buyer's stall gets no traceable stock from it.  Each such trade is counted in
  ``stats["unreadable"]`` by reason (the NAK reason name, ``timeout``, the layout's rule id, or
  ``unregistered``) and written to the ledger as a ``card_unreadable`` fault.
* **Handhelds (手持终端).**  Every slaughterhouse and every entry node has one
  :class:`~simulators.devices.handheld.HandheldTerminal` with the node's clock (clock drift applied).
  Pig intake (``animal_in_info``) and market entries (``market_in_info_base``/``_detail``, one per
  certificate batch) are registered on it — its own record building and catalogue checks — and the
  records the model emits are taken from its outbox (no upload, no server: the market simulation
  has no node server).  A record the handheld refuses is a harness error (:class:`EntryError`).

The same seed gives the same business records as the fast mode (with no reader faults): the
buyers the cards name are the model's buyers, the handhelds build the fast mode's records, and
the card reads take no simulated time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

from .topology import ENTRY_ROLES

_LINE_IDS = itertools.count(1)
#: reasons of an unreadable card besides the reader's NAK reason names (keys of ``stats["unreadable"]``)
TIMEOUT = "timeout"
UNREGISTERED = "unregistered"


def fit_gb18030(text: str, nbytes: int) -> str:
    """The longest prefix of ``text`` that fits ``nbytes`` bytes of GB18030 (characters that cannot be
    encoded are dropped)."""
    out, used = [], 0
    for ch in text:
        try:
            n = len(ch.encode("gb18030"))
        except UnicodeEncodeError:
            continue
        if used + n > nbytes:
            break
        out.append(ch)
        used += n
    return "".join(out)


class CardReader:
    """One market's counter: the reader model, its line, runner, host session and the counter lock."""

    def __init__(self, env, node, proto, layout, profile, faults, seed: int, run_id: int, index: int):
        import simpy

        from simulators.devices.driver import HostSession
        from simulators.devices.endpoint import DeviceEndpoint
        from simulators.devices.reader import ReaderModel
        from simulators.devices.runner import SimRunner
        from simulators.serial import LineSettings, SimClock, open_line

        self.node = node
        self.model = ReaderModel(profile=profile, faults=faults, seed=seed, time_source=lambda: env.now, layout=layout)
        self.line = open_line(
            f"market-reader-{run_id}-{index}", clock=SimClock(env), settings=LineSettings(baudrate=9600), paced=False
        )
        self.endpoint = DeviceEndpoint(proto, self.model)
        self.runner = SimRunner(env, self.endpoint, self.line.device)
        self.session = HostSession(proto, seq_start=index % 255)
        self.lock = simpy.Resource(env, capacity=1)
        self.held = None
        #: per counter: trades served, cards read, CARD_EVENTs received, host transactions
        self.stats = {"trades": 0, "reads": 0, "card_events": 0, "transactions": 0}


class DeviceTerminals:
    """Card readers at the wholesale counters and handhelds at the gates (see module doc).

    :param model: a :class:`~simulators.market.model.MarketModel` (before :meth:`run`).
    Each reader has its own empty :class:`~simulators.devices.faults.FaultSet`
    (``readers[node].model.faults.add("wrong_key", "reader")`` breaks the cards presented there).
    """

    def __init__(self, model):
        from profiles.device import get_protocol
        from profiles.device.card_layout import CardHolder, load_card_layout
        from simulators.devices.card import MifareCard
        from simulators.devices.faults import FaultSet

        self.m = model
        env = model.env
        self.proto = get_protocol(profile=model.p)
        self.layout = load_card_layout(model.p)
        name_bytes = int(model.p.data("device_protocol")["card"]["holder_name_bytes"])
        ops = {o.code: o for o in model.city.operators}
        #: the physical cards by UID (hex, as in the city fixture), issued with the profile's layout
        self.cards: dict[str, MifareCard] = {}
        for c in model.city.cards:
            op = ops.get(c.operator_code)
            holder = CardHolder(
                c.operator_code,
                op.node_code if op else c.operator_code[:9],
                fit_gb18030(op.name if op else "", name_bytes),
                int(c.card_kind),
                int(c.card_type),
            )
            self.cards[c.uid] = MifareCard.issued(self.layout, bytes.fromhex(c.uid), holder)
        #: the market's register of operators (备案): operator code -> actor
        self.register = {}
        for n in model.topo.nodes:
            for a in [n.self_actor, *n.actors]:
                self.register.setdefault(a.code, a)
        run_id = next(_LINE_IDS)
        self.readers: dict[str, CardReader] = {}
        for i, n in enumerate(x for x in model.topo.nodes if x.role in ENTRY_ROLES):
            seed = random.Random(f"{model.seed}:reader:{n.code}").randrange(2**32)
            self.readers[n.code] = CardReader(env, n, self.proto, self.layout, model.p, FaultSet(), seed, run_id, i)
        self.handhelds: dict[str, object] = {}
        for n in model.topo.nodes:
            if n.role == "slaughterhouse" or n.role in ENTRY_ROLES:
                self.handhelds[n.code] = self._handheld(n)
        #: ``unreadable``: reason -> trades whose card could not be read (they went ahead as cash)
        self.stats = {"card_trades": 0, "cash_trades": 0, "no_card": 0, "reads": 0, "unreadable": {}, "entries": {}}

    # -- handhelds ------------------------------------------------------------------------
    def _handheld(self, node):
        from simulators.devices.handheld import HandheldTerminal

        m = self.m
        base = dt.datetime.combine(m.start, dt.time())
        drift = m.faults.drift(node.code)
        env = m.env
        kind = "slaughterhouse" if node.role == "slaughterhouse" else "wholesale"
        # the node's own clock (naive local time; drift applied as the fast mode's node_ymd does)
        return HandheldTerminal(
            node.code,
            node.name[:100],
            "",
            "",
            node_kind=kind,
            profile=m.p,
            now=lambda: base + dt.timedelta(seconds=max(0.0, env.now + drift)),
        )

    def _emit(self, node, hh) -> None:
        """Emit what the handheld queued (its outbox), in order, as records of ``node``."""
        entries = self.stats["entries"]
        for rtype, rec in hh.outbox:
            self.m.record(rtype, node.code, rec)
            entries[rtype] = entries.get(rtype, 0) + 1
        hh.outbox.clear()

    def animal_intake(self, node, seller, cert: str, heads: int, farm, ear_tags=None) -> None:
        """A truck of ``heads`` animals from ``farm`` with 产地检疫证明 ``cert`` (and ``ear_tags``: first and last
        tag, or ``None``) entered slaughterhouse ``node``."""
        hh = self.handhelds[node.code]
        hh.register_animal_intake(
            seller.code,
            seller.name[:50],
            cert,
            heads,
            origin_region=farm.region_code,
            farm_name=farm.name[:100],
            ear_tags=ear_tags,
        )
        self._emit(node, hh)

    def veg_entry(self, w, base, cert: str, batch: str, goods: str, kg: float, base_id: str | None = None) -> None:
        """A vegetable truck (no upstream ledger: 产地证明 ``cert``) entered for wholesaler ``w``; ``batch``
        is the batch code the node's system issued under ``w``'s operator code."""
        hh = self.handhelds[w.node.code]
        hh.register_market_entry(
            w.code,
            w.name[:50],
            [(goods, self.m.w3(kg))],
            prov_id=cert,
            plate=w.plate,
            origin_region=base.region_code,
            base_name=base.name[:100],
            base_id=base_id,
            batch_id=batch,
        )
        self._emit(w.node, hh)

    def market_entry(self, node, buyer, lines, supplier_node) -> None:
        """``buyer`` enters ``lines`` bought from ``supplier_node`` (one certificate batch) at ``node``:
        the lines keep their upstream trace codes (the chain link)."""
        first = lines[0]
        for ln in lines[1:]:
            if ln.cert != first.cert or ln.origin != first.origin:
                raise RuntimeError(f"entry batch {first.ref}: lines differ in certificates or origin ({ln.ref})")
        hh = self.handhelds[node.code]
        o = first.origin
        hh.register_market_entry(
            buyer.code,
            buyer.name[:50],
            [(ln.goods_code, self.m.w3(ln.received), ln.ref) for ln in lines],
            plate=buyer.plate,
            origin_region=o.get("area_origin_id"),
            base_name=o.get("base_name"),
            base_id=o.get("base_id"),
            supplier=(supplier_node.code, supplier_node.name[:100]),
            **{k: v for k, v in first.cert.items() if v},
        )
        self._emit(node, hh)

    # -- the counter ------------------------------------------------------------------------
    def step_up(self, seller):
        """SimPy process part (``yield from``): take ``seller``'s counter (one trade at a time where the
        market has a card reader; released by :meth:`leave`).  A free counter is taken at once, with no
        SimPy step, so the order of same-instant trades stays the fast mode's."""
        rd = self.readers.get(seller.node.code)
        if rd is None:
            return
        req = rd.lock.request()
        if not req.triggered:
            yield req
        rd.held = req

    def identify(self, seller, buyer):
        """SimPy process part (``yield from``), at the counter: who the trade record names.

        The registered actor whose operator code the buyer's card holds (read over the line), ``buyer``
        itself (no reader here, or a registered buyer without a card), or ``None`` (a cash buyer, or a
        card that could not be read: see module doc)."""
        rd = self.readers.get(seller.node.code)
        if rd is None:
            return buyer
        rd.stats["trades"] += 1
        if buyer is None:
            self.stats["cash_trades"] += 1
            return None
        card = self.cards.get(buyer.card) if buyer.card else None
        if card is None:
            self.stats["no_card"] += 1
            return buyer
        self.stats["card_trades"] += 1
        reason, reading = yield from self._read(rd, card)
        if reason is None:
            who = self.register.get(reading.holder.operator_code)
            if who is not None:
                self.stats["reads"] += 1
                return who
            reason = UNREGISTERED
        un = self.stats["unreadable"]
        un[reason] = un.get(reason, 0) + 1
        self.m.fault(
            "card_unreadable",
            node=seller.node.code,
            holder=seller.code,
            buyer=buyer.code,
            uid=buyer.card,
            reason=reason,
        )
        return None

    def leave(self, seller) -> None:
        """The buyer leaves ``seller``'s counter (its trade, if any, recorded): the next may step up."""
        rd = self.readers.get(seller.node.code)
        if rd is not None and rd.held is not None:
            req, rd.held = rd.held, None
            rd.lock.release(req)

    def _read(self, rd: CardReader, card):
        """Present ``card`` and read it over the line: ``(None, reading)`` or ``(reason, reading or None)``."""
        from profiles.device import messages as msg
        from simulators.devices.driver import DeviceNak, DeviceTimeout, sim_transact

        env = self.m.env
        L = self.layout
        end, session = rd.line.host, rd.session
        rd.model.present(card)
        rd.runner.kick()  # the CARD_EVENT leaves now
        events: list = []
        blocks: dict[int, bytes] = {}

        def tx(request):
            rd.stats["transactions"] += 1
            return sim_transact(env, end, session, request, events=events)

        try:
            poll = yield from tx(msg.PollRequest())
            if not poll.present:
                return "NO_CARD", None
            for s in [0] + L.base_sectors:
                yield from tx(msg.AuthRequest(s, 0x60, L.key_a))
                for b in [1] if s == 0 else L.data_blocks(s):
                    blocks[b] = (yield from tx(msg.ReadBlockRequest(b))).data
            yield from tx(msg.HaltRequest())
        except DeviceNak as exc:
            return exc.reason, None
        except DeviceTimeout:
            return TIMEOUT, None
        finally:
            rd.stats["card_events"] += sum(1 for e in events if isinstance(e, msg.CardEvent))
        rd.stats["reads"] += 1
        reading = L.read(blocks, poll.uid, self.m.p.codes)
        if not reading.ok:
            errors = [f.rule for f in reading.findings if f.severity == "error"]
            return (errors[0] if errors else "PERC-CARD-02"), reading
        return None, reading

    def close(self) -> None:
        """Tear the reader lines down (idempotent)."""
        for rd in self.readers.values():
            rd.line.close()


def attach(model) -> DeviceTerminals:
    """Give ``model`` card readers and handhelds (device mode; before :meth:`MarketModel.run`)."""
    model.terminals = DeviceTerminals(model)
    return model.terminals
