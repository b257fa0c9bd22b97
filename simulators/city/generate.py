"""Generate a whole city from a preset and a seed: :func:`generate_city`.

Same preset + seed + profile + Faker version ⇒ the same :class:`City`, and so
byte-identical canonical JSON.  Nothing reads the clock: dates derive from the
preset's ``reference_date``.  Randomness comes from ``random.Random`` streams
seeded with ``f"{seed}:{stream}"`` (one per concern, so adding vehicles does
not change names) and one ``Faker("zh_CN")`` seeded per instance.

What is generated, per node (types and counts from ``catalogue.toml`` and the
preset): a 9-digit node code ``p.codes.node_code(district, seq)`` with the
sequence counted per district; the node's own operator record (seq 0000, a
company with a USCC registered in the node's district); registered operators
(wholesalers, dealers) and stall operators with consecutive operator codes;
stalls; service cards (a 主卡 for every trading operator, plus a 副卡 for
wholesalers); scales (a 15 kg 案秤 per stall, a 150 kg 台秤 per wholesaler and
at slaughterhouse gates); handhelds; vehicles with plates of the city's prefix;
and the last certificate numbers a node issued.  Origins (farms, vegetable
bases) carry their region and their latest certificate.

Errors: :class:`~simulators.city.errors.PresetError` for a bad preset.
"""

from __future__ import annotations

import datetime as dt
import random

from profiles import load_profile

from .addresses import address
from .catalogue import load_catalogue, node_type_order
from .model import Card, City, Handheld, Node, Operator, Origin, Scale, Stall, Vehicle
from .people import FAKER_VERSION, People
from .errors import PresetError
from .presets import Preset, load_preset

_INDIVIDUAL_LICENCE_SHARE = 0.8  # individuals who also hold a 个体工商户 licence (USCC 92…): profile estimate
_WHOLESALER_COMPANY_SHARE = 0.3  # registered operators that are companies: profile estimate
_PLATE_KINDS = (("ordinary", 85), ("nev_small", 10), ("nev_large", 5))  # profile estimate


