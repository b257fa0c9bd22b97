"""A day's plan, bottom-up: what each stall and canteen orders, what wholesalers and
slaughterhouses must bring in to serve it; then the day's processes are started.

Demand (rates.toml ``[volume]``): a stall expects ``customers × day factor`` consumers;
its expected kg of each commodity is ``customers × mean items × mean line kg /
assortment size × category factor``.  It orders ``expected × stock_cover − stock held``
from its supplier.  A wholesaler plans its buyers' orders plus the cash buyers' share
(``cash_buyer_share``) times ``wholesale_cover`` minus its stock; vegetables come by
truck from origins, meat from the slaughterhouses.  A slaughterhouse takes in enough
animals of each species for its orders (heads = ceil(kg / dressed kg per head)) and cuts
to order (output per commodity proportional to the orders).
"""

from __future__ import annotations

import math
from collections import defaultdict

from . import origin, retail, slaughter, wholesale
from .daytype import day_factors
from .rates import DAY_S, HOUR_S
from .stock import kg3

TRIP_DEADLINE_H = 11.0


def mean_line_kg(v: dict, kind: str) -> float:
    med, sig = float(v[f"{kind}_kg_median"]), float(v[f"{kind}_kg_sigma"])
    return min(med * math.exp(sig * sig / 2.0), float(v["line_kg_max"]))


def mean_items(v: dict, kind: str) -> float:
    probs = v[f"items_{kind}"]
    return sum((i + 1) * p for i, p in enumerate(probs)) / sum(probs)


def stall_base_customers(m, a) -> float:
    v = m.rates.volume
    if a.node.role == "supermarket":
        return float(v["supermarket_counter"])
    if a.node.role == "shop":
        return float(v["shop"])
    return float(v["farmers_market_veg_stall"] if a.specialty == "veg" else v["farmers_market_meat_stall"])


def expected_kg(m, a, f) -> dict[str, float]:
    """Expected kg sold per commodity by stall ``a`` on a day with factors ``f``."""
    v = m.rates.volume
    kind = "veg" if a.specialty == "veg" else "meat"
    klass = "supermarket" if a.node.role == "supermarket" else "retail"
    customers = a.base_customers * f.demand[klass]
    per = customers * mean_items(v, kind) * mean_line_kg(v, kind) / len(a.assortment)
    return {g: per * f.category.get(m.commodities[g].category, 1.0) for g in a.assortment}


def _supplier_for(m, buyer, goods: str):
    """The actor ``buyer`` gets ``goods`` from (its wholesaler, or a slaughterhouse of the species)."""
    fam = "veg" if m.commodities[goods].kind == "vegetable" else "meat"
    sup = buyer.suppliers.get(fam)
    if sup is not None:
        return sup
    if fam == "veg":
        return None
    sp = m.species_of[goods]
    nodes = m.topo.slaughter_by_species[sp]
    key = (buyer.code, sp)
    choice = m.slaughter_choice.get(key)
    if choice is None:
        r = m.rng(f"supplier:{buyer.code}:{sp}")
        choice = m.slaughter_choice[key] = nodes[r.randrange(len(nodes))].self_actor
    return choice


