"""Problem discovery rules (问题发现) as profile data: ``problems.toml``.

Contract: :func:`ProblemRules.from_data` validates the file (every kind has zh/en names and rule text, an
evidence kind of :data:`profiles.requirements.EVIDENCE`, a source, a status ``detected`` or ``planned``; a
planned kind says why in zh and en; thresholds are numbers >= 0) and raises :class:`ProblemRulesError`
otherwise.  :meth:`ProblemRules.kind` gives one kind's table; :attr:`ProblemRules.detected` the ids the
reference platform flags.  The rules are the profile's own (see the file's header for what is known).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import RoucaiError
from .requirements import EVIDENCE

STATUSES = ("detected", "planned")
_TEXT = ("name_zh", "name_en", "rule_zh", "rule_en", "source")
_NON_THRESHOLD = frozenset(
    _TEXT + ("evidence", "status", "planned_zh", "planned_en", "record_types", "pairs", "node_roles", "price_field")
)


def _threshold(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


class ProblemRulesError(RoucaiError, ValueError):
    """``problems.toml`` is malformed (a profile error: exit 2 in the CLI)."""


@dataclass(frozen=True, slots=True)
class ProblemKind:
    id: str
    name_zh: str
    name_en: str
    rule_zh: str
    rule_en: str
    evidence: str
    source: str
    status: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "rule_zh": self.rule_zh,
            "rule_en": self.rule_en,
            "evidence": self.evidence,
            "source": self.source,
            "status": self.status,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class ProblemRules:
    kinds: Mapping[str, ProblemKind]
    states: tuple[str, ...]
    state_names: Mapping[str, tuple[str, str]]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "ProblemRules":
        st = data.get("states") or {}
        order = tuple(st.get("order") or ())
        if order != ("open", "acknowledged", "closed"):
            raise ProblemRulesError("[states] order must be open, acknowledged, closed")
        names = {}
        for s in order:
            t = st.get(s) or {}
            if not (isinstance(t, dict) and t.get("zh") and t.get("en")):
                raise ProblemRulesError(f"[states] {s} needs zh and en")
            names[s] = (t["zh"], t["en"])
        kinds = {}
        for kid, t in (data.get("kind") or {}).items():
            if not isinstance(t, dict):
                raise ProblemRulesError(f"[kind.{kid}] is not a table")
            for key in _TEXT:
                if not (isinstance(t.get(key), str) and t[key].strip()):
                    raise ProblemRulesError(f"[kind.{kid}] needs a non-empty {key}")
            if t.get("evidence") not in EVIDENCE:
                raise ProblemRulesError(f"[kind.{kid}] evidence must be one of {', '.join(EVIDENCE)}")
            if t.get("status") not in STATUSES:
                raise ProblemRulesError(f"[kind.{kid}] status must be detected or planned")
            if t["status"] == "planned" and not (t.get("planned_zh") and t.get("planned_en")):
                raise ProblemRulesError(f"[kind.{kid}] a planned kind says why (planned_zh, planned_en)")
            params = {k: v for k, v in t.items() if k not in _TEXT + ("evidence", "status")}
            for k, v in params.items():
                if k not in _NON_THRESHOLD and not all(
                    _threshold(x) for x in (v.values() if isinstance(v, dict) and v else [v])
                ):
                    raise ProblemRulesError(f"[kind.{kid}] threshold {k} must be a number >= 0 (or a table of them)")
            kinds[kid] = ProblemKind(
                kid,
                t["name_zh"],
                t["name_en"],
                t["rule_zh"],
                t["rule_en"],
                t["evidence"],
                t["source"],
                t["status"],
                params,
            )
        if not kinds:
            raise ProblemRulesError("no [kind.*] table")
        return cls(kinds, order, names)

    def kind(self, kid: str) -> ProblemKind:
        return self.kinds[kid]

    @property
    def detected(self) -> list[str]:
        """Ids of the kinds the reference platform flags, in file order."""
        return [k for k, v in self.kinds.items() if v.status == "detected"]

    def state_name(self, state: str, lang: str = "zh") -> str:
        zh, en = self.state_names[state]
        return en if lang == "en" else zh
