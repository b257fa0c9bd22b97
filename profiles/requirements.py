"""The requirement catalogue: every requirement the harness knows, as data.

The catalogue is ``requirements.toml`` of a profile: one table per
requirement under ``[requirement.ID]`` (so a variant profile can override a
single field of a single requirement by deep merge).  Each requirement says
what is required (zh and en), of whom (actors), how strongly (level), and how
strong the evidence is that the standards really require it:

* ``standard``: the body text of the standard or of an official document (a MOFCOM notice, a ministry regulation) was seen;
* ``standard-toc``: only the standard's contents page names the topic, the
  content is this profile's;
* ``practice``: deployed systems (code, firmware, design documents, press);
* ``industry``: a published general guide (OWASP and the like), not specific to
  traceability systems; the bounds it is applied with are the profile's;
* ``profile``: this project's own definition.

:meth:`RequirementCatalog.from_data` validates the whole catalogue and raises
:class:`profiles.ProfileError` naming the offending id for anything malformed:
a missing or empty field, an id not of the form ``AREA-TOPIC-NN`` or whose
area prefix disagrees with ``area``, an unknown enum value, a conditional
requirement without a ``condition`` (or a condition on a non-conditional one),
``testable_by = "not-tested"`` without a zh+en reason, a ``justification``
that is not ``{zh, en}``.  A ``required`` requirement resting on evidence
``profile`` should carry a ``justification`` (issue 12: practice outranks
invention, so an invented rule may fail a target only for a stated reason;
the docs render it; tests/profiles/test_requirements.py checks the reference
catalogue).  Ids are unique by
construction (they are TOML keys).  No I/O: the data is handed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Collection, Iterator, Mapping

from .profile import ProfileError

#: area -> (id prefix, zh label, en label), in catalogue order.
AREAS: dict[str, tuple[str, str, str]] = {
    "coding": ("CODE", "编码", "Coding"),
    "perception": ("PERC", "信息感知", "Perception"),
    "transmission": ("TRAN", "信息传输", "Transmission"),
    "node": ("NODE", "流通节点", "Nodes"),
    "platform": ("PLAT", "管理平台", "Platforms"),
}
#: actor -> (zh, en)
ACTORS: dict[str, tuple[str, str]] = {
    "scale": ("追溯秤", "scale"),
    "card": ("服务卡", "service card"),
    "card_reader": ("读写器", "card reader"),
    "handheld": ("手持终端", "handheld"),
    "node": ("节点子系统", "node subsystem"),
    "city_platform": ("城市平台", "city platform"),
    "central_platform": ("中央平台", "central platform"),
}
#: level -> (zh, en)
LEVELS: dict[str, tuple[str, str]] = {
    "required": ("必须", "required"),
    "conditional": ("条件", "conditional"),
    "recommended": ("推荐", "recommended"),
}
#: evidence -> (zh, en, zh description, en description), strongest first.
EVIDENCE: dict[str, tuple[str, str, str, str]] = {
    "standard": (
        "标准原文",
        "standard",
        "见到标准或官方文件（商务部文件、部门规章）正文",
        "the body text of the standard or of an official document (a MOFCOM notice, a ministry regulation) was seen",
    ),
    "standard-toc": (
        "标准目录",
        "standard-toc",
        "仅见标准目录中的章节标题，内容为本配置所定",
        "only the standard's contents page names the topic; the content is the profile's",
    ),
    "practice": (
        "实践",
        "practice",
        "已部署系统（代码、固件、设计文档、报道）",
        "deployed systems (code, firmware, design documents, press)",
    ),
    "industry": (
        "行业规范",
        "industry",
        "公开的通用行业规范（如 OWASP），并非肉菜追溯系统专有；具体界限由本配置定",
        "a published industry guide (e.g. OWASP), not specific to traceability systems; the bounds are the profile's",
    ),
    "profile": ("本配置", "profile", "本项目自己的定义", "this project's own definition"),
}
#: suites that can check a requirement, plus "not-tested".
TESTABLE_BY = ("coding", "perception", "transmission", "platform", "not-tested")
#: kinds of condition: ``capability NAME``, ``field NAME[|NAME…]``, ``node_type NAME``.
CONDITION_KINDS = ("capability", "field", "node_type")

ID_RE = re.compile(r"^(CODE|PERC|TRAN|PLAT|NODE)-[A-Z]{2,6}-\d{2}$")
_CONDITION_RE = re.compile(r"^(capability|field|node_type) [a-z0-9_]+(\|[a-z0-9_]+)*$")
_TEXT_FIELDS = ("title_zh", "title_en", "statement_zh", "statement_en", "source")
_KNOWN_KEYS = frozenset(
    _TEXT_FIELDS
    + (
        "id",
        "area",
        "level",
        "condition",
        "actors",
        "evidence",
        "profile_values",
        "testable_by",
        "not_tested_reason",
        "justification",
    )
)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement.  Field meanings: see the module docstring and requirements.toml's header."""

    id: str
    area: str
    level: str
    actors: tuple[str, ...]
    evidence: str
    source: str
    title_zh: str
    title_en: str
    statement_zh: str
    statement_en: str
    condition: str | None = None
    profile_values: Mapping[str, Any] = field(default_factory=dict)
    testable_by: str | None = None
    not_tested_reason: Mapping[str, str] | None = None
    #: why a required rule of evidence ``profile`` may fail a target ({"zh", "en"}); ``None`` otherwise
    justification: Mapping[str, str] | None = None

    def __hash__(self) -> int:  # profile_values is a dict: hash by id (ids are unique in a catalogue)
        return hash(self.id)

    def title(self, lang: str = "zh") -> str:
        return self.title_en if lang == "en" else self.title_zh

    def statement(self, lang: str = "zh") -> str:
        return self.statement_en if lang == "en" else self.statement_zh

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form: every key always present (``None`` when absent)."""
        return {
            "id": self.id,
            "area": self.area,
            "level": self.level,
            "condition": self.condition,
            "actors": list(self.actors),
            "evidence": self.evidence,
            "source": self.source,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "statement_zh": self.statement_zh,
            "statement_en": self.statement_en,
            "profile_values": dict(self.profile_values),
            "testable_by": self.testable_by,
            "not_tested_reason": dict(self.not_tested_reason) if self.not_tested_reason else None,
            "justification": dict(self.justification) if self.justification else None,
        }


def _bad(rid: str, what: str) -> ProfileError:
    return ProfileError(f"requirement {rid}: {what}")


def _one_of(rid: str, key: str, value: Any, allowed: Collection[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _bad(rid, f"{key} = {value!r} is not one of {', '.join(allowed)}")
    return value


def _parse(rid: str, raw: Any) -> Requirement:
    if not isinstance(raw, dict):
        raise _bad(rid, "must be a table")
    if not ID_RE.match(rid):
        raise _bad(rid, "id must look like AREA-TOPIC-NN with AREA in CODE, PERC, TRAN, PLAT, NODE")
    if raw.get("id", rid) != rid:
        raise _bad(rid, f"id field {raw['id']!r} differs from its key")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise _bad(rid, f"unknown keys {unknown}")
    for key in _TEXT_FIELDS:
        val = raw.get(key)
        if not isinstance(val, str) or not val.strip():
            raise _bad(rid, f"{key} is missing or empty")
    area = _one_of(rid, "area", raw.get("area"), AREAS)
    if rid.split("-", 1)[0] != AREAS[area][0]:
        raise _bad(rid, f"id prefix does not match area {area!r} (expected {AREAS[area][0]}-)")
    level = _one_of(rid, "level", raw.get("level"), LEVELS)
    evidence = _one_of(rid, "evidence", raw.get("evidence"), EVIDENCE)
    actors = raw.get("actors")
    if not isinstance(actors, list) or not actors:
        raise _bad(rid, "actors must be a non-empty list")
    for a in actors:
        _one_of(rid, "actor", a, ACTORS)
    if len(set(actors)) != len(actors):
        raise _bad(rid, "actors repeats an actor")
    condition = raw.get("condition")
    if level == "conditional":
        if not isinstance(condition, str) or not _CONDITION_RE.match(condition):
            raise _bad(rid, 'a conditional requirement needs condition = "capability|field|node_type NAME"')
    elif condition is not None:
        raise _bad(rid, 'condition is only allowed when level = "conditional"')
    values = raw.get("profile_values", {})
    if not isinstance(values, dict):
        raise _bad(rid, "profile_values must be a table")
    testable_by = raw.get("testable_by")
    if testable_by is not None:
        _one_of(rid, "testable_by", testable_by, TESTABLE_BY)
    reason = raw.get("not_tested_reason")
    if testable_by == "not-tested":
        if (
            not isinstance(reason, dict)
            or set(reason) != {"zh", "en"}
            or not all(isinstance(v, str) and v.strip() for v in reason.values())
        ):
            raise _bad(rid, 'testable_by = "not-tested" needs not_tested_reason = { zh = …, en = … }')
    elif reason is not None:
        raise _bad(rid, 'not_tested_reason is only allowed with testable_by = "not-tested"')
    why = raw.get("justification")
    if why is not None and (
        not isinstance(why, dict)
        or set(why) != {"zh", "en"}
        or not all(isinstance(v, str) and v.strip() for v in why.values())
    ):
        raise _bad(rid, "justification must be { zh = …, en = … }")
    return Requirement(
        id=rid,
        area=area,
        level=level,
        actors=tuple(actors),
        evidence=evidence,
        source=raw["source"],
        title_zh=raw["title_zh"],
        title_en=raw["title_en"],
        statement_zh=raw["statement_zh"],
        statement_en=raw["statement_en"],
        condition=condition,
        profile_values=dict(values),
        testable_by=testable_by,
        not_tested_reason=dict(reason) if reason else None,
        justification=dict(why) if why else None,
    )


class RequirementCatalog:
    """All requirements of a profile, in catalogue (file) order."""

    def __init__(self, items: list[Requirement], version: str = "0", title_zh: str = "", title_en: str = ""):
        self._by_id: dict[str, Requirement] = {}
        for r in items:
            if r.id in self._by_id:
                raise _bad(r.id, "duplicate id")
            self._by_id[r.id] = r
        self.version = version
        self.title_zh, self.title_en = title_zh, title_en

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "RequirementCatalog":
        """Build from the dict of ``requirements.toml``; :class:`ProfileError` if malformed."""
        if not isinstance(data, Mapping):
            raise ProfileError("requirement catalogue: data must be a table")
        reqs = data.get("requirement")
        if not isinstance(reqs, Mapping) or not reqs:
            raise ProfileError("requirement catalogue: no [requirement.ID] tables")
        meta = data.get("catalogue", {})
        return cls(
            [_parse(str(rid), raw) for rid, raw in reqs.items()],
            version=str(meta.get("version", "0")),
            title_zh=meta.get("title_zh", ""),
            title_en=meta.get("title_en", ""),
        )

    def get(self, rid: str) -> Requirement | None:
        """The requirement with this id (exact, case-sensitive), or ``None``."""
        return self._by_id.get(rid)

    def __getitem__(self, rid: str) -> Requirement:
        return self._by_id[rid]

    def __contains__(self, rid: object) -> bool:
        return rid in self._by_id

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def by_area(self, area: str) -> list[Requirement]:
        """Requirements of one area (``coding`` …), in catalogue order; unknown area → empty list."""
        return [r for r in self if r.area == area]

    def select(
        self,
        *,
        area: str | None = None,
        actor: str | None = None,
        level: str | None = None,
        evidence: str | None = None,
    ) -> list[Requirement]:
        """Requirements matching every given filter (``None`` = any)."""
        return [
            r
            for r in self
            if (area is None or r.area == area)
            and (actor is None or actor in r.actors)
            and (level is None or r.level == level)
            and (evidence is None or r.evidence == evidence)
        ]
