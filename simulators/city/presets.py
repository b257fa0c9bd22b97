"""City presets (``presets/NAME.toml``): how many nodes, stalls and origins a city has.

A preset names a prefecture-level GB/T 2260 code (``city``), optionally the
subset of its county-level ``districts`` to use (default: all of them), a
``reference_date`` (ISO date; every date in the city derives from it, never
from the clock), ``[nodes.TYPE]`` tables (``count``; ``registered = [lo, hi]``
operators registered per node besides the node itself; ``stalls`` = total
stalls over all nodes of the type; ``hours = [open, close]``; ``named`` = real
names, optionally with their district) and ``[[origins]]`` (``type``,
``regions``, ``count``).  Node types come from ``catalogue.toml``.

:func:`load_preset` validates everything before any generation and raises
:class:`PresetError` (bilingual; the CLI exits 2) for an unknown name, a
malformed file, negative counts, unknown types or regions.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import load_catalogue
from .errors import PresetError

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MAX_NODE_SEQ = 999  # 3-digit node registration sequence per district
_MAX_OPERATOR_SEQ = 9999  # 4-digit operator sequence per node


@dataclass(frozen=True)
class NodeSpec:
    type: str
    count: int
    registered: tuple[int, int] = (0, 0)
    stalls: int = 0
    hours: tuple[str, str] | None = None
    named: tuple[dict, ...] = ()


@dataclass(frozen=True)
class OriginSpec:
    type: str
    regions: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class Preset:
    name: str
    zh: str
    en: str
    city: str
    districts: tuple[str, ...]
    reference_date: dt.date
    nodes: dict[str, NodeSpec]
    origins: tuple[OriginSpec, ...]
    sources: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return sum(s.count for s in self.nodes.values())

    @property
    def stall_count(self) -> int:
        return sum(s.stalls for s in self.nodes.values())


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def _fail(zh: str, en: str):
    raise PresetError(zh, en)


def _int(v, what: str, lo: int = 0, hi: int | None = None) -> int:
    if type(v) is not int:
        _fail(f"{what} 应为整数，实为 {v!r}", f"{what} must be an integer, not {v!r}")
    if v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        _fail(f"{what} 须在 {rng} 之间，实为 {v}", f"{what} must be {rng}, is {v}")
    return v


def _only(table: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        _fail(f"{where} 含未知键：{', '.join(extra)}", f"{where} has unknown keys: {', '.join(extra)}")


def load_preset(name_or_path: str, profile) -> Preset:
    """Load and validate a preset by name (``tiny``…) or by path to a ``.toml`` file."""
    path = Path(name_or_path)
    if not (name_or_path.endswith(".toml") and path.is_file()):
        path = PRESETS_DIR / f"{name_or_path}.toml"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name_or_path) or not path.is_file():
            known = ", ".join(available_presets())
            _fail(f"未知预设「{name_or_path}」；可用：{known}", f"unknown preset {name_or_path!r}; known: {known}")
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        _fail(f"预设文件 {path} 格式错误：{exc}", f"preset file {path} is malformed: {exc}")
    return validate_preset(path.stem, raw, profile)


def validate_preset(name: str, raw: dict, profile) -> Preset:
    """Check a parsed preset against the catalogue and ``profile``'s region table."""
    cat = load_catalogue()
    regions = profile.regions
    _only(raw, {"zh", "en", "city", "districts", "reference_date", "sources", "nodes", "origins"}, "preset")
    city = raw.get("city")
    r = regions.get(city) if isinstance(city, str) else None
    if r is None or r.level != "prefecture":
        _fail(
            f"city 应为地级行政区划代码，实为 {city!r}", f"city must be a prefecture-level GB/T 2260 code, not {city!r}"
        )
    counties = [c.code for c in regions.counties_of(city)]
    districts = raw.get("districts", counties)
    if not isinstance(districts, list) or not districts:
        _fail("districts 应为非空列表", "districts must be a non-empty list")
    for d in districts:
        if d not in counties:
            _fail(f"区县 {d!r} 不属于 {city}（{r.name}）", f"district {d!r} is not under {city} ({r.name})")
    if len(set(districts)) != len(districts):
        _fail("districts 有重复", "districts has duplicates")
    try:
        ref = dt.date.fromisoformat(str(raw.get("reference_date", "")))
    except ValueError:
        _fail("reference_date 应为 YYYY-MM-DD 日期", "reference_date must be a YYYY-MM-DD date")
    nodes_raw = raw.get("nodes", {})
    if not isinstance(nodes_raw, dict):
        _fail("nodes 应为表", "nodes must be a table")
    nodes: dict[str, NodeSpec] = {}
    for t, spec in nodes_raw.items():
        where = f"nodes.{t}"
        if t not in cat["node_types"]:
            _fail(
                f"未知节点类型 {t!r}；可用：{', '.join(cat['node_types'])}",
                f"unknown node type {t!r}; known: {', '.join(cat['node_types'])}",
            )
        if not isinstance(spec, dict):
            _fail(f"{where} 应为表", f"{where} must be a table")
        _only(spec, {"count", "registered", "stalls", "hours", "named"}, where)
        ty = cat["node_types"][t]
        count = _int(spec.get("count", 0), f"{where}.count", 0, _MAX_NODE_SEQ * len(districts))
        reg = spec.get("registered", [0, 0])
        if not (isinstance(reg, list) and len(reg) == 2):
            _fail(f"{where}.registered 应为 [最少, 最多]", f"{where}.registered must be [min, max]")
        lo = _int(reg[0], f"{where}.registered[0]", 0, _MAX_OPERATOR_SEQ)
        hi = _int(reg[1], f"{where}.registered[1]", lo, _MAX_OPERATOR_SEQ)
        if hi and "registered_business_type" not in ty:
            _fail(f"{where}：此类节点没有登记经营者", f"{where}: this node type has no registered operators")
        stalls = _int(spec.get("stalls", 0), f"{where}.stalls", 0)
        if stalls:
            if "stall_operator" not in ty:
                _fail(f"{where}：此类节点没有摊位", f"{where}: this node type has no stalls")
            if stalls < count:
                _fail(
                    f"{where}.stalls（{stalls}）少于节点数（{count}），每个节点至少1个摊位",
                    f"{where}.stalls ({stalls}) is less than count ({count}); each node has at least one stall",
                )
            if count and -(-stalls // count) > _MAX_OPERATOR_SEQ // 2:
                _fail(f"{where}.stalls 过多", f"{where}.stalls is too large")
        elif count and "stall_operator" in ty:
            _fail(f"{where}：需要 stalls（摊位总数）", f"{where}: needs stalls (total stalls)")
        hours = spec.get("hours")
        if hours is not None:
            if not (
                isinstance(hours, list)
                and len(hours) == 2
                and all(isinstance(h, str) and _HHMM.match(h) for h in hours)
            ):
                _fail(f'{where}.hours 应为 ["HH:MM", "HH:MM"]', f'{where}.hours must be ["HH:MM", "HH:MM"]')
            hours = tuple(hours)
        named = spec.get("named", [])
        if not isinstance(named, list) or len(named) > count:
            _fail(f"{where}.named 应为列表，且不多于 count", f"{where}.named must be a list no longer than count")
        for n in named:
            if not (isinstance(n, dict) and isinstance(n.get("name"), str) and n["name"]):
                _fail(f"{where}.named 的每项需要 name", f"every {where}.named entry needs a name")
            if "district" in n and n["district"] not in districts:
                _fail(
                    f"{where}.named 的区县 {n['district']!r} 不在 districts 中",
                    f"{where}.named district {n['district']!r} is not among the districts",
                )
        nodes[t] = NodeSpec(t, count, (lo, hi), stalls, hours, tuple(named))
    if sum(s.count for s in nodes.values()) > _MAX_NODE_SEQ * len(districts):
        _fail(
            "节点总数超过区县流水号容量（每区县999个）", "more nodes than the districts' 999 registration numbers each"
        )
    origins = []
    for i, o in enumerate(raw.get("origins", [])):
        where = f"origins[{i}]"
        if not isinstance(o, dict):
            _fail(f"{where} 应为表", f"{where} must be a table")
        _only(o, {"type", "regions", "count"}, where)
        if o.get("type") not in cat["origin_types"]:
            _fail(f"{where}.type 未知：{o.get('type')!r}", f"{where}.type is unknown: {o.get('type')!r}")
        regs = o.get("regions")
        if not (isinstance(regs, list) and regs):
            _fail(f"{where}.regions 应为非空列表", f"{where}.regions must be a non-empty list")
        for code in regs:
            rr = regions.get(code) if isinstance(code, str) else None
            if rr is None or rr.level != "county":
                _fail(
                    f"{where}.regions：{code!r} 不是县级行政区划代码",
                    f"{where}.regions: {code!r} is not a county-level code",
                )
        origins.append(OriginSpec(o["type"], tuple(regs), _int(o.get("count", 0), f"{where}.count", 0, 9999)))
    return Preset(
        name=name,
        zh=str(raw.get("zh", name)),
        en=str(raw.get("en", name)),
        city=city,
        districts=tuple(districts),
        reference_date=ref,
        nodes=nodes,
        origins=tuple(origins),
        sources=str(raw.get("sources", "")),
    )
