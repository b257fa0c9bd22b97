"""Consumers at farmers' markets, shops and supermarket counters; the end of the day.

Arrivals at a node are a non-homogeneous Poisson process (Lewis–Shedler thinning,
toolchain.md §3): candidate times at the day's peak rate λmax, each kept with
probability λ(t)/λmax, where λ(t) = the node's expected consumers × the hourly shape
of its kind (rates.toml ``farmers_market_sales``, ``shop_sales``, ``supermarket_sales``).
Rejected candidates cost no SimPy event.

A consumer is a *regular* (``regular_share``: one of a fixed pool per node, always at
the same favourite stall) or a passer-by (a stall drawn by its expected custom).  The
stall is a SimPy ``Resource`` of capacity 1 (service ``U(service_s)`` seconds); the
consumer then buys 1–3 lines (``items_veg``/``items_meat``) of what the stall has,
each from the stall's oldest lot, lognormal kg.

Every sale line is real in the truth.  On the stall's traceability scale (``devices.py``:
weighed to the scale's division, refused below its minimum) it gets a new trace code of
the stall operator and a ``scale_sale`` record (the scale's own upload, one sale per
request: devices.md §1.2 e; a *profile* record, not in the catalogue); a
vendor with a second, non-traceability scale (fault ``second_scale``) makes some sales
on it: no code, no record (``traced = false``).  With the fault ``scale_no_paper`` on,
the scale records the sale but prints no receipt (``printed = "0"``).

What a farmers' market or shop uploads of its retail sales is the run's ``retail_upload``
(:data:`RETAIL_UPLOADS`, ``roucai simulate --retail-upload``):

* ``summary`` (default): at 23:30 each stall reports its day: one ``retail_market_tran_info_summ`` per
  lot sold from (weight, mean price, ``sale_tran_id`` a new code of the market's own operator record);
  a receipt's code is then not on the platform.
* ``lines``: one ``retail_market_tran_info_summ`` per traced sale line, made at the sale and uploaded on
  the scale's cycle, ``sale_tran_id`` = the receipt's trace code, ``price`` = the scale's unit price,
  ``weight`` = the line's net weight (practice: Ningbo 鄞州's trigger turns each scale sale into one
  ``tran_summ`` row with ``sale_tran_id`` = the scale's ``traceCode``, deployed/ningbo_yinzhou_retail.md;
  as the reference node does, ``simulators/node/sales.py``).

Both come from the scale's data (so second-scale sales are missing, as in the field).  At 23:30
vegetables still held at stalls and wholesalers lose ``veg_spoilage``.
"""

from __future__ import annotations

import math
import random

import simpy

from .errors import MarketConfigError
from .rates import DAY_S, HOUR_S
from .stock import kg3

#: what a retail node uploads of its sales (module docstring); the first is the default
RETAIL_UPLOADS = ("summary", "lines")
SUMMARY = "retail_market_tran_info_summ"


def check_retail_upload(value: str) -> str:
    """``value`` if it is one of :data:`RETAIL_UPLOADS`; else raises the bilingual MarketConfigError (exit 2)."""
    if value not in RETAIL_UPLOADS:
        raise MarketConfigError(
            f"--retail-upload 须为 {' 或 '.join(RETAIL_UPLOADS)}，收到 {str(value)[:40]!r}",
            f"--retail-upload must be {' or '.join(RETAIL_UPLOADS)}, got {str(value)[:40]!r}",
        )
    return value


ACTIVITY = {"farmers_market": "farmers_market_sales", "shop": "shop_sales", "supermarket": "supermarket_sales"}
END_OF_DAY_H = 23.5


