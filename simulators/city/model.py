"""The generated city: plain dataclasses, one per kind of thing, and :class:`City`.

Everything is text or integers (no floats): codes and identifiers as ``str``,
capacities in kg and divisions in g as ``int``, clock times ``HH:MM``.  A node
whose ``hours_close`` is earlier than ``hours_open`` trades overnight.
:meth:`City.to_dict` / :meth:`City.from_dict` convert to and from the JSON
form (see :mod:`simulators.city.canonical` for the byte-stable text).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass(slots=True)
class Node:
    code: str  # 9-digit 流通节点编码
    name: str
    type: str  # catalogue node type: slaughter_pig, farmers_market…
    supply_type: str  # mtrace supplyType (identifiers.toml)
    district_code: str
    district_name: str
    address: str
    hours_open: str
    hours_close: str
    operator_code: str  # the node's own operator record (…0000)
    phone: str
    last_certificates: dict[str, str] = field(default_factory=dict)  # kind -> last number issued


@dataclass(slots=True)
class Operator:
    code: str  # 13-digit 经营者编码
    node_code: str
    name: str
    kind: str  # company | individual
    business_type: str  # mtrace businessType; the node's own record uses the catalogue's self type
    phone: str
    uscc: str | None = None  # companies always; individuals when they hold a 个体工商户 licence (92…)
    resident_id: str | None = None  # individuals
    legal_person: str | None = None  # companies


@dataclass(slots=True)
class Stall:
    node_code: str
    number: str  # A01 (meat zone), B07 (vegetables), G01 (supermarket counter)
    operator_code: str
    category: str  # meat | vegetable


@dataclass(slots=True)
class Card:
    uid: str  # 4-byte UID, 8 upper-case hex
    operator_code: str
    card_type: str  # 01 服务卡
    card_kind: str  # 01 主卡, 02 副卡


@dataclass(slots=True)
class Scale:
    id: str
    node_code: str
    operator_code: str
    stall: str | None  # stall number at the node, None for wholesale/gate scales
    kind: str  # counter (案秤) | platform (台秤)
    capacity_kg: int
    divisions_g: list[int]
    vendor: str
    model: str
    serial: str
    simulated: bool  # True: a model of this project, not a real product


@dataclass(slots=True)
class Handheld:
    id: str
    node_code: str
    vendor: str
    model: str
    serial: str
    simulated: bool


@dataclass(slots=True)
class Vehicle:
    plate: str
    operator_code: str
    kind: str  # ordinary | nev_small | nev_large
    body: str  # refrigerated | van | livestock
    disinfection_cert: str


@dataclass(slots=True)
class Origin:
    id: str
    type: str  # pig_farm | cattle_sheep_farm | poultry_farm | vegetable_base
    name: str
    region_code: str
    region_name: str  # full GB/T 2260 path name
    owner: str
    phone: str
    certificate: str  # the latest certificate issued for this origin (AQ… or VO…)


_LISTS = {
    "nodes": Node,
    "operators": Operator,
    "stalls": Stall,
    "cards": Card,
    "scales": Scale,
    "handhelds": Handheld,
    "vehicles": Vehicle,
    "origins": Origin,
}


@dataclass(slots=True)
class City:
    preset: str
    seed: int
    profile: str
    generator: dict  # versions whose change changes the bytes (faker)
    city_code: str
    city_name: str
    province_name: str
    plate_prefix: str
    reference_date: str
    districts: list[dict]  # [{"code", "name"}]
    nodes: list[Node] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    scales: list[Scale] = field(default_factory=list)
    handhelds: list[Handheld] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)

    FORMAT = "roucai-city"
    VERSION = 1

    def to_dict(self) -> dict:
        out = {"format": self.FORMAT, "version": self.VERSION}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = [asdict(x) for x in v] if f.name in _LISTS else v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "City":
        """Rebuild a city from :meth:`to_dict` output (``KeyError``/``TypeError`` if malformed)."""
        kw = {f.name: d[f.name] for f in fields(cls) if f.name not in _LISTS}
        for name, klass in _LISTS.items():
            kw[name] = [klass(**x) for x in d.get(name, [])]
        return cls(**kw)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in _LISTS}

    def nodes_by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n.type] = out.get(n.type, 0) + 1
        return out
