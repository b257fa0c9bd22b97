"""Valid example records from a seed: for ``roucai records example``, golden files and tests.

``example_record(catalog, type_name, rng)`` returns a record that
:meth:`~profiles.records.RecordCatalog.validate` accepts, built only from the
profile (regions, commodity table, code rules).  Same ``random.Random`` state
-> same record.  Names and places are small built-in lists (no Faker: the
profile imports nothing heavy); the city fixtures in ``simulators/`` make
realistic ones.
"""

from __future__ import annotations

import datetime as _dt
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from .records import RecordCatalog, RecordType

if TYPE_CHECKING:  # typing only: the profile builds these parts lazily
    from .codes import CodeBook
    from .commodities import Commodity
    from .identifiers import Identifiers
    from .regions import RegionTable

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高艾买热阿"
_GIVEN = ["建国", "丽", "军", "芳", "伟", "娜", "强", "磊", "秀英", "古丽", "江", "明", "提", "海燕", "斌"]
_COMPANY = ["天山", "昆仑", "丝路", "雪莲", "红山", "金穗", "绿源", "丰收", "博格达", "天润"]
_NODE_WORD = {
    "butcher_fac_name": "肉联厂",
    "market_name": "农产品批发市场",
    "retail_market_name": "农贸市场",
    "supermarket_name": "超市",
    "team_consume_name": "食堂",
    "ws_supplier_name": "农产品批发市场",
}
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
#: Urumqi districts: the seed city of the project (any county-level code would do)
#: 源头衔接 identifiers (identifiers.toml [ear_tag], [base_id]): generated from a stream of their own
_SOURCE_IDS = ("ear_tag_start", "ear_tag_end", "base_id")
URUMQI_COUNTIES = ["650102", "650103", "650104", "650105", "650106", "650107", "650109", "650121"]


