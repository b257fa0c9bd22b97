"""Trade between operators: a buyer's trip to a supplier, the supplier's records, the
buyer's entry records; vegetable detection and the stop-trade broadcast.

A trip (:func:`trip`) takes what the supplier holds (first in, first out over lots), one
*line* per source lot, each line with a new trace code of the supplier (its
``tran_id``); the voucher of the transaction is the first line's code.  When the supplier
is short, the buyer waits for the supplier's next restock, until ``deadline`` (then the
rest is a ``stockout`` event).  Record types by supplier: slaughterhouse →
``meat_out_info_base``/``_detail`` (with a 动物产品检疫合格证 and a 肉品品质检验合格证 per
transaction); wholesale market or distribution centre → ``market_tran_info_base``/
``_detail``.  A buyer of ``None`` is a cash buyer (散户, no card): the record names the
market's own operator record and ``散户``, and the goods leave the traceable chain
(``consume`` event).

After 20–60 min of travel the buyer's node registers the entry, grouped by certificate
(批次 = the same operator + the same certificate): wholesale/distribution centre →
``market_in_info_base``/``_detail``; farmers' market or shop → ``retail_market_in_info_*``;
supermarket → ``super_market_in_info_*``; canteen → ``team_buy_acceptance_info`` (at the
canteen's receiving hour; the goods are consumed there).  ``batch_id`` of every entry line
is the upstream line's trace code.
"""

from __future__ import annotations

from . import slaughter as slaughterhouse
from .rates import DAY_S
from .stock import kg3

CASH_BUYER_ZH = "散户"


def trip(m, seller, buyer, goods: dict[str, float], t_at: float, deadline: float, d: int, f):
    env = m.env
    if env.now < t_at:
        yield env.timeout(t_at - env.now)
    want = {g: kg for g, kg in goods.items() if kg > 0}
    hold = m.holding(seller)
    r = m.rng(f"trip:{seller.code}")
    term = m.terminals  # device mode: card readers (one buyer at a time at their counters)
    while want:
        if term is not None:
            yield from term.step_up(seller)
        pieces = []
        for g in sorted(want):
            for lot, kg in hold.take(g, want[g]):
                pieces.append((lot, kg))
                want[g] = kg3(want[g] - kg)
        want = {g: kg for g, kg in want.items() if kg > 0}
        if pieces:
            who = buyer
            if term is not None:  # the buyer as read from the service card (None: trades as cash)
                who = yield from term.identify(seller, buyer)
            lines = sell(m, seller, who, pieces, d)
            if who is not None:
                travel = r.uniform(1200, 3600)
                arrive_at = env.now + travel
                if who.node.role == "canteen":
                    arrive_at = max(arrive_at, d * DAY_S + m.rates.sample_time("canteen_acceptance", r))
                env.process(arrive(m, seller, who, lines, arrive_at, d))
        if term is not None:
            term.leave(seller)
        if not want:
            return
        if env.now >= deadline:
            m.counters["stockouts"] += 1
            m.event(
                "stockout",
                node=seller.node.code,
                holder=seller.code,
                buyer=buyer.code if buyer is not None else CASH_BUYER_ZH,
                short={g: kg for g, kg in sorted(want.items())},
            )
            return
        yield m.restocked(seller.code) | env.timeout(deadline - env.now)


