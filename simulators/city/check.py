"""Validate every code and identifier in a city's JSON form: :func:`check_city`.

Works on the parsed JSON (a ``dict``), not on :class:`~.model.City`, so a
hand-edited or foreign file is judged field by field and never raises for bad
content.  What is checked, with the rule of each finding:

* node codes, operator codes (``p.codes``: CODE-NODE-*, CODE-OPER-*);
* USCCs, resident ids, plates, certificates, card UIDs (``p.identifiers``:
  CODE-USCC-*, CODE-RESID-*, CODE-PLATE-*, CODE-CERT-*, CODE-CARD-*);
* a node's own operator record is node code + 0000 (CODE-OPER-02); origins
  carry a GB/T 2260 code whose name matches (CODE-ORIG-01);
* registration consistency, rule NODE-REG-01 (this profile's own rule): an
  operator code extends its node's code, a node's district is its code's
  region, references (stall → operator, card → operator, scale → node/stall,
  vehicle → operator) resolve, enumerations (supply_type, business_type,
  card_type, card_kind) are known, and codes, UIDs, plates, USCCs, resident
  ids and certificate numbers are unique.

Each finding's ``field`` is the JSON path (``operators[12].uscc[17]``).
:class:`NotACityError` is raised only when the top level is not a city at all
(the CLI reports it as a usage error, exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from profiles import Finding, load_profile

from .errors import NotACityError
from .model import City

REG = "NODE-REG-01"
_ORIGIN_CERT = {
    "pig_farm": "animal_quarantine",
    "cattle_sheep_farm": "animal_quarantine",
    "poultry_farm": "animal_quarantine",
    "vegetable_base": "veg_origin",
}


def _text(v) -> str | None:
    """``v`` if it is text, else ``None`` (JSON may hold anything where a code belongs)."""
    return v if isinstance(v, str) else None


def _has(mapping, v) -> bool:
    return isinstance(v, str) and v in mapping


@dataclass
class CityCheck:
    """Per-kind counts of values checked, and every finding."""

    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def errors_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            if f.severity == "error":
                out[f.rule] = out.get(f.rule, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {"ok": self.ok, "counts": self.counts, "findings": [f.to_dict() for f in self.findings]}


class _Checker:
    def __init__(self, profile):
        self.codes = profile.codes
        self.ids = profile.identifiers
        self.regions = profile.regions
        self.res = CityCheck()
        self._seen: dict[str, dict[str, str]] = {}

    def count(self, kind: str) -> None:
        self.res.counts[kind] = self.res.counts.get(kind, 0) + 1

    def reg(self, path: str, zh: str, en: str, value=None) -> None:
        self.res.findings.append(Finding(REG, path, zh, en, value=None if value is None else str(value)))

    def wrap(self, path: str, found: list[Finding]) -> None:
        for f in found:
            sub = f.field if f.field.startswith("[") else f".{f.field}"
            self.res.findings.append(Finding(f.rule, f"{path}{sub}", f.zh, f.en, f.severity, f.value))

    def unique(self, kind: str, value, path: str) -> None:
        if not isinstance(value, str):
            return
        seen = self._seen.setdefault(kind, {})
        if value in seen:
            self.reg(
                path, f"{kind}「{value}」与 {seen[value]} 重复", f"{kind} {value!r} duplicates {seen[value]}", value
            )
        else:
            seen[value] = path

    def code(self, value, kind: str, path: str) -> None:
        self.count(kind)
        if not isinstance(value, str):
            self.reg(path, f"缺少或不是文本：{kind}", f"missing or not text: {kind}")
            return
        self.wrap(path, self.codes.findings(value, kind))
        self.unique(kind, value, path)

    def ident(self, value, kind: str, path: str, cert_kind: str | None = None) -> None:
        self.count(kind)
        self.wrap(path, self.ids.findings(value, kind, cert_kind))
        self.unique(kind, value, path)

    def enum(self, item: dict, key: str, enum: str, path: str) -> None:
        v = item.get(key)
        if not isinstance(v, str) or self.ids.enum_label(enum, v) is None:
            self.reg(f"{path}.{key}", f"{key}「{v}」不在枚举 {enum} 中", f"{key} {v!r} is not in enumeration {enum}", v)


def _items(data: dict, name: str, chk: _Checker):
    items = data.get(name, [])
    if not isinstance(items, list):
        chk.reg(name, f"{name} 应为列表", f"{name} must be a list")
        return
    for i, item in enumerate(items):
        path = f"{name}[{i}]"
        if not isinstance(item, dict):
            chk.reg(path, "应为对象", "must be an object")
            continue
        yield path, item


def check_city(data, profile=None) -> CityCheck:
    """Validate the JSON form of a city (``dict``); see the module docstring."""
    if isinstance(data, City):
        data = data.to_dict()
    if not isinstance(data, dict) or data.get("format") != City.FORMAT:
        raise NotACityError(
            '这不是城市数据文件（缺少 "format": "roucai-city"）', 'not a city file (no "format": "roucai-city")'
        )
    profile = profile or load_profile()
    chk = _Checker(profile)
    nodes: dict[str, dict] = {}
    for path, n in _items(data, "nodes", chk):
        code = n.get("code")
        chk.code(code, "node", f"{path}.code")
        if isinstance(code, str):
            nodes[code] = n
            if n.get("district_code") != code[:6]:
                chk.reg(
                    f"{path}.district_code",
                    f"区县代码「{n.get('district_code')}」与节点编码前6位不一致",
                    f"district_code {n.get('district_code')!r} differs from the node code's region",
                    code,
                )
            if n.get("operator_code") != code + chk.codes.self_seq:
                chk.res.findings.append(
                    Finding(
                        "CODE-OPER-02",
                        f"{path}.operator_code",
                        "节点自身经营者编码应为节点编码+0000",
                        "the node's own operator code must be the node code + 0000",
                        value=str(n.get("operator_code")),
                    )
                )
        chk.enum(n, "supply_type", "supply_type", path)
        certs = n.get("last_certificates", {})
        for kind, number in certs.items() if isinstance(certs, dict) else []:
            if kind not in chk.ids.cert_kinds:
                chk.reg(
                    f"{path}.last_certificates.{kind}", f"未知证明类别 {kind!r}", f"unknown certificate kind {kind!r}"
                )
                continue
            chk.ident(number, "certificate", f"{path}.last_certificates.{kind}", kind)
    operators: dict[str, dict] = {}
    for path, o in _items(data, "operators", chk):
        code = o.get("code")
        chk.code(code, "operator", f"{path}.code")
        if isinstance(code, str):
            operators[code] = o
            if o.get("node_code") != chk.codes.node_of(code) or not _has(nodes, o.get("node_code")):
                chk.reg(
                    f"{path}.node_code",
                    "经营者编码不在其所属节点编码之下，或节点不存在",
                    "the operator code is not under its node's code, or the node does not exist",
                    o.get("node_code"),
                )
        chk.enum(o, "business_type", "business_type", path)
        kind = o.get("kind")
        if kind not in ("company", "individual"):
            chk.reg(f"{path}.kind", "kind 应为 company 或 individual", "kind must be company or individual", kind)
        if kind == "company" or o.get("uscc") is not None:
            chk.ident(o.get("uscc"), "uscc", f"{path}.uscc")
        if kind == "individual" or o.get("resident_id") is not None:
            chk.ident(o.get("resident_id"), "resident_id", f"{path}.resident_id")
    stalls: set[tuple] = set()
    for path, s in _items(data, "stalls", chk):
        chk.count("stall")
        key = (_text(s.get("node_code")), _text(s.get("number")))
        chk.unique("stall", f"{key[0]}/{key[1]}", path)
        stalls.add(key)
        op = operators.get(_text(s.get("operator_code")))
        if op is None or op.get("node_code") != s.get("node_code"):
            chk.reg(
                f"{path}.operator_code",
                "摊位的经营者不存在或不属于该节点",
                "the stall's operator does not exist or belongs to another node",
                s.get("operator_code"),
            )
    for path, c in _items(data, "cards", chk):
        chk.ident(c.get("uid"), "card_uid", f"{path}.uid")
        chk.enum(c, "card_type", "card_type", path)
        chk.enum(c, "card_kind", "card_kind", path)
        if not _has(operators, c.get("operator_code")):
            chk.reg(
                f"{path}.operator_code",
                "卡片所属经营者不存在",
                "the card's operator does not exist",
                c.get("operator_code"),
            )
    for name in ("scales", "handhelds"):
        for path, d in _items(data, name, chk):
            chk.count(name[:-1])
            chk.unique(name[:-1], d.get("id"), f"{path}.id")
            chk.unique("device serial", d.get("serial"), f"{path}.serial")
            if not _has(nodes, d.get("node_code")):
                chk.reg(
                    f"{path}.node_code", "设备所在节点不存在", "the device's node does not exist", d.get("node_code")
                )
            if name == "scales":
                if not _has(operators, d.get("operator_code")):
                    chk.reg(
                        f"{path}.operator_code",
                        "秤绑定的经营者不存在",
                        "the scale's operator does not exist",
                        d.get("operator_code"),
                    )
                if d.get("stall") is not None and (_text(d.get("node_code")), _text(d.get("stall"))) not in stalls:
                    chk.reg(f"{path}.stall", "秤绑定的摊位不存在", "the scale's stall does not exist", d.get("stall"))
    for path, v in _items(data, "vehicles", chk):
        chk.ident(v.get("plate"), "plate", f"{path}.plate")
        chk.ident(v.get("disinfection_cert"), "certificate", f"{path}.disinfection_cert", "vehicle_disinfection")
        if not _has(operators, v.get("operator_code")):
            chk.reg(
                f"{path}.operator_code",
                "车辆所属经营者不存在",
                "the vehicle's operator does not exist",
                v.get("operator_code"),
            )
    for path, o in _items(data, "origins", chk):
        chk.count("origin")
        region = o.get("region_code")
        if not isinstance(region, str) or region not in chk.regions:
            chk.res.findings.append(
                Finding(
                    "CODE-ORIG-01",
                    f"{path}.region_code",
                    "产地区划代码不是GB/T 2260代码",
                    "the origin's region is not a GB/T 2260 code",
                    value=str(region),
                )
            )
        elif o.get("region_name") != chk.regions.full_name(region):
            chk.res.findings.append(
                Finding(
                    "CODE-ORIG-01",
                    f"{path}.region_name",
                    "产地名称与区划代码不一致",
                    "the origin's name does not match its region code",
                    value=str(o.get("region_name")),
                )
            )
        want = _ORIGIN_CERT.get(_text(o.get("type")))
        if want is None:
            chk.reg(f"{path}.type", f"未知产地类型 {o.get('type')!r}", f"unknown origin type {o.get('type')!r}")
        chk.ident(o.get("certificate"), "certificate", f"{path}.certificate", want)
    return chk.res