class _Gen:
    def __init__(self, cat: RecordCatalog, rng: random.Random, day: _dt.date, node: str | None):
        self.cat, self.rng, self.day = cat, rng, day
        self.codes: CodeBook = cat.profile.codes
        self.node = node or self.codes.node_code(rng.choice(URUMQI_COUNTIES), rng.randint(1, 60))

    def operator(self) -> str:
        return self.codes.operator_code(self.node, self.rng.randint(1, 999))

    def trace(self) -> str:
        return self.codes.trace_code(self.operator(), self.rng.randint(1, 9_999_999))

    def cert(self) -> str:
        return f"{self.rng.randint(10, 65)}{self.rng.randint(0, 99_999_999):08d}"

    def source_id(self, name: str) -> str:
        """Ear tags (a range of a pig lot's consecutive tags) and a production base id, valid under the profile."""
        ids: Identifiers = self.cat.profile.identifiers
        r = random.Random(repr(self.rng.getstate()[1]))  # reads the main stream's state, draws nothing from it
        county = r.choice(URUMQI_COUNTIES)
        if name == "base_id":
            return ids.new_base_id(county, r.randint(1, 99))
        first = r.randint(1, 10**7)
        return ids.new_ear_tag("pig", county, first if name == "ear_tag_start" else first + r.randint(10, 60))

    def person(self) -> str:
        return self.rng.choice(_SURNAMES) + self.rng.choice(_GIVEN)

    def value(self, rt: RecordType, name: str, commodity: Commodity | None) -> str | None:
        f = rt.by_name[name]
        r = self.rng
        if name in rt.meat_certs:
            return self.cert() if commodity is None or commodity.kind == "meat" else None
        if f.type == "node_code":
            return (
                self.node
                if name == rt.node_field
                else self.codes.node_code(r.choice(URUMQI_COUNTIES), r.randint(1, 60))
            )
        if f.type == "operator_code":
            return self.operator()
        if f.type == "trace_code":
            return self.trace()
        if f.type == "commodity_code":
            assert commodity is not None, "example_record draws a commodity for every type with a commodity code"
            return commodity.code
        if f.type == "region_code":
            return r.choice(URUMQI_COUNTIES)
        if f.type == "date":
            return self.day.strftime("%Y%m%d")
        if f.type == "datetime":
            return _dt.datetime.combine(
                self.day, _dt.time(r.randint(5, 20), r.randint(0, 59), r.randint(0, 59))
            ).strftime("%Y%m%d%H%M%S")
        if f.type == "enum":
            return "1"
        if f.type == "integer":
            if any(name == a for a, _ in rt.not_greater):  # dead / positive head counts: few
                return str(r.randint(0, 2))
            return str(r.randint(3, 120))
        if f.type == "decimal":
            q = f.decimal
            if q.name == "price" and commodity is not None:
                lo, hi = int(commodity.price_low * 100), int(commodity.price_high * 100)
                return str(Decimal(r.randint(lo, hi)).scaleb(-2))
            if q.name == "weight":
                return str(Decimal(r.randint(500, 500_000)).scaleb(-3))
            return str(Decimal(r.randint(100, 10_000_000)).scaleb(-2))
        # strings
        if rt.node_field and name == rt.node_field.replace("_id", "_name"):  # the node's own name: stable
            return _COMPANY[int(self.node) % len(_COMPANY)] + _NODE_WORD.get(name, "")
        if name in _NODE_WORD:
            return r.choice(_COMPANY) + _NODE_WORD[name]
        if name in ("goods_name", "meat_name"):
            return commodity.name_zh if commodity is not None else "商品"
        if name in ("area_origin_name", "dest"):
            regions: RegionTable = self.cat.profile.regions
            return regions.full_name(r.choice(URUMQI_COUNTIES))
        if name == "batch_id":
            return self.trace()
        if name == "transporter_id":
            return "新A" + r.choice(_PLATE_LETTERS) + f"{r.randint(0, 9999):04d}"
        if name == "reg_id":
            return f"{r.randint(0, 10**15 - 1):015d}"
        if name == "type":
            return "2002"
        if name == "tel":
            return "1" + "".join(str(r.randint(0, 9)) for _ in range(10))
        if name == "position_id":
            return f"{r.choice('ABCD')}{r.randint(1, 99):02d}"
        if name == "result_expl":
            return "农药残留快速检测合格"
        if name in _SOURCE_IDS:  # a stream of their own: the other fields' values stay as they were
            return self.source_id(name)
        if f.pattern is not None:
            return f"{r.randint(1, 99_999_999):08d}"
        if name.endswith("_name") or name in ("name", "legal_represent", "detector"):
            if name in ("name", "supplier_name", "wholesaler_name"):
                return (
                    r.choice(_COMPANY) + r.choice(["商贸有限公司", "蔬菜合作社"]) if r.random() < 0.5 else self.person()
                )
            return self.person()
        return "示例"


def example_record(
    cat: RecordCatalog,
    type_name: str,
    rng: random.Random | None = None,
    day: _dt.date = _dt.date(2024, 5, 18),
    optional: bool = True,
    node: str | None = None,
) -> dict[str, str]:
    """A valid record of ``type_name`` (``KeyError`` if unknown).

    ``optional=False`` leaves optional fields out (meat certificates stay);
    ``node``: the reporting node's code (its operators' codes derive from it).
    """
    rt = cat.types[type_name]
    rng = rng or random.Random(0)
    g = _Gen(cat, rng, day, node)
    commodity = None
    comm_field = next((f for f in rt.fields if f.type == "commodity_code"), None)
    if comm_field is not None:
        pool = cat.profile.commodities.of_kind(comm_field.kind) if comm_field.kind else list(cat.profile.commodities)
        commodity = rng.choice(pool)
    rec: dict[str, str] = {}
    for f in rt.fields:
        if not optional and f.name not in rt.required and f.name not in rt.meat_certs:
            continue
        v = g.value(rt, f.name, commodity)
        if v is not None:
            rec[f.name] = v
    for a, b in rt.not_greater:
        if a in rec and b in rec and int(rec[a]) > int(rec[b]):
            rec[a], rec[b] = rec[b], rec[a]
    return rec
