"""The differences between two profiles (``roucai profile diff A B``, the dialect section of ``roucai docs profile``).

:func:`diff_profiles` compares every data file the two profiles have (TOML
files value by value after the overlay merge, CSV files by content) and
returns one :class:`Change` per differing value, each with the evidence and
source the nearer profile's data gives for it (the nearest enclosing table
that states ``evidence`` / ``source``).  Deterministic: sorted by file and path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .profile import Profile, ProfileError

#: keys that label a value rather than being one (not compared on their own).  An overlay table may say why it
#: changes its base with ``dialect_evidence`` / ``dialect_source`` (without relabelling the table itself).
LABELS = ("evidence", "source", "dialect_evidence", "dialect_source")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One value that differs: ``file`` (data key), ``path`` (dotted), the two values (``None``: absent)."""

    file: str
    path: str
    a: Any
    b: Any
    evidence: str | None = None
    source: str | None = None

    @property
    def kind(self) -> str:
        return "added" if self.a is None else "removed" if self.b is None else "changed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "path": self.path,
            "kind": self.kind,
            "a": self.a,
            "b": self.b,
            "evidence": self.evidence,
            "source": self.source,
        }


def _files(p: Profile) -> set[str]:
    out: set[str] = set()
    q: Profile | None = p
    while q is not None:
        out |= set(q.manifest.get("files", {}))
        q = q.base
    return out


def _is_csv(p: Profile, key: str) -> bool:
    path = p.path_or_none(key)
    return path is not None and path.suffix == ".csv"


def _walk(a: Any, b: Any, path: list[str], out: list[tuple[list[str], Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k in LABELS:
                continue
            _walk(a.get(k, _MISSING), b.get(k, _MISSING), path + [str(k)], out)
    elif a != b:
        out.append((path, None if a is _MISSING else a, None if b is _MISSING else b))


def _label(
    data: dict[str, Any], path: list[str], keys: tuple[str, str] = ("evidence", "source")
) -> tuple[str | None, str | None]:
    """``keys`` (evidence, source) of the nearest table on ``path`` (deepest first, the value itself if it is
    a table) that states one."""
    tables: list[dict[str, Any]] = []
    node: Any = data
    for k in path:
        node = node.get(k) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        tables.append(node)
    for t in reversed(tables):
        if keys[0] in t or keys[1] in t:
            return t.get(keys[0]), t.get(keys[1])
    return None, None


def _own(p: Profile, key: str) -> dict[str, Any]:
    """The profile's own data file for ``key`` as written (no merge), ``{}`` if it has none."""
    import tomllib

    fname = p.manifest.get("files", {}).get(key)
    try:
        return tomllib.loads((p.root / fname).read_text("utf-8")) if fname else {}
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _data(p: Profile, key: str) -> dict[str, Any]:
    try:
        return p.data(key)
    except ProfileError:
        return {}


def diff_profiles(a: Profile, b: Profile) -> list[Change]:
    """Every value that differs between ``a`` and ``b``, labelled from ``b`` (else ``a``)."""
    out: list[Change] = []
    for key in sorted(_files(a) | _files(b)):
        if _is_csv(a, key) or _is_csv(b, key):
            ha, hb = (_digest(p, key) for p in (a, b))
            if ha != hb:
                out.append(Change(key, "(file)", ha, hb))
            continue
        da, db = _data(a, key), _data(b, key)
        found: list[tuple[list[str], Any, Any]] = []
        _walk(da, db, [], found)
        own_b = _own(b, key)
        for path, va, vb in found:
            ev, src = _label(own_b, path, ("dialect_evidence", "dialect_source"))
            for data in (own_b, db, da):
                if ev is None and src is None:
                    ev, src = _label(data, path)
            out.append(Change(key, ".".join(path), va, vb, ev, src))
    return out


def _digest(p: Profile, key: str) -> str | None:
    path = p.path_or_none(key)
    if path is None:
        return None
    return f"{path.name} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


def short(value: Any, width: int = 80) -> str:
    """A value as one line of at most ``width`` characters (``—`` for absent)."""
    if value is None:
        return "—"
    s = (
        value
        if isinstance(value, str)
        else repr(value)
        if not isinstance(value, (list, dict))
        else __import__("json").dumps(value, ensure_ascii=False)
    )
    s = " ".join(str(s).split())
    return s if len(s) <= width else s[: width - 1] + "…"
