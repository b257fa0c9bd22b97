"""Capability statements: what the vendor or contractor says the target can do.

A capability statement is a TOML file::

    [target]
    kind = "scale"            # scale | card_reader | handheld | node | city_platform | central_platform
    vendor = "示例衡器"; model = "TS-15"; firmware = "1.2.0"

    [capabilities]            # free-form names; booleans, numbers or strings
    printer = true
    qr_code = true
    card_reader = false
    max_capacity_kg = 15
    storage_records = 18000

    [expected_failures]       # declared known failures: requirement id = reason
    "PERC-SCALE-18" = "clock drifts 3 s/day, fixed in 1.3"

    [actions]                 # operator actions (profiles/reference/actions.toml): command or "prompt"
    put-load = ["my-rig", "load", "{grams}"]
    power-off = "prompt"
    control = "socket://127.0.0.1:7302"   # a simulated device's control channel: every other action

The legacy keys ``power_off_command`` / ``power_on_command`` of ``[capabilities]`` still work: they declare
the actions ``power-off`` / ``power-on`` when ``[actions]`` does not (:mod:`conformance.actions`).

Selection is deterministic: a test applies iff the target's kind is one of
the kinds the test names and every capability it needs is declared truthy.
Every decision carries its reason (zh and en), which goes into the report.

Errors: :class:`CapabilityError` for an unreadable or malformed statement
(a configuration error: exit 2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from profiles.errors import RoucaiError

KINDS = ("scale", "card_reader", "handheld", "node", "city_platform", "central_platform")


class CapabilityError(RoucaiError):
    """The capability statement cannot be used (exit 2)."""


@dataclass
class CapabilityStatement:
    kinds: tuple[str, ...]  #: the kinds of actor under test
    info: dict = field(default_factory=dict)  #: vendor, model, firmware…
    capabilities: dict = field(default_factory=dict)
    expected_failures: dict = field(default_factory=dict)
    source: str = "built-in"  #: file path, or "built-in"
    text: str = ""  #: the statement as given (goes into the bundle)
    actions: dict = field(default_factory=dict)  #: action name -> conformance.actions.ActionSpec
    control: str | None = None  #: a control channel performing every other action

    @classmethod
    def load(cls, path: str | Path) -> "CapabilityStatement":
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CapabilityError(f"无法读取能力声明 {p}：{exc}", f"cannot read capability statement {p}: {exc}")
        return cls.parse(text, source=str(p))

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> "CapabilityStatement":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CapabilityError(
                f"能力声明 {source} 不是合法的 TOML：{exc}", f"capability statement {source} is not valid TOML: {exc}"
            )
        target = doc.get("target")
        if not isinstance(target, dict) or "kind" not in target:
            raise CapabilityError(
                f"能力声明 {source} 缺少 [target] kind", f"capability statement {source} lacks [target] kind"
            )
        kinds = target["kind"] if isinstance(target["kind"], list) else [target["kind"]]
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise CapabilityError(
                f"未知的被测对象类型 {bad}，可选：{', '.join(KINDS)}",
                f"unknown target kind {bad}; one of {', '.join(KINDS)}",
            )
        caps = doc.get("capabilities", {})
        xf = doc.get("expected_failures", {})
        if not isinstance(caps, dict) or not isinstance(xf, dict):
            raise CapabilityError(
                "[capabilities] 与 [expected_failures] 必须是表",
                "[capabilities] and [expected_failures] must be tables",
            )
        unknown = set(doc) - {"target", "capabilities", "expected_failures", "actions"}
        if unknown:
            raise CapabilityError(
                f"能力声明含未知的表 {sorted(unknown)}", f"unknown tables in capability statement: {sorted(unknown)}"
            )
        info = {k: v for k, v in target.items() if k != "kind"}
        actions, control = _actions(doc.get("actions", {}), caps, source)
        return cls(
            tuple(kinds), info, dict(caps), {str(k): str(v) for k, v in xf.items()}, source, text, actions, control
        )

    def applies(self, kinds: tuple[str, ...] | None, needs: tuple[str, ...]) -> tuple[bool, str, str]:
        """Whether a test for ``kinds`` needing ``needs`` applies, and why (zh, en)."""
        if kinds and not set(kinds) & set(self.kinds):
            return (
                False,
                f"被测对象类型为 {'/'.join(self.kinds)}，本测试仅适用于 {'/'.join(kinds)}",
                f"target kind is {'/'.join(self.kinds)}; this test applies to {'/'.join(kinds)} only",
            )
        for cap in needs:
            val = self.capabilities.get(cap)
            if val is None:
                return (False, f"能力声明未声明能力「{cap}」", f"capability {cap!r} is not declared")
            if not val:
                return (False, f"能力声明中「{cap}」= {val!r}", f"capability {cap!r} is declared {val!r}")
        why_k = "/".join(kinds) if kinds else "any"
        need = ", ".join(needs) or "-"
        return (
            True,
            f"适用：被测对象类型 {'/'.join(self.kinds)} ∈ {why_k}；所需能力 {need} 均已声明",
            f"applies: target kind {'/'.join(self.kinds)} in {why_k}; needed capabilities {need} all declared",
        )

    def to_dict(self) -> dict:
        return {
            "kinds": list(self.kinds),
            "info": self.info,
            "capabilities": self.capabilities,
            "expected_failures": self.expected_failures,
            "source": self.source,
            "actions": {k: v.how for k, v in sorted(self.actions.items())},
            "control": self.control,
        }


#: legacy [capabilities] keys that declare an action (kept working; docs/perception-suite.md)
LEGACY_ACTIONS = {"power_off_command": "power-off", "power_on_command": "power-on"}


def _actions(table, caps: dict, source: str):
    from .actions import parse_actions_table

    if not isinstance(table, dict):
        raise CapabilityError("[actions] 必须是表", "[actions] must be a table")
    table = dict(table)
    for key, name in LEGACY_ACTIONS.items():
        if caps.get(key) and name not in table:
            table[name] = caps[key]
    try:
        specs, control = parse_actions_table(table, source)
    except ValueError as exc:
        raise CapabilityError(*exc.args) from None
    if caps.get("test_load_g") and ("put-load" in specs or control):
        raise CapabilityError(
            f"{source}：test_load_g 表示砝码一直在秤盘上，与 put-load 操作（测试工具自行加载）不能同时声明",
            f"{source}: test_load_g (a weight that stays on the pan) and the action put-load (the "
            "harness places loads) exclude each other: declare one",
        )
    return specs, control