def customers(m, node, d: int, f):
    env = m.env
    v = m.rates.volume
    t0 = d * DAY_S
    stalls = [a for a in node.actors if a.assortment]
    if not stalls:
        return
    klass = "supermarket" if node.role == "supermarket" else "retail"
    act = ACTIVITY[node.role]
    expected = sum(a.base_customers for a in stalls) * f.demand[klass]
    lam_max = m.rates.peak_intensity(act, expected)
    if lam_max <= 0:
        return
    r = m.rng(f"customers:{node.code}:{d}")
    weights = [a.base_customers for a in stalls]
    cum = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    n_regulars = max(1, int(sum(weights) * float(v["regular_share"]) / 2))
    favourites = node.favourites
    regular_share = float(v["regular_share"])
    shape = m.rates.shape(act)
    per_s = expected / HOUR_S
    t = t0
    end = t0 + DAY_S
    while True:
        t += r.expovariate(lam_max)
        if t >= end:
            return
        if r.random() * lam_max > per_s * shape[int((t - t0) // HOUR_S)]:
            continue
        if t > env.now:
            yield env.timeout(t - env.now)
        if r.random() < regular_share:
            i = r.randrange(n_regulars)
            stall = favourites.get(i)
            if stall is None:
                fr = random.Random(f"{m.seed}:favourite:{node.code}:{i}")
                stall = favourites[i] = stalls[_bisect(cum, fr.random() * acc)]
            cid = f"R{i:05d}"
        else:
            stall = stalls[_bisect(cum, r.random() * acc)]
            cid = ""
        env.process(customer(m, stall, d, cid))


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


def customer(m, a, d: int, cid: str):
    env = m.env
    res = a.res
    if res is None:
        res = a.res = simpy.Resource(env, capacity=1)
    r = m.rng(f"sale:{a.code}")
    v = m.rates.volume
    with res.request() as req:
        yield req
        yield env.timeout(r.uniform(*v["service_s"]))
        # the stall stays busy until the last line is sold (in device mode a sale may wait for
        # the scale's LOAD_BATCH: the next customer must not draw from the stall's stream meanwhile)
        hold = m.holding(a)
        lots = hold.lots
        goods = []
        for g in a.assortment:  # what hold.first_lot(g) finds, without the call when the oldest lot sells
            q = lots.get(g)
            if q and ((q[0].remaining > 0 and not q[0].stopped) or hold.first_lot(g) is not None):
                goods.append(g)
        if not goods:
            a.missed += 1
            return
        kind = "veg" if a.specialty == "veg" else "meat"
        probs = v[f"items_{kind}"]
        n = r.choices(range(1, len(probs) + 1), weights=probs)[0]
        expected = a.expected
        picks = []
        pool = list(goods)
        for _ in range(min(n, len(pool))):
            ws = [expected.get(g, 1.0) for g in pool]
            g = r.choices(pool, weights=ws)[0]
            pool.remove(g)
            picks.append(g)
        med = float(v[f"{kind}_kg_median"])
        sig = float(v[f"{kind}_kg_sigma"])
        lo, hi = float(v["line_kg_min"]), float(v["line_kg_max"])
        for g in picks:
            kg = min(max(med * math.exp(r.gauss(0.0, sig)), lo), hi)
            yield from sale(m, a, g, kg3(kg), d, cid, r)


def stall_price(m, a, g: str, d: int) -> float:
    cache = a.prices
    key = (g, d)
    p = cache.get(key)
    if p is None:
        p = cache[key] = m.prices.stall(m.prices.retail(g, d), m.rng(f"stallprice:{a.code}"))
    return p


def sale(m, a, g: str, kg: float, d: int, cid: str, r: random.Random):
    """One sale line of about ``kg`` of ``g`` at stall ``a`` (see module doc); a SimPy generator.

    A traced line first waits for the scale to hold the lot at the day's price
    (``scales.load``: nothing to wait for in fast mode; a LOAD_BATCH transaction that takes
    no simulated time in device mode)."""
    hold = m.holding(a)
    scales = m.scales
    want = int(round(kg * 1000))
    for _ in range(3):
        lot = hold.first_lot(g)
        if lot is None:
            return
        room = int(round(lot.remaining * 1000)) - scales.margin_g
        if room >= scales.min_g:
            break
        # a scrap too small to weigh and sell: written off, next lot
        scrap = lot.remaining
        lot.remaining = 0.0
        lot.spoiled = kg3(lot.spoiled + scrap)
        m.event("spoil", lot=lot.ref, node=lot.node, holder=a.code, kg=scrap, why="scrap")
    else:
        return
    want_g = min(want, room)
    env = m.env
    now = env.now
    price = stall_price(m, a, g, d)
    price_fen = int(round(price * 100))
    second = a.second_scale
    if second is None:
        second = a.second_scale = m.faults.second_scale(a.code)
    traced = not (second and r.random() < float(m.fault_rates.get("second_scale_use", 0.0)))
    np_ = a.no_paper
    printed = not (np_ is not None and np_[0] <= now < np_[1])
    node = a.node
    if traced:
        loading = scales.load(a, lot, price_fen)
        if loading is not None:
            yield loading
        got = scales.sell(a, lot, want_g, price_fen, printed)
        if got is None:
            return
        net_g, code, amount_fen, _when = got
    else:
        net_g = want_g
        amount_fen = (net_g * price_fen + 500) // 1000
        a.untraced += 1
        n = a.untraced
        code = f"U{a.code}{n:07d}"
    taken = hold.take_one(g, net_g / 1000.0)
    kg = taken[1] if taken else 0.0
    amount = amount_fen / 100.0
    obj = {
        "k": "sale",
        "id": code,
        "parent": lot.ref,
        "node": node.code,
        "holder": a.code,
        "goods_code": g,
        "category": m.commodities[g].category,
        "kg": kg,
        "price": price,
        "amount": amount,
        "traced": traced,
        "t": round(now, 3),
        "day": d,
    }
    if cid:
        obj["customer"] = cid
    if traced and not printed:
        obj["printed"] = False
    m.ledger.add(obj, m._text(obj))
    m.counters["sales"] += 1
    if not traced:
        m.counters["untraceable"] += 1
        return
    if node.role == "supermarket":
        return
    if m.retail_upload == "lines":
        rec = sale_record(m, a, lot, kg, price, code, m.node_ymd(node.code, now))
        if rec is not None:
            m.record(SUMMARY, node.code, rec, scale=True)
    else:
        day_sold = a.sold
        cell = day_sold.get(lot.ref)
        if cell is None:
            day_sold[lot.ref] = [kg, amount, lot]
        else:
            cell[0] += kg
            cell[1] += amount


def sale_record(m, a, lot, kg: float, price: float, code: str | None, sale_date: str) -> dict | None:
    """The ``retail_market_tran_info_summ`` of ``kg`` of ``lot`` sold by stall ``a`` at ``price`` yuan/kg on
    ``sale_date``: ``sale_tran_id`` = ``code`` (a receipt's) or, when ``None``, a new code of the market's own
    operator record (a daily summary).  ``None`` for nothing sold (``kg`` 0)."""
    if kg <= 0:
        return None
    node = a.node
    rec = {
        "retail_market_id": node.code,
        "retail_market_name": node.name[:100],
        "in_date": m.ymd(lot.day_in * DAY_S),
        "sale_date": sale_date,
        "retailer_id": a.code,
        "retailer_name": a.name[:50],
        "position_id": a.position or "0",
        "tran_id": lot.ref[:20],
        "batch_id": lot.ref[:20],
        "goods_code": lot.goods_code,
        "goods_name": m.commodities[lot.goods_code].name_zh,
        "weight": m.w3(kg),
        "price": m.p2(max(0.01, price)),
        "sale_tran_id": code if code is not None else m.issuer.issue(node.self_actor.code),
    }
    q = lot.cert.get("quarantine_animal_products_id")
    if q:
        rec["quarantine_animal_products_id"] = q
    return rec


def end_of_day(m, d: int):
    env = m.env
    t_end = d * DAY_S + END_OF_DAY_H * HOUR_S
    if env.now < t_end:
        yield env.timeout(t_end - env.now)
    for a in m.topo.stalls:
        missed, a.missed = a.missed, 0
        if missed:
            m.event("retail_stockout", node=a.node.code, holder=a.code, customers=missed)
        sold, a.sold = a.sold, {}
        if not sold:
            continue
        node = a.node
        sale_date = m.node_ymd(node.code, env.now)
        for ref in sorted(sold):
            kg, amount, lot = sold[ref]
            kg = kg3(kg)
            if kg <= 0:
                continue
            rec = sale_record(m, a, lot, kg, amount / kg, None, sale_date)
            m.record(SUMMARY, node.code, rec)
    spoil = float(m.rates.volume["veg_spoilage"])
    if spoil <= 0:
        return
    for holder in sorted(m.holdings):
        h = m.holdings[holder]
        for lot in list(h.all_lots()):
            if lot.remaining > 0 and not lot.stopped and m.commodities[lot.goods_code].kind == "vegetable":
                kg = kg3(lot.remaining * spoil)
                if kg > 0:
                    lot.remaining = kg3(lot.remaining - kg)
                    lot.spoiled = kg3(lot.spoiled + kg)
                    m.event("spoil", lot=lot.ref, node=lot.node, holder=holder, kg=kg)
