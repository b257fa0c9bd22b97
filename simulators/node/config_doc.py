"""The node configuration's keys as a Markdown table, rendered from :data:`~.config_spec.SECTIONS`.

``docs/node-config.md`` holds :func:`markdown` verbatim (``tests/simulators/node/test_config_doc.py``
compares), so the documented keys, types, defaults and bounds cannot drift from what the node accepts.
"""

from __future__ import annotations

from typing import Any

from .config_spec import SECTIONS
from .tomlspec import OMIT, REQUIRED, Derived, Field, Section

_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _value(v: Any) -> str:
    if isinstance(v, Derived):
        return v.zh if v.zh == v.en else f"{v.zh} · {v.en}"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, str):
        return f'`"{v}"`'
    return f"`{v:.10g}`" if isinstance(v, float) else f"`{v}`"


def _default(f: Field) -> str:
    if f.read is not None:
        return "见说明 · see description"
    if f.default is REQUIRED:
        return "必填 · required"
    if f.default is OMIT or f.default is None:
        return "—"
    return _value(f.default)


def _bounds(f: Field) -> str:
    if f.lo is None and f.hi is None:
        return ""
    return f"{_value(f.lo)} .. {_value(f.hi)}"


def _row(sec: Section, f: Field) -> str:
    cells = [f"`{sec.title} {f.key}`", _TYPES[f.kind], _default(f), _bounds(f), f.zh, f.en]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown() -> list[str]:
    """The table: one row per key, sections in the order the node reads them."""
    lines = [
        "| 键 · key | 类型 · type | 缺省 · default | 范围 · range | 说明 | description |",
        "|---|---|---|---|---|---|",
    ]
    for sec in SECTIONS:
        lines.append(
            f"| **`{sec.title}`** | {'表数组 · array of tables' if sec.array else '表 · table'} | | | "
            f"{sec.zh} | {sec.en} |"
        )
        lines.extend(_row(sec, f) for f in sec.fields)
    return lines
