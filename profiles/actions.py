"""Operator actions: the named physical steps of the perception tests (``actions.toml`` of a profile).

An action is what a technician does at the bench (put 1236 g on the pan, cut the power, present a card).
The profile names each one, the device kinds it concerns, its parameters and its text in zh and en;
capability statements map names to commands or prompts (:mod:`conformance.actions`), and the simulated
devices perform them on their control channel (:mod:`simulators.devices.control`).

Contract:

* :func:`load_actions` returns an :class:`ActionCatalogue` (cached per profile);
* :meth:`ActionCatalogue.check` raises :class:`ActionError` (zh, en) for an unknown name or wrong
  parameters, and returns the parameters as strings, in declaration order;
* :meth:`ActionCatalogue.text` renders the zh or en text with the parameters filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import RoucaiError

if TYPE_CHECKING:  # typing only
    from .profile import Profile


class ActionError(RoucaiError, ValueError):
    """An unknown action or wrong parameters (a usage/configuration error)."""


@dataclass(frozen=True)
class Action:
    name: str
    kinds: tuple[str, ...]
    params: tuple[str, ...]
    zh: str
    en: str
    output: bool = False  #: the action prints data the test reads (JSON on stdout)
    timeout_s: float = 30.0  #: its default time limit


class ActionCatalogue:
    def __init__(self, actions: dict[str, Action]):
        self.actions = actions

    def __contains__(self, name: str) -> bool:
        return name in self.actions

    def __getitem__(self, name: str) -> Action:
        return self.actions[name]

    @property
    def names(self) -> list[str]:
        return list(self.actions)

    def check(self, name: str, params: dict[str, Any]) -> dict[str, str]:
        """``params`` of action ``name`` as strings (exactly the declared ones), or :class:`ActionError`."""
        a = self.actions.get(name)
        if a is None:
            raise ActionError(
                f"未知的操作「{name}」，可选：{', '.join(self.actions)}",
                f"unknown action {name!r}; one of {', '.join(self.actions)}",
            )
        missing = [p for p in a.params if p not in params]
        extra = [p for p in params if p not in a.params]
        if missing or extra:
            want = ", ".join(a.params) or "无/none"
            raise ActionError(
                f"操作「{name}」的参数应为：{want}（缺少 {missing}，多余 {extra}）",
                f"action {name!r} takes: {want} (missing {missing}, unexpected {extra})",
            )
        return {p: str(params[p]) for p in a.params}

    def text(self, name: str, params: dict[str, Any], lang: str = "zh") -> str:
        a = self.actions[name]
        return (a.en if lang == "en" else a.zh).format(**{p: params.get(p, "?") for p in a.params})


def _parse(doc: dict[str, Any]) -> ActionCatalogue:
    out = {}
    for name, spec in doc.get("actions", {}).items():
        out[name] = Action(
            name,
            tuple(spec.get("kinds", ())),
            tuple(spec.get("params", ())),
            spec["zh"],
            spec["en"],
            bool(spec.get("output", False)),
            float(spec.get("timeout_s", 30.0)),
        )
    return ActionCatalogue(out)


@lru_cache(maxsize=8)
def _cached(profile_name: str) -> ActionCatalogue:
    from . import load_profile

    return _parse(load_profile(profile_name).data("actions"))


def load_actions(profile: Profile | None = None) -> ActionCatalogue:
    """The action catalogue of ``profile`` (default: the reference profile)."""
    if profile is None:
        return _cached("reference")
    return _parse(profile.data("actions"))