def sell(m, seller, buyer, pieces, d: int) -> list:
    """Emit the supplier's transaction records; returns the new line lots."""
    node = seller.node
    now = m.env.now
    day_txt = m.node_ymd(node.code, now)
    slaughter = node.role == "slaughterhouse"
    extra_cert = {}
    if slaughter:
        extra_cert = {
            "quarantine_animal_products_id": m.certificate("product_quarantine", node.region, d),
            "inspection_meat_id": m.certificate("meat_quality", node.region, d),
        }
    buyer_code = buyer.code if buyer is not None else node.self_actor.code
    buyer_name = buyer.name[:50] if buyer is not None else CASH_BUYER_ZH
    dest = buyer.node.name[:100] if buyer is not None else None
    lines = []
    details = []
    for lot, kg in pieces:
        code = m.issuer.issue(seller.code)
        g = lot.goods_code
        price = m.prices.ex_slaughter(g, d) if slaughter else m.prices.wholesale(g, d)
        cert = {**lot.cert, **extra_cert}
        line = m.new_lot(
            ref=code,
            kind="line",
            goods=g,
            kg=kg,
            holder=buyer,
            parent=lot.ref,
            from_node=node.code,
            cert=cert,
            origin=lot.origin,
            supplier=(node.code, node.name[:100]),
            price=price,
            sink=buyer is None,
        )
        lines.append(line)
        name = m.commodities[g].name_zh
        if slaughter:
            det = {
                "tran_id": code,
                **extra_cert,
                "meat_code": g,
                "meat_name": name,
                "weight": m.w3(kg),
                "price": m.p2(price),
            }
        else:
            det = {
                "market_id": node.code,
                "market_name": node.name[:100],
                "tran_date": day_txt,
                "wholesaler_id": seller.code,
                "wholesaler_name": seller.name[:50],
                "retailer_id": buyer_code,
                "retailer_name": buyer_name,
                "tran_id": code,
                "batch_id": lot.ref[:20],
                "goods_code": g,
                "goods_name": name,
                "weight": m.w3(kg),
                "price": m.p2(price),
            }
        if dest:
            det["dest"] = dest
        details.append(det)
    voucher = lines[0].ref
    if slaughter:
        base = {
            "butcher_fac_id": node.code,
            "butcher_fac_name": node.name[:100],
            "tran_date": day_txt,
            "seller_id": seller.code,
            "seller_name": seller.name[:50],
            "buyer_id": buyer_code,
            "buyer_name": buyer_name,
            "tran_id": voucher,
        }
        if dest:
            base["dest"] = dest
        m.record("meat_out_info_base", node.code, base)
        for det in details:
            m.record("meat_out_info_detail", node.code, det)
        for intake in sorted({lot.parent for lot, _kg in pieces if lot.parent}):
            slaughterhouse.certificates_issued(m, node, intake, extra_cert, day_txt)
    else:
        m.record(
            "market_tran_info_base",
            node.code,
            {
                "market_id": node.code,
                "market_name": node.name[:100],
                "tran_date": day_txt,
                "wholesaler_id": seller.code,
                "wholesaler_name": seller.name[:50],
                "retailer_id": buyer_code,
                "retailer_name": buyer_name,
                "tran_id": voucher,
            },
        )
        for det in details:
            m.record("market_tran_info_detail", node.code, det)
    if buyer is None:
        for line in lines:
            m.event("consume", lot=line.ref, kg=line.received, node=node.code, who=CASH_BUYER_ZH)
            line.moved = line.received
            line.remaining = 0.0
    return lines


def _cert_fields(cert: dict, keys) -> dict:
    return {k: cert[k] for k in keys if cert.get(k)}


_MEAT_CERTS = ("quarantine_animal_products_id", "inspection_meat_id")
_ALL_CERTS = (*_MEAT_CERTS, "prov_id", "quarantine_vege_id")
_ORIGIN = ("area_origin_id", "area_origin_name")
#: entry records per kind of receiving node: record types, element names, which certificates go where
_ENTRY = {
    "wholesale": {
        "base": "market_in_info_base",
        "detail": "market_in_info_detail",
        "node_keys": ("market_id", "market_name"),
        "party_keys": ("wholesaler_id", "wholesaler_name"),
        "party": "buyer",
        "base_certs": _ALL_CERTS,
        "detail_certs": _ALL_CERTS,
        "price": False,
        "origin_keys": (*_ORIGIN, "base_name", "base_id"),
        "plate": True,
    },
    "retail": {
        "base": "retail_market_in_info_base",
        "detail": "retail_market_in_info_detail",
        "node_keys": ("retail_market_id", "retail_market_name"),
        "party_keys": ("retailer_id", "retailer_name"),
        "party": "buyer",
        "base_certs": (*_MEAT_CERTS, "prov_id"),
        "detail_certs": _MEAT_CERTS[:1],
        "price": True,
        "origin_keys": _ORIGIN,
        "plate": False,
    },
    "supermarket": {
        "base": "super_market_in_info_base",
        "detail": "super_market_in_info_detail",
        "node_keys": ("supermarket_id", "supermarket_name"),
        "party_keys": ("supplier_id", "supplier_name"),
        "party": "seller",
        "base_certs": _ALL_CERTS,
        "detail_certs": _ALL_CERTS,
        "price": True,
        "origin_keys": _ORIGIN,
        "plate": False,
    },
}
_ENTRY_KIND = {
    "meat_wholesale": "wholesale",
    "veg_wholesale": "wholesale",
    "distribution_centre": "wholesale",
    "farmers_market": "retail",
    "shop": "retail",
    "supermarket": "supermarket",
}


