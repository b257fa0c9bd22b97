"""A TOML document described as data (:class:`Section` of :class:`Field`) and the one reader of it.

Contract of :func:`read_sections`: the sections are read in the order given, each field of a section in
its order: looked up (or read by the field's own ``read``), given its default when absent (a missing
:data:`REQUIRED` field is an error), type-checked (an ``int`` is accepted for a ``float`` and widened;
a ``bool`` is never a number), held within ``lo``..``hi`` (a ``late`` field after the section's other
fields are read), then passed through ``check``, which may refuse it or convert it.  A section's ``rules``
run after its fields.  The first problem raises :class:`ConfigError` (zh + en, exit 2) naming the key as
``[section] key`` or ``[[section]] #N key``.  Unknown keys inside a section are ignored (the documents
written by the harness and the test kits carry none, and the node never did refuse them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiles.errors import RoucaiError

#: the default of a field that must be given
REQUIRED: Any = object()
#: the default of a field that is left out of its row when absent
OMIT: Any = object()

_KIND_NAMES = {
    str: ("字符串", "a string"),
    float: ("数值", "a number"),
    int: ("整数", "an integer"),
    bool: ("true 或 false", "true or false"),
    list: ("数组", "an array"),
    dict: ("表", "a table"),
}


class ConfigError(RoucaiError):
    """The configuration cannot be used (exit 2)."""


@dataclass
class Context:
    """What a default, bound, check or rule may read: the profile, the folder relative paths are resolved
    against, the rows of the sections read so far (``doc[section]``: a dict, or a list for an array) and,
    within an array, the rows before the current one (``items``)."""

    profile: Any
    base: Path
    doc: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Derived:
    """A default or bound computed from the context and the current row, with its description for the docs."""

    fn: Callable[[Context, dict[str, Any]], Any]
    zh: str
    en: str

    def __call__(self, ctx: Context, row: dict[str, Any]) -> Any:
        return self.fn(ctx, row)


#: the values of one table read so far, by field name
Row = dict[str, Any]
#: check(value, where, row, ctx) -> the value to keep (converted or as is); raises ConfigError
Check = Callable[[Any, str, dict[str, Any], Context], Any]
#: rule(where, row, ctx): a condition over several fields of one row; raises ConfigError
Rule = Callable[[str, dict[str, Any], Context], None]


@dataclass(frozen=True)
class Field:
    """One key of a section.  ``attr``: the row key it is stored under (default: ``key``).
    ``read(section, ctx)``: reads the value itself (e.g. from several keys or the environment)."""

    key: str
    kind: type
    zh: str
    en: str
    default: Any = REQUIRED
    lo: Any = None
    hi: Any = None
    why: tuple[str, str] = ("", "")
    check: Check | None = None
    late: bool = False
    attr: str = ""
    read: Callable[[dict[str, Any], Context], Any] | None = None

    @property
    def name(self) -> str:
        return self.attr or self.key


@dataclass(frozen=True)
class Section:
    """A table ``[name]`` (``array=False``) or an array of tables ``[[name]]``."""

    name: str
    fields: Sequence[Field]
    zh: str
    en: str
    array: bool = False
    rules: Sequence[Rule] = ()

    @property
    def title(self) -> str:
        return f"[[{self.name}]]" if self.array else f"[{self.name}]"


def typed(value: Any, label: str, kind: type) -> Any:
    """``value`` as ``kind`` (an int widened to float); :class:`ConfigError` naming ``label`` otherwise."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        zh, en = _KIND_NAMES[kind]
        raise ConfigError(f"{label} 应为 {zh}", f"{label} must be {en}")
    return value


def within(value: float, lo: float, hi: float, label: str, why: tuple[str, str] = ("", "")) -> None:
    """:class:`ConfigError` unless ``lo <= value <= hi``."""
    if not lo <= value <= hi:
        raise ConfigError(
            f"{label} 应在 {lo:g}–{hi:g} 之间（{value:g}）{why[0]}",
            f"{label} must be within {lo:g}..{hi:g} (got {value:g}){why[1]}",
        )


def _resolve(spec: Any, ctx: Context, row: dict[str, Any]) -> Any:
    return spec(ctx, row) if isinstance(spec, Derived) else spec


def _bound(f: Field, where: str, row: dict[str, Any], ctx: Context) -> None:
    value = row.get(f.name)
    if value is None or (f.lo is None and f.hi is None):
        return
    within(value, _resolve(f.lo, ctx, row), _resolve(f.hi, ctx, row), f"{where} {f.key}", f.why)


def read_row(sec: Section, table: dict[str, Any], where: str, ctx: Context) -> dict[str, Any]:
    """One table of ``sec`` (labelled ``where``) read into a row ``{field.name: value}``."""
    row: dict[str, Any] = {}
    for f in sec.fields:
        label = f"{where} {f.key}"
        if f.read is not None:
            value = f.read(table, ctx)
        elif f.key in table:
            value = typed(table[f.key], label, f.kind)
        elif f.default is REQUIRED:
            raise ConfigError(f"缺少 {label}", f"{label} is missing")
        elif f.default is OMIT:
            continue
        else:
            value = _resolve(f.default, ctx, row)
        row[f.name] = value
        if not f.late:
            _bound(f, where, row, ctx)
        if f.check is not None:
            row[f.name] = f.check(row[f.name], where, row, ctx)
    for f in sec.fields:
        if f.late:
            _bound(f, where, row, ctx)
    for rule in sec.rules:
        rule(where, row, ctx)
    return row


def read_section(sec: Section, data: dict[str, Any], ctx: Context) -> Any:
    """``sec`` of the document ``data``: a row, or a list of rows for an array; stored in ``ctx.doc``."""
    if not sec.array:
        ctx.doc[sec.name] = read_row(sec, typed(data.get(sec.name, {}), sec.title, dict), sec.title, ctx)
        return ctx.doc[sec.name]
    rows: list[dict[str, Any]] = []
    ctx.doc[sec.name] = rows
    for i, item in enumerate(typed(data.get(sec.name, []), sec.title, list), 1):
        where = f"{sec.title} #{i}"
        ctx.items = rows
        rows.append(read_row(sec, typed(item, where, dict), where, ctx))
    ctx.items = []
    return rows


def read_sections(sections: Sequence[Section], data: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Every section of ``data`` in order (see the module docstring); returns ``ctx.doc``."""
    for sec in sections:
        read_section(sec, data, ctx)
    return ctx.doc
