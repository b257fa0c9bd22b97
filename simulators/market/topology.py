"""The city as the market model sees it: roles, suppliers and assortments (a thin adapter).

:func:`build_topology` reads a generated :class:`simulators.city.model.City` and decides,
once per run and from ``seed``, what every actor does:

* node roles: ``slaughterhouse`` (with its species), ``meat_wholesale``, ``veg_wholesale``,
  ``distribution_centre``, ``farmers_market``, ``shop``, ``supermarket``, ``canteen``;
* each retail stall's specialty (``veg``, ``pork``, ``beef_mutton``, ``poultry``; a
  supermarket meat counter sells every meat the city slaughters) and its assortment;
* each buyer's supplier per goods family (a wholesaler operator, a distribution centre, or a
  slaughterhouse directly).

It refuses an impossible configuration before the run (:class:`MarketConfigError`): a city
with retail stalls but no supplier for them (no slaughterhouse for meat, no vegetable
wholesale market or distribution centre for vegetables), no origin of a needed kind, or a
wholesale market without a wholesaler.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import MarketConfigError

ROLE_OF_TYPE = {
    "slaughter_pig": "slaughterhouse",
    "slaughter_cattle_sheep": "slaughterhouse",
    "slaughter_poultry": "slaughterhouse",
    "meat_wholesale": "meat_wholesale",
    "vegetable_wholesale": "veg_wholesale",
    "distribution_centre": "distribution_centre",
    "farmers_market": "farmers_market",
    "community_outlet": "shop",
    "supermarket": "supermarket",
    "canteen": "canteen",
    "restaurant": "canteen",
}
SPECIES_OF_TYPE = {
    "slaughter_pig": ("pig",),
    "slaughter_cattle_sheep": ("cattle", "sheep"),
    "slaughter_poultry": ("poultry",),
}
ORIGIN_OF_SPECIES = {
    "pig": "pig_farm",
    "cattle": "cattle_sheep_farm",
    "sheep": "cattle_sheep_farm",
    "poultry": "poultry_farm",
}
#: zh commodity categories per meat specialty and the species they come from
SPECIALTY = {
    "pork": (("猪肉",), ("pig",)),
    "beef_mutton": (("牛肉", "羊肉"), ("cattle", "sheep")),
    "poultry": (("禽肉",), ("poultry",)),
}
#: share of meat stalls per specialty; Xinjiang (GB/T 2260 prefix 65) sells more beef and mutton
SPECIALTY_MIX = {
    "default": {"pork": 0.55, "beef_mutton": 0.25, "poultry": 0.2},
    "65": {"pork": 0.2, "beef_mutton": 0.6, "poultry": 0.2},
}
RETAIL_ROLES = ("farmers_market", "shop", "supermarket")
ENTRY_ROLES = ("meat_wholesale", "veg_wholesale", "distribution_centre")


@dataclass(eq=False)
class Actor:
    """An operator acting in the market (a stall vendor, a wholesaler, a node itself)."""

    code: str  #: 13-digit operator code: holds stock and issues trace codes
    name: str
    node: "MNode"
    card: str | None = None  #: service card UID (None: no card)
    plate: str | None = None  #: a vehicle plate the operator uses
    # retail stalls only
    position: str | None = None
    scale: str | None = None  #: id of the stall's traceability scale
    specialty: str | None = None
    assortment: list[str] = field(default_factory=list)
    base_customers: float = 0.0
    suppliers: dict[str, "Actor"] = field(default_factory=dict)  #: goods family -> supplier
    # state of a stall during a run (set by the market model)
    expected: dict[str, float] = field(default_factory=dict)  #: today's expected kg per commodity
    no_paper: tuple[float, float] | None = None  #: today's paper-out window
    second_scale: bool | None = None  #: keeps a non-traceability scale
    untraced: int = 0  #: sales made on it so far
    missed: int = 0  #: consumers who found nothing today
    sold: dict = field(default_factory=dict)  #: lot -> [kg, yuan, lot] sold today (traced)
    prices: dict = field(default_factory=dict)  #: (goods, day) -> yuan/kg
    res: object = None  #: the stall as a SimPy Resource


@dataclass(eq=False)
class MNode:
    code: str
    name: str
    type: str
    role: str
    region: str
    species: tuple[str, ...] = ()
    self_actor: Actor | None = None
    actors: list[Actor] = field(default_factory=list)  #: wholesalers or stall vendors
    favourites: dict[int, Actor] = field(default_factory=dict)  #: regular consumer -> favourite stall


@dataclass
class Topology:
    city_code: str
    city_name: str
    nodes: list[MNode]
    stalls: list[Actor]
    wholesalers: dict[str, list[Actor]]  #: role -> wholesaler actors
    slaughter_by_species: dict[str, list[MNode]]
    origins: dict[str, list]  #: origin type -> city Origin objects
    canteens: list[MNode]

    def by_role(self, role: str) -> list[MNode]:
        return [n for n in self.nodes if n.role == role]


def build_topology(city, commodities, seed: int) -> Topology:
    """The market view of ``city`` (see module doc); raises :class:`MarketConfigError`."""
    rng = random.Random(f"{seed}:topology")
    ops = {o.code: o for o in city.operators}
    cards = {}
    for c in city.cards:
        if c.card_kind == "01" or c.operator_code not in cards:
            cards.setdefault(c.operator_code, c.uid)
    plates = {}
    for v in city.vehicles:
        plates.setdefault(v.operator_code, v.plate)
    nodes: list[MNode] = []
    by_code: dict[str, MNode] = {}
    for n in city.nodes:
        role = ROLE_OF_TYPE.get(n.type)
        if role is None:
            continue
        mn = MNode(n.code, n.name, n.type, role, n.district_code, SPECIES_OF_TYPE.get(n.type, ()))
        self_op = ops.get(n.operator_code)
        mn.self_actor = Actor(
            n.operator_code,
            self_op.name if self_op else n.name,
            mn,
            cards.get(n.operator_code),
            plates.get(n.operator_code),
        )
        nodes.append(mn)
        by_code[n.code] = mn
    for o in city.operators:
        mn = by_code.get(o.node_code)
        if mn is None or o.code == mn.self_actor.code:
            continue
        if mn.role in ENTRY_ROLES or mn.role == "slaughterhouse":
            mn.actors.append(Actor(o.code, o.name, mn, cards.get(o.code), plates.get(o.code)))
    slaughter: dict[str, list[MNode]] = {}
    for mn in nodes:
        for sp in mn.species:
            slaughter.setdefault(sp, []).append(mn)
    origins: dict[str, list] = {}
    for o in city.origins:
        origins.setdefault(o.type, []).append(o)
    wholesalers = {role: [a for n in nodes if n.role == role for a in n.actors] for role in ENTRY_ROLES}
    for n in nodes:
        if n.role in ("meat_wholesale", "veg_wholesale") and not n.actors:
            raise MarketConfigError(
                f"批发市场 {n.name}（{n.code}）没有登记的批发商",
                f"wholesale market {n.code} has no registered wholesaler",
            )
    # a distribution centre sells under its own record
    wholesalers["distribution_centre"] = [n.self_actor for n in nodes if n.role == "distribution_centre"]

    region = city.city_code
    mix = SPECIALTY_MIX["65"] if region.startswith("65") else SPECIALTY_MIX["default"]
    available = {s: w for s, w in mix.items() if all(sp in slaughter for sp in SPECIALTY[s][1][:1])}
    meat_by_cat: dict[str, list[str]] = {}
    veg_codes: list[str] = []
    for c in commodities:
        if c.kind == "vegetable":
            veg_codes.append(c.code)
        else:
            meat_by_cat.setdefault(c.category, []).append(c.code)

    scales = {(sc.node_code, sc.stall): sc.id for sc in city.scales if sc.stall}
    stalls: list[Actor] = []
    for s in city.stalls:
        mn = by_code.get(s.node_code)
        if mn is None or mn.role not in RETAIL_ROLES:
            continue
        op = ops.get(s.operator_code)
        a = Actor(
            s.operator_code,
            op.name if op else s.operator_code,
            mn,
            cards.get(s.operator_code),
            plates.get(s.operator_code),
            position=s.number,
            scale=scales.get((s.node_code, s.number)),
        )
        if s.category == "vegetable":
            a.specialty = "veg"
        elif not available:
            raise MarketConfigError(
                f"{mn.name} 有肉类摊位，但城市没有屠宰厂供货",
                f"node {mn.code} has meat stalls but the city has no slaughterhouse to supply them",
            )
        elif mn.role == "supermarket":
            a.specialty = "meat_all"
        else:
            names = sorted(available)
            a.specialty = rng.choices(names, weights=[available[k] for k in names])[0]
        mn.actors.append(a)
        stalls.append(a)
    _assortments(stalls, meat_by_cat, veg_codes, slaughter, rng)
    topo = Topology(
        city.city_code,
        city.city_name,
        nodes,
        stalls,
        wholesalers,
        slaughter,
        origins,
        [n for n in nodes if n.role == "canteen"],
    )
    _suppliers(topo, rng)
    return topo


def _species_cats(slaughter) -> list[str]:
    return [cat for cs, sps in SPECIALTY.values() for cat, sp in zip(cs, sps) if sp in slaughter]


def _assortments(stalls, meat_by_cat, veg_codes, slaughter, rng) -> None:
    for a in stalls:
        if a.specialty == "veg":
            k = rng.randint(6, 12)
            a.assortment = sorted(rng.sample(veg_codes, min(k, len(veg_codes))))
        elif a.specialty == "meat_all":
            a.assortment = sorted(c for cat in _species_cats(slaughter) for c in meat_by_cat.get(cat, []))
        else:
            cats, sps = SPECIALTY[a.specialty]
            pool = [c for cat, sp in zip(cats, sps) if sp in slaughter for c in meat_by_cat.get(cat, [])]
            k = rng.randint(3, 7)
            a.assortment = sorted(rng.sample(pool, min(k, len(pool))))


def _pick(rng, items):
    return items[rng.randrange(len(items))] if items else None


def _suppliers(t: Topology, rng) -> None:
    """Each stall and canteen gets one supplier per goods family (``veg``, ``meat``)."""
    veg_ws = t.wholesalers["veg_wholesale"]
    dcs = t.wholesalers["distribution_centre"]
    meat_ws = t.wholesalers["meat_wholesale"]
    needs_veg = any(a.specialty == "veg" for a in t.stalls) or t.canteens
    if needs_veg and not (veg_ws or dcs):
        raise MarketConfigError(
            "城市有蔬菜零售或食堂，但没有蔬菜批发市场或配送中心",
            "the city sells vegetables but has no vegetable wholesale market or distribution centre",
        )
    if (veg_ws or dcs) and not t.origins.get("vegetable_base"):
        raise MarketConfigError(
            "城市没有蔬菜基地（产地），蔬菜无从进场",
            "the city has no vegetable base (origin) to supply its vegetable markets",
        )
    for sp, nodes in t.slaughter_by_species.items():
        if not t.origins.get(ORIGIN_OF_SPECIES[sp]):
            raise MarketConfigError(
                f"屠宰厂 {nodes[0].code} 没有对应的养殖场（{ORIGIN_OF_SPECIES[sp]}）",
                f"slaughterhouse {nodes[0].code} has no {ORIGIN_OF_SPECIES[sp]} origin",
            )
    for a in t.stalls:
        if a.specialty == "veg":
            pool = dcs if (a.node.role == "supermarket" and dcs) else (veg_ws or dcs)
            a.suppliers["veg"] = _pick(rng, pool)
        else:
            # meat: farmers' markets and shops through a meat wholesaler when there is one,
            # supermarkets straight from the slaughterhouse (per species)
            if meat_ws and a.node.role != "supermarket":
                a.suppliers["meat"] = _pick(rng, meat_ws)
    for c in t.canteens:
        c.self_actor.suppliers["veg"] = _pick(rng, dcs or veg_ws) if (dcs or veg_ws) else None
        if meat_ws:
            c.self_actor.suppliers["meat"] = _pick(rng, meat_ws)
