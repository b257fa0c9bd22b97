"""Slaughterhouses: live animals in with 产地检疫证明, quarantine sampling, meat out.

Per species the house takes in ``ceil(kg ordered × 1.05 / dressed kg per head)`` head,
in truckloads of ``heads_per_truck`` from farms of the species (rates.toml ``[species]``,
``[volume]``).  Each truck is one intake (``animal_in_info``, its ``quarantine_id`` = an
``animal_quarantine`` certificate, its ``ear_tag_start``/``_end`` the animals' consecutive ear tags from the
farm's block, :mod:`.sources`; poultry carry none), sampled for quarantine ``quarantine_sample_share``
of head after 10–30 min (``quarantine_info``), and slaughtered 60–120 min after arrival:
its meat becomes one *carcass* lot per commodity, held under the slaughterhouse's own
operator record, cut to order (output per commodity ∝ the day's orders).

Meat leaves through :func:`wholesale.trip` (``meat_out_info_base`` / ``_detail``); each sale's product
certificates are recorded against the intakes the meat came from (:func:`certificates_issued`).
"""

from __future__ import annotations

import math
from collections import defaultdict

from .rates import DAY_S
from .stock import kg3
from .topology import ORIGIN_OF_SPECIES


def dressed_kg(m, species: str) -> float:
    sp = m.rates.species[species]
    return float(sp["live_kg"]) * float(sp["yield"])


def plan_intake(m, node, orders: dict[str, float], d: int, f) -> None:
    """Start the intake trucks that cover ``orders`` (kg per commodity) on day ``d``."""
    by_species: dict[str, dict[str, float]] = defaultdict(dict)
    for g, kg in orders.items():
        by_species[m.species_of[g]][g] = kg
    r = m.rng(f"intake:{node.code}:{d}")
    t0 = d * DAY_S
    shift = f.shift_h.get("slaughter_intake", 0.0)
    hold = m.holding(node.self_actor)
    for sp in sorted(by_species):
        want = {g: max(0.0, kg * 1.05 - hold.available(g)) for g, kg in by_species[sp].items()}
        total = sum(want.values())
        if total <= 0:
            continue
        per_head = dressed_kg(m, sp)
        heads = max(1, math.ceil(total / per_head))
        shares = {g: kg / total for g, kg in sorted(want.items()) if kg > 0}
        lo, hi = m.rates.volume["heads_per_truck"][sp]
        farms = m.topo.origins[ORIGIN_OF_SPECIES[sp]]
        while heads > 0:
            n = min(heads, r.randint(int(lo), int(hi)))
            heads -= n
            farm = farms[r.randrange(len(farms))]
            seller = node.actors[r.randrange(len(node.actors))] if node.actors else node.self_actor
            t_at = t0 + m.rates.sample_time("slaughter_intake", r, shift)
            m.env.process(truck(m, node, farm, seller, sp, n, shares, t_at, d))


def truck(m, node, farm, seller, species: str, heads: int, shares: dict[str, float], t_at: float, d: int):
    env = m.env
    if env.now < t_at:
        yield env.timeout(t_at - env.now)
    r = m.rng(f"slaughter:{node.code}")
    oid = m.origin_entry(farm)
    cert = m.certificate("animal_quarantine", farm.region_code, d)
    live = float(m.rates.species[species]["live_kg"])
    tags = m.sources.ear_tags(farm, species, heads)
    extra = {"heads": heads, "species": species, "seller": seller.code}
    if tags:
        extra["ear_tags"] = list(tags)
    m.new_lot(ref=cert, kind="intake", goods="", kg=heads * live, holder=node.self_actor, parent=oid, extra=extra)
    if m.terminals is not None:  # device mode: the house's handheld registers the intake
        m.terminals.animal_intake(node, seller, cert, heads, farm, tags)
    else:
        rec = {
            "butcher_fac_id": node.code,
            "butcher_fac_name": node.name[:100],
            "in_date": m.node_ymd(node.code, env.now),
            "seller_id": seller.code,
            "seller_name": seller.name[:50],
            "quarantine_id": cert,
            "quarantine_num": str(heads),
            "check_result": "1",
            "area_origin_id": farm.region_code,
            "area_origin_name": farm.region_name[:100],
            "farm_name": farm.name[:100],
            "dead_num": "0",
        }
        if tags:
            rec["ear_tag_start"], rec["ear_tag_end"] = tags
        m.record("animal_in_info", node.code, rec)
    yield env.timeout(r.uniform(600, 1800))
    sample = max(1, math.ceil(heads * float(m.rates.volume["quarantine_sample_share"])))
    m.record(
        "quarantine_info",
        node.code,
        {
            "butcher_fac_id": node.code,
            "butcher_fac_name": node.name[:100],
            "seller_id": seller.code,
            "seller_name": seller.name[:50],
            "quarantine_id": cert,
            "sample_num": str(sample),
            "sample_id": f"S{cert}"[:30],
            "detector": f"{node.name[:20]}检疫员",
            "check_date": m.node_ymd(node.code, env.now),
            "positive_num": "0",
            "check_num": str(heads),
        },
    )
    yield env.timeout(r.uniform(2400, 5400))
    meat = heads * dressed_kg(m, species)
    hold = m.holding(node.self_actor)
    for g, share in shares.items():
        kg = kg3(meat * share)
        if kg <= 0:
            continue
        lot = m.new_lot(ref=f"{cert}:{g}", kind="carcass", goods=g, kg=kg, holder=node.self_actor, parent=cert)
        hold.add(lot)
    m.notify_restock(node.self_actor.code)


def certificates_issued(m, node, intake: str, certs: dict, day_txt: str) -> None:
    """Record that product certificates ``certs`` (动物产品检疫合格证号, 肉品品质检验合格证号) were issued at
    slaughterhouse ``node`` for meat of the intake ``intake`` (its 产地检疫证号): one ``quarantine_info`` per
    certificate pair and intake.  It is the link a platform follows from ``meat_out_info_detail`` to the live
    animals (``animal_in_info``: farm, ear tags), 源头衔接; the intake's own quarantine record has no product
    certificate yet (the meat is cut to order later)."""
    e = m.ledger.entries.get(intake)
    if e is None or e.get("kind") != "intake":
        return
    seller = next((a for a in node.actors if a.code == e.get("seller")), node.self_actor)
    m.record(
        "quarantine_info",
        node.code,
        {
            "butcher_fac_id": node.code,
            "butcher_fac_name": node.name[:100],
            "seller_id": seller.code,
            "seller_name": seller.name[:50],
            "quarantine_id": intake,
            "check_date": day_txt,
            **certs,
        },
    )
