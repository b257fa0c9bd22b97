"""Vegetables from origins (蔬菜基地) into wholesale markets and distribution centres.

A truck carries one commodity of one base (its 生产基地编号 ``base_id``, :mod:`.sources`) with one
产地证明 (``veg_origin`` certificate),
so each truck is one entry batch (批次 = the same wholesaler + the same certificate,
standards.md §3.3).  Loads are lognormal around ``veg_truck_kg_median`` (one 莴笋 truck
≈ 1.5 t, refdata.md §4).  Local bases (same province as the city) supply
``LOCAL_SHARE`` of the trucks: about 40 % in summer, 15 % from November to March (Urumqi
九鼎: 「全疆冬季85%以上、夏季50%左右」 from outside; 「夏季本地菜占40%」, refdata.md §4).

On arrival the market registers the entry (``market_in_info_base`` + ``_detail``); a
share of batches is tested for pesticide residues (``qmarket_detection_info``); a failed
test stops trade of the batch and everything sold from it (:func:`wholesale.stop_trade`).
"""

from __future__ import annotations

from . import wholesale
from .rates import DAY_S
from .stock import kg3

LOCAL_SHARE = {"summer": 0.4, "winter": 0.15}


def _pick_origin(m, r, d: int):
    bases = m.topo.origins["vegetable_base"]
    prov = m.topo.city_code[:2]
    local = [o for o in bases if o.region_code.startswith(prov)]
    other = [o for o in bases if not o.region_code.startswith(prov)]
    season = "winter" if m.date_of(d).month in (11, 12, 1, 2, 3) else "summer"
    pool = local if (local and (not other or r.random() < LOCAL_SHARE[season])) else (other or local)
    return pool[r.randrange(len(pool))]


def plan_trucks(m, w, need: dict[str, float], d: int, f) -> None:
    """Start the trucks bringing ``need`` (kg per commodity) to wholesaler ``w`` on day ``d``."""
    v = m.rates.volume
    r = m.rng(f"trucks:{w.code}:{d}")
    t0 = d * DAY_S
    for g, kg in sorted(need.items()):
        left = kg
        while left > 0:
            load = r.lognormvariate(0.0, float(v["veg_truck_kg_sigma"])) * float(v["veg_truck_kg_median"])
            load = min(max(load, 200.0), 5000.0)
            part = kg3(left if left <= load * 1.3 else round(load, 0))
            left = kg3(left - part)
            t_at = t0 + m.rates.sample_time("veg_entry", r, f.shift_h.get("veg_entry", 0.0))
            m.env.process(truck(m, w, _pick_origin(m, r, d), g, part, t_at, d))


def truck(m, w, base, goods: str, kg: float, t_at: float, d: int):
    """One truck of ``goods`` from ``base`` arriving at ``t_at`` at wholesaler ``w``."""
    env = m.env
    if env.now < t_at:
        yield env.timeout(t_at - env.now)
    node = w.node
    oid = m.origin_entry(base)
    cert = m.certificate("veg_origin", base.region_code, d)
    batch = m.issuer.issue(w.code)
    base_id = m.sources.base_id(base)
    origin_info = {
        "area_origin_id": base.region_code,
        "area_origin_name": base.region_name[:100],
        "base_name": base.name[:100],
        "base_id": base_id,
    }
    lot = m.new_lot(
        ref=batch,
        kind="veg_batch",
        goods=goods,
        kg=kg,
        holder=w,
        parent=oid,
        cert={"prov_id": cert},
        origin=origin_info,
        extra={"prov_id": cert, "base_id": base_id},
    )
    if m.terminals is not None:  # device mode: the market's handheld registers the entry
        m.terminals.veg_entry(w, base, cert, batch, goods, kg, base_id)
    else:
        day_txt = m.node_ymd(node.code, env.now)
        base_rec = {
            "market_id": node.code,
            "market_name": node.name[:100],
            "in_date": day_txt,
            "wholesaler_id": w.code,
            "wholesaler_name": w.name[:50],
            "prov_id": cert,
            "batch_id": batch,
        }
        if w.plate:
            base_rec["transporter_id"] = w.plate
        m.record("market_in_info_base", node.code, base_rec)
        detail = {
            "prov_id": cert,
            "batch_id": batch,
            "goods_code": goods,
            "goods_name": m.commodities[goods].name_zh,
            "weight": m.w3(kg),
            **origin_info,
        }
        m.record("market_in_info_detail", node.code, detail)
    m.holding(w).add(lot)
    m.notify_restock(w.code)
    r = m.rng(f"detect:{node.code}")
    v = m.rates.volume
    if r.random() < float(v["detection_sample_share"]):
        passed = r.random() < float(v["detection_pass_rate"])
        env.process(wholesale.detection(m, w, lot, passed, r.uniform(1200, 2400), d))