def day(m, d: int):
    """The process of day ``d``: plan at 00:00, start the day's processes."""
    env = m.env
    t0 = d * DAY_S
    if env.now < t0:
        yield env.timeout(t0 - env.now)
    f = day_factors(m.rates, m.date_of(d), m.topo.city_code)
    m.day_info.append(
        {
            "day": d,
            "date": m.date_of(d).isoformat(),
            "labels": f.labels,
            "demand": {k: round(x, 3) for k, x in f.demand.items()},
        }
    )
    m.event("day", day=d, date=m.date_of(d).isoformat(), labels=f.labels)
    for n in m.topo.nodes:
        o = m.outage(n.code, d)
        if o is not None:
            m.fault("network_outage", node=n.code, start=round(o[0], 3), end=round(o[1], 3))
    for a in m.topo.stalls:
        if not a.base_customers:
            a.base_customers = stall_base_customers(m, a)
        np = m.faults.no_paper(a.code, d)
        a.no_paper = None if np is None else (t0 + np[0], t0 + np[1])
        if np is not None:
            m.fault(
                "scale_no_paper",
                node=a.node.code,
                holder=a.code,
                scale=a.scale,
                start=round(t0 + np[0], 3),
                end=round(t0 + np[1], 3),
            )

    v = m.rates.volume
    rp = m.rng(f"plan:{d}")
    deadline = t0 + TRIP_DEADLINE_H * HOUR_S
    orders: dict[str, list] = defaultdict(list)  # supplier code -> [(buyer, {goods: kg}, entry kind)]
    suppliers: dict[str, object] = {}
    # 1. stalls
    for a in m.topo.stalls:
        a.expected = expected_kg(m, a, f)
        want: dict = defaultdict(dict)
        h = m.holding(a)
        for g, e in a.expected.items():
            need = e * float(v["stock_cover"]) - h.available(g)
            if need >= 0.5:
                sup = _supplier_for(m, a, g)
                want[sup.code][g] = kg3(math.ceil(need * 2) / 2)
                suppliers[sup.code] = sup
        for sc, goods in sorted(want.items()):
            orders[sc].append((a, goods))
    # 2. canteens
    veg_codes = [c.code for c in m.commodities.of_kind("vegetable")]
    meat_codes = sorted(
        c
        for c in m.species_of
        if m.species_of[c] in m.topo.slaughter_by_species and m.commodities[c].category != "副产品"
    )
    for c in m.topo.canteens:
        rc = m.rng(f"canteen:{c.code}:{d}")
        k = rc.randint(*v["canteen_lines"])
        want = defaultdict(dict)
        for _ in range(k):
            pool = veg_codes if (rc.random() < 0.7 or not meat_codes) else meat_codes
            g = pool[rc.randrange(len(pool))]
            kg = (
                rc.uniform(*v["canteen_line_kg"]) * f.demand["canteen"] * f.category.get(m.commodities[g].category, 1.0)
            )
            if kg < 0.5:
                continue
            sup = _supplier_for(m, c.self_actor, g)
            if sup is None:
                continue
            want[sup.code][g] = kg3(want[sup.code].get(g, 0.0) + round(kg, 1))
            suppliers[sup.code] = sup
        for sc, goods in sorted(want.items()):
            orders[sc].append((c.self_actor, goods))
    # 3. wholesalers and distribution centres: buy in for orders (+ cash buyers)
    share = float(v["cash_buyer_share"])
    cover = float(v["wholesale_cover"])
    ws_all = [
        w for role in ("meat_wholesale", "veg_wholesale", "distribution_centre") for w in m.topo.wholesalers[role]
    ]
    cash: dict[str, dict] = {}
    for w in ws_all:
        total: dict = defaultdict(float)
        for _buyer, goods in orders.get(w.code, []):
            for g, kg in goods.items():
                total[g] += kg
        cash_goods = {}
        if w.node.role != "distribution_centre" and share > 0:
            # cash buyers take `share` of the market: their kg, spread over what the wholesaler deals in
            for g, kg in total.items():
                extra = kg * share / (1.0 - share)
                if extra >= 1.0:
                    cash_goods[g] = kg3(round(extra, 1))
            if not total:
                # a wholesaler without registered buyers today still sells to cash buyers
                pool = veg_codes if w.node.role == "veg_wholesale" else meat_codes
                for _ in range(rp.randint(1, 3)):
                    g = pool[rp.randrange(len(pool))]
                    cash_goods[g] = kg3(round(rp.uniform(50, 300) * f.demand["upstream"], 1))
        cash[w.code] = cash_goods
        h = m.holding(w)
        need: dict = {}
        for g in sorted(set(total) | set(cash_goods)):
            n = (total.get(g, 0.0) + cash_goods.get(g, 0.0)) * cover - h.available(g)
            if n >= 1.0:
                need[g] = kg3(math.ceil(n))
        veg_need = {g: kg for g, kg in need.items() if m.commodities[g].kind == "vegetable"}
        meat_need = {g: kg for g, kg in need.items() if m.commodities[g].kind == "meat"}
        if veg_need:
            origin.plan_trucks(m, w, veg_need, d, f)
        if meat_need:
            for g, kg in meat_need.items():
                sup = _supplier_for(m, w, g)
                suppliers[sup.code] = sup
                orders[sup.code].append((w, {g: kg}))
    # 4. slaughterhouses
    for n in m.topo.nodes:
        if n.role != "slaughterhouse":
            continue
        total = defaultdict(float)
        for _b, goods in orders.get(n.self_actor.code, []):
            for g, kg in goods.items():
                total[g] += kg
        slaughter.plan_intake(m, n, dict(total), d, f)
    # 5. trips: every (supplier, buyer) order becomes one buying trip
    for sc in sorted(orders):
        sup = suppliers.get(sc)
        for buyer, goods in orders[sc]:
            if sup.node.role == "slaughterhouse":
                t_at = t0 + m.rates.sample_time("meat_out", rp, f.shift_h.get("meat_out", 0.0))
            else:
                t_at = t0 + m.rates.sample_time("wholesale_trade", rp)
            env.process(wholesale.trip(m, sup, buyer, dict(goods), t_at, deadline, d, f))
    for wc, goods in sorted(cash.items()):
        if not goods:
            continue
        w = next(x for x in ws_all if x.code == wc)
        for g, kg in sorted(goods.items()):
            left = kg
            while left > 0:
                part = kg3(min(left, round(rp.uniform(20.0, 120.0), 1)))
                left = kg3(left - part)
                t_at = t0 + m.rates.sample_time("wholesale_trade", rp)
                env.process(wholesale.trip(m, w, None, {g: part}, t_at, deadline, d, f))
    # 6. consumers and the end of the day
    for n in m.topo.nodes:
        if n.role in ("farmers_market", "shop", "supermarket") and n.actors:
            env.process(retail.customers(m, n, d, f))
    env.process(retail.end_of_day(m, d))