def arrive(m, seller, buyer, lines, arrive_at: float, d: int):
    env = m.env
    if env.now < arrive_at:
        yield env.timeout(arrive_at - env.now)
    node = buyer.node
    day_txt = m.node_ymd(node.code, env.now)
    role = node.role
    sup_node = seller.node
    ws = {"ws_supplier_id": sup_node.code, "ws_supplier_name": sup_node.name[:100]}
    if role == "canteen":
        for line in lines:
            m.record(
                "team_buy_acceptance_info",
                node.code,
                {
                    "team_consume_id": node.code,
                    "team_consume_name": node.name[:100],
                    "in_date": day_txt,
                    "supplier_id": seller.code,
                    "supplier_name": seller.name[:50],
                    "tran_id": line.ref,
                    "goods_code": line.goods_code,
                    "goods_name": m.commodities[line.goods_code].name_zh,
                    "weight": m.w3(line.received),
                    "price": m.p2(line.price),
                    **ws,
                },
            )
            kg = line.remaining
            if kg > 0:
                m.event("consume", lot=line.ref, kg=kg, node=node.code, who=node.code)
                line.moved = kg3(line.moved + kg)
                line.remaining = 0.0
        return
    spec = _ENTRY[_ENTRY_KIND[role]]
    party = buyer if spec["party"] == "buyer" else seller
    groups: dict[tuple, list] = {}
    for line in lines:
        key = tuple(line.cert.get(k, "") for k in ("quarantine_animal_products_id", "prov_id"))
        groups.setdefault(key, []).append(line)
    (node_id, node_name), (party_id, party_name) = spec["node_keys"], spec["party_keys"]
    for key in sorted(groups):
        glines = groups[key]
        if m.terminals is not None and spec is _ENTRY["wholesale"]:  # device mode: the market's handheld
            m.terminals.market_entry(node, buyer, glines, sup_node)
            continue
        first = glines[0]
        base = {
            node_id: node.code,
            node_name: node.name[:100],
            "in_date": day_txt,
            party_id: party.code,
            party_name: party.name[:50],
            "tran_id": first.ref,
            **_cert_fields(first.cert, spec["base_certs"]),
            "batch_id": first.ref,
        }
        if spec["plate"] and buyer.plate:
            base["transporter_id"] = buyer.plate
        m.record(spec["base"], node.code, base)
        for line in glines:
            det = {
                "tran_id": line.ref,
                **_cert_fields(line.cert, spec["detail_certs"]),
                "batch_id": line.ref,
                "goods_code": line.goods_code,
                "goods_name": m.commodities[line.goods_code].name_zh,
                "weight": m.w3(line.received),
            }
            if spec["price"]:
                det["price"] = m.p2(line.price)
            det.update({k: line.origin[k] for k in spec["origin_keys"] if k in line.origin})
            det.update(ws)
            m.record(spec["detail"], node.code, det)
    hold = m.holding(buyer)
    for line in lines:
        hold.add(line)
    m.notify_restock(buyer.code)


def detection(m, w, lot, passed: bool, delay: float, d: int):
    """Pesticide-residue test of a vegetable batch ``delay`` s after entry."""
    env = m.env
    yield env.timeout(delay)
    node = w.node
    n = m.samples.get(node.code, 0) + 1
    m.samples[node.code] = n
    rec = {
        "market_id": node.code,
        "market_name": node.name[:100],
        "wholesaler_id": w.code,
        "wholesaler_name": w.name[:50],
        "batch_id": lot.ref,
        "goods_code": lot.goods_code,
        "goods_name": m.commodities[lot.goods_code].name_zh,
        "sample_id": f"D{node.code}{d:03d}{n:05d}",
        "detector": f"{node.name[:20]}检测室",
        "detection_date": m.node_ymd(node.code, env.now),
        "detection_result": "1" if passed else "0",
        "result_expl": "农药残留快速检测合格" if passed else "农药残留快速检测不合格（抑制率超标）",
    }
    m.record("qmarket_detection_info", node.code, rec)
    if passed:
        lot.cert["quarantine_vege_id"] = m.certificate("veg_test", node.region, d)
    else:
        stop_trade(m, lot)


def stop_trade(m, lot) -> None:
    """Stop trade of ``lot`` and of every lot made from it, wherever it is now.

    Stock still held is withdrawn (``withdraw`` events); the ``stop_trade`` event lists
    every downstream holder (node, operator) the broadcast must reach, including holders
    that already sold everything (their buyers cannot be recalled: consumers).
    """
    holders = set()
    withdrawn = 0.0
    todo = [lot.ref]
    seen = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        L = m.lots[ref]
        if L.holder:
            holders.add((L.node, L.holder))
        day = int(m.env.now // DAY_S)
        if ref != lot.ref and m.record_faults.ignores_stop(L.node, ref, day, m.ymd(m.env.now), lot.ref):
            continue  # the holder ignores the order (fault trade_after_stop): the lot is sold on
        L.stopped = True
        m.scales.stop(L)  # device mode: STOP_TRADE to the stall scale holding it
        if L.remaining > 0:
            m.event("withdraw", lot=ref, node=L.node, holder=L.holder, kg=L.remaining)
            withdrawn += L.remaining
            L.withdrawn = kg3(L.withdrawn + L.remaining)
            L.remaining = 0.0
        todo.extend(m.lot_children.get(ref, []))
    m.event(
        "stop_trade",
        stream=True,
        batch=lot.ref,
        node=lot.node,
        goods_code=lot.goods_code,
        holders=[{"node": n, "holder": h} for n, h in sorted(holders)],
        lots=len(seen),
        withdrawn_kg=round(withdrawn, 3),
    )