def generate_city(preset: str | Preset, seed: int, profile=None) -> City:
    """Build the city of ``preset`` (a name, a ``.toml`` path or a :class:`Preset`) for ``seed``."""
    if type(seed) is not int or seed < 0:
        raise PresetError(f"种子应为非负整数，实为 {seed!r}", f"the seed must be a non-negative integer, not {seed!r}")
    profile = profile or load_profile()
    p = preset if isinstance(preset, Preset) else load_preset(preset, profile)
    return _Builder(p, seed, profile).build()


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` split into ``parts`` positive integers, seeded, uneven like real markets."""
    if parts == 0:
        return []
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    extra = total - parts
    raw = [extra * w / sum(weights) for w in weights]
    out = [1 + int(x) for x in raw]
    short = total - sum(out)
    by_remainder = sorted(range(parts), key=lambda i: (-(raw[i] - int(raw[i])), i))
    for i in by_remainder[:short]:
        out[i] += 1
    return out


class _Builder:
    def __init__(self, preset: Preset, seed: int, profile):
        self.p = preset
        self.seed = seed
        self.profile = profile
        self.codes = profile.codes
        self.ids = profile.identifiers
        self.cat = load_catalogue()
        self.parts = self.cat["parts"]
        self.rng = {
            s: random.Random(f"{seed}:{s}")
            for s in ("place", "operators", "devices", "vehicles", "origins", "ids", "people")
        }
        self.people = People(seed, self.rng["people"], preset.reference_date, self.ids.resident_id_check_char)
        self.date: dt.date = preset.reference_date
        regions = profile.regions
        city_r = regions.get(preset.city)
        prov_r = regions.get(city_r.parent_code)
        plate_prefix = self.ids.plate_prefix_of(preset.city)
        if plate_prefix is None:
            raise PresetError(
                f"本配置不知道 {preset.city} 的车牌前缀", f"the profile knows no plate prefix for {preset.city}"
            )
        self.city = City(
            preset=preset.name,
            seed=seed,
            profile=profile.lineage[0],
            generator={"faker": FAKER_VERSION},
            city_code=preset.city,
            city_name=city_r.name,
            province_name=prov_r.name,
            plate_prefix=plate_prefix,
            reference_date=preset.reference_date.isoformat(),
            districts=[{"code": d, "name": regions.get(d).name} for d in preset.districts],
        )
        self.city_short = city_r.name.removesuffix("市")
        self._district_seq = {d: 0 for d in preset.districts}
        self._names: set[str] = set()
        self._usccs: set[str] = set()
        self._uids: set[str] = set()
        self._plates: set[str] = set()
        self._serials: set[str] = set()
        self._cert_serial: dict[tuple[str, str], int] = {}
        rej = self.parts["brand_reject"]
        self._brands = sorted({b for b in self._faker_prefixes() if not any(r in b for r in rej)})
        self._scale_node, self._scale_no = "", 0

    @staticmethod
    def _faker_prefixes() -> list[str]:
        from faker.providers.company.zh_CN import Provider

        return list(Provider.company_prefixes)

    # -- small helpers ---------------------------------------------------
    def _brand(self) -> str:
        b = self.people.brand()
        if b in self._brands:
            return b
        syl = self.parts["brand_syllables"]
        r = self.rng["place"]
        return r.choice(syl) + r.choice(syl)

    def _unique_name(self, make, first: str | None = None) -> str:
        """Call ``make(brand)`` until the name is new: ``first``, then Faker brands, then own syllables."""
        self.last_brand = ""
        for attempt in range(50):
            if attempt == 0 and first:
                brand = first
            elif attempt < 10:
                brand = self._brand()
            else:
                brand = "".join(self.rng["place"].choice(self.parts["brand_syllables"]) for _ in range(2))
            name = make(brand)
            if name not in self._names:
                self._names.add(name)
                self.last_brand = brand
                return name
        raise RuntimeError("could not find a unique name")  # pragma: no cover - 900 syllable pairs

    def _new_uscc(self, region: str, dept: str = "9", cat: str = "1") -> str:
        while True:
            code = self.ids.new_uscc(self.rng["ids"], region, dept, cat)
            if code not in self._usccs:
                self._usccs.add(code)
                return code

    def _certificate(self, kind: str, region: str) -> str:
        key = (kind, region)
        n = self._cert_serial.get(key)
        n = self.rng["ids"].randint(1, 300) if n is None else n + 1
        self._cert_serial[key] = n
        return self.ids.new_certificate(kind, region, self.date, n)

    def _uid(self) -> str:
        while True:
            uid = self.ids.new_card_uid(self.rng["devices"])
            if uid not in self._uids:
                self._uids.add(uid)
                return uid

    def _serial(self, prefix: str) -> str:
        while True:
            s = f"{prefix}{self.date:%y}{self.rng['devices'].randint(0, 99_999_999):08d}"
            if s not in self._serials:
                self._serials.add(s)
                return s

    def _plate(self) -> tuple[str, str]:
        r = self.rng["vehicles"]
        kind = r.choices([k for k, _ in _PLATE_KINDS], weights=[w for _, w in _PLATE_KINDS])[0]
        while True:
            plate = self.ids.new_plate(r, self.city.plate_prefix, kind)
            if plate not in self._plates:
                self._plates.add(plate)
                return plate, kind

    # -- operators ---------------------------------------------------------
    def _company(self, node: Node, seq: int, business_type: str, name: str, dept_cat: str = "91") -> Operator:
        return Operator(
            code=self.codes.operator_code(node.code, seq),
            node_code=node.code,
            name=name,
            kind="company",
            business_type=business_type,
            phone=self.people.phone(),
            uscc=self._new_uscc(node.district_code, dept_cat[0], dept_cat[1]),
            legal_person=self.people.name(),
        )

    def _individual(self, node: Node, seq: int, business_type: str) -> Operator:
        r = self.rng["operators"]
        licensed = r.random() < _INDIVIDUAL_LICENCE_SHARE
        return Operator(
            code=self.codes.operator_code(node.code, seq),
            node_code=node.code,
            name=self.people.name(),
            kind="individual",
            business_type=business_type,
            phone=self.people.phone(),
            resident_id=self.people.resident_id(),
            uscc=self._new_uscc(node.district_code, "9", "2") if licensed else None,
        )

    def _trade_company_name(self, category: str) -> str:
        word = {"meat": "肉类食品", "vegetable": "蔬菜", "": "商贸"}[category]
        return self._unique_name(lambda b: f"{self.city_short}{b}{word}有限公司")

    # -- nodes -------------------------------------------------------------
    def build(self) -> City:
        for t in node_type_order():
            spec = self.p.nodes.get(t)
            if spec is None or spec.count == 0:
                continue
            ty = self.cat["node_types"][t]
            stalls = _split(spec.stalls, spec.count, self.rng["place"]) if spec.stalls else [0] * spec.count
            for i in range(spec.count):
                named = spec.named[i] if i < len(spec.named) else None
                self._node(t, ty, spec, named, stalls[i])
        self._origins()
        return self.city

    def _node(self, t: str, ty: dict, spec, named: dict | None, n_stalls: int) -> None:
        r = self.rng["place"]
        district = (named or {}).get("district") or r.choice(self.p.districts)
        self._district_seq[district] += 1
        code = self.codes.node_code(district, self._district_seq[district])
        dname = self.profile.regions.get(district).name
        unit = r.choice(self.parts["unit"]) if "{unit}" in ty["name"] else ["", "91"]
        dish = r.choice(self.parts["dish"])
        fmt = dict(city=self.city_short, district=dname, unit=unit[0], dish=dish)
        if named:
            name, brand = named["name"], None
            self._names.add(name)
        else:
            name = self._unique_name(lambda b: ty["name"].format(brand=b, **fmt))
            brand = self.last_brand
        hours = spec.hours or tuple(ty["hours"])
        node = Node(
            code=code,
            name=name,
            type=t,
            supply_type=ty["supply_type"],
            district_code=district,
            district_name=dname,
            address=address(r, self.city.province_name, self.city.city_name, dname, self.parts),
            hours_open=hours[0],
            hours_close=hours[1],
            operator_code=self.codes.operator_code(code, 0),
            phone=self.people.phone(),
        )
        self.city.nodes.append(node)
        # the node's own operator record (seq 0000)
        company = self._unique_name(
            lambda b: ty["company"].format(brand=b, **fmt), first=brand
        )  # same trade name as the node
        own = self._company(node, 0, ty["self_business_type"], company, unit[1])
        self.city.operators.append(own)
        for kind in ty.get("certificates", []):
            node.last_certificates[kind] = self._certificate(kind, district)
        seq = 0
        # registered operators (dealers, wholesalers, suppliers)
        lo, hi = spec.registered
        registered = []
        for _ in range(self.rng["operators"].randint(lo, hi) if hi else 0):
            seq += 1
            bt = ty["registered_business_type"]
            if self.rng["operators"].random() < _WHOLESALER_COMPANY_SHARE:
                cat = "meat" if t.startswith(("slaughter", "meat")) else "vegetable"
                op = self._company(node, seq, bt, self._trade_company_name(cat))
            else:
                op = self._individual(node, seq, bt)
            registered.append(op)
        self.city.operators.extend(registered)
        # stalls and their operators
        stall_ops, stalls = [], []
        zone_no: dict[str, int] = {}
        for _ in range(n_stalls):
            seq += 1
            category = self.rng["operators"].choice(ty["stall_categories"])
            zone = ty.get("stall_prefix") or ("A" if category == "meat" else "B")
            zone_no[zone] = zone_no.get(zone, 0) + 1
            bt = ty["stall_business_type"]
            op = (
                self._company(node, seq, bt, self._trade_company_name(category))
                if ty["stall_operator"] == "company"
                else self._individual(node, seq, bt)
            )
            stall_ops.append(op)
            stalls.append(
                Stall(node_code=code, number=f"{zone}{zone_no[zone]:02d}", operator_code=op.code, category=category)
            )
        self.city.operators.extend(stall_ops)
        self.city.stalls.extend(stalls)
        self._cards(own if ty.get("self_card") else None, registered + stall_ops)
        self._devices(node, ty, own, registered, stalls)
        self._vehicles(node, ty, own, registered)

    def _cards(self, own: Operator | None, ops: list[Operator]) -> None:
        for op in ([own] if own else []) + ops:
            self.city.cards.append(Card(uid=self._uid(), operator_code=op.code, card_type="01", card_kind="01"))
            if op.business_type == "1003":
                self.city.cards.append(Card(uid=self._uid(), operator_code=op.code, card_type="01", card_kind="02"))

    def _scale(self, node: Node, operator_code: str, stall: str | None, kind: str, model: dict) -> Scale:
        cap = self.cat["scale_capacities"][kind]
        n = self._next_scale(node)
        return Scale(
            id=f"SC{node.code}{n:03d}",
            node_code=node.code,
            operator_code=operator_code,
            stall=stall,
            kind=kind,
            capacity_kg=cap["capacity_kg"],
            divisions_g=list(cap["divisions_g"]),
            vendor=model["vendor"],
            model=model["model"],
            serial=self._serial(model["serial_prefix"]),
            simulated=model["simulated"],
        )

    def _next_scale(self, node: Node) -> int:
        if self._scale_node != node.code:
            self._scale_node, self._scale_no = node.code, 0
        self._scale_no += 1
        return self._scale_no

    def _devices(self, node: Node, ty: dict, own: Operator, registered: list[Operator], stalls: list[Stall]) -> None:
        r = self.rng["devices"]
        model = r.choice(self.cat["scale_models"])  # one tender per node: one scale model
        for st in stalls:
            self.city.scales.append(self._scale(node, st.operator_code, st.number, "counter", model))
        if ty.get("wholesaler_scales"):
            for op in registered:
                self.city.scales.append(self._scale(node, op.code, None, "platform", model))
        for _ in range(ty.get("platform_scales", 0)):
            self.city.scales.append(self._scale(node, own.code, None, "platform", model))
        hm = self.cat["handheld_models"]
        for i in range(ty.get("handhelds", 0)):
            m = hm[i % len(hm)]
            self.city.handhelds.append(
                Handheld(
                    id=f"HH{node.code}{i + 1:02d}",
                    node_code=node.code,
                    vendor=m["vendor"],
                    model=m["model"],
                    serial=self._serial(m["serial_prefix"]),
                    simulated=m["simulated"],
                )
            )

    def _vehicles(self, node: Node, ty: dict, own: Operator, registered: list[Operator]) -> None:
        r = self.rng["vehicles"]
        owners = []
        if "self_vehicles" in ty:
            lo, hi = ty["self_vehicles"]
            owners += [own] * r.randint(lo, hi)
        share = ty.get("vehicle_share", 0.0)
        owners += [op for op in registered if r.random() < share]
        for op in owners:
            plate, kind = self._plate()
            self.city.vehicles.append(
                Vehicle(
                    plate=plate,
                    operator_code=op.code,
                    kind=kind,
                    body=ty.get("vehicle_body", "van"),
                    disinfection_cert=self._certificate("vehicle_disinfection", node.district_code),
                )
            )

    # -- origins -------------------------------------------------------------
    def _origins(self) -> None:
        regions = self.profile.regions
        n = 0
        for spec in self.p.origins:
            ot = self.cat["origin_types"][spec.type]
            for i in range(spec.count):
                n += 1
                region = spec.regions[i % len(spec.regions)]
                county = regions.get(region).name
                name = self._unique_name(lambda b: ot["name"].format(county=county, brand=b))
                self.city.origins.append(
                    Origin(
                        id=f"OR{n:04d}",
                        type=spec.type,
                        name=name,
                        region_code=region,
                        region_name=regions.full_name(region),
                        owner=self.people.name(),
                        phone=self.people.phone(),
                        certificate=self._certificate(ot["certificate"], region),
                    )
                )
