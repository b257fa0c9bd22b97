"""A city's own record form: how a dialect *writes* a record (``records.toml`` ``[emit]``).

The harness makes records in the profile's canonical form (field names,
yyyyMMdd dates).  A dialect that declares ``[emit]`` has its records written
the way that city sends them, so ``roucai simulate --profile guangzhou``
produces Guangzhou's forms:

``aliases = true``
    a field the type lists under an alias (``aliases = [["qua_id",
    "quarantine_animal_products_id"]]``) is written under the alias;
``date_form`` / ``datetime_form``
    dates and date-times written in that form (``yyyy-MM-dd``,
    ``yyyy-MM-dd HH:mm:ss``, ``yyyyMMdd``, ``yyyyMMddHHmmss``);
``values = { FIELD = { CODE = VALUE } }``
    a field's value written in the dialect's own words (Changchun: ``property``
    ``1`` is written ``企业``); values not listed are written as given.

Fields of the catalogue the dialect's type does not carry are left out; order
is the type's; keys that are no field of the catalogue at all are kept, last.
Without ``[emit]`` (the reference profile) records are written as given.
Contract: :meth:`CityForm.write` never invents a value and never drops one
the type carries; a value not in canonical form is written as it is; writing
a written record changes nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing only: records.py is the catalogue's home, loaded by the profile
    from .records import RecordCatalog

_FORMS = {
    "yyyyMMdd": "{y}{mo}{d}",
    "yyyy-MM-dd": "{y}-{mo}-{d}",
    "yyyyMMddHHmmss": "{y}{mo}{d}{h}{mi}{s}",
    "yyyy-MM-dd HH:mm:ss": "{y}-{mo}-{d} {h}:{mi}:{s}",
}
_CANON_DATE = re.compile(r"(?P<y>[0-9]{4})(?P<mo>[0-9]{2})(?P<d>[0-9]{2})\Z")
_CANON_DT = re.compile(
    r"(?P<y>[0-9]{4})(?P<mo>[0-9]{2})(?P<d>[0-9]{2})(?P<h>[0-9]{2})(?P<mi>[0-9]{2})(?P<s>[0-9]{2})\Z"
)


class CityForm:
    """The writer of one profile's records (identity when the profile declares no ``[emit]``)."""

    def __init__(self, catalog: RecordCatalog, emit: dict[str, Any] | None):
        from .profile import ProfileError

        self.catalog = catalog
        self.emit = emit or {}
        for key in ("date_form", "datetime_form"):
            form = self.emit.get(key)
            if form is not None and form not in _FORMS:
                raise ProfileError(f"records.toml [emit] {key} = {form!r}: one of {', '.join(_FORMS)}")
        if self.emit.get("date_form", "yyyyMMdd") not in ("yyyyMMdd", "yyyy-MM-dd"):
            raise ProfileError("records.toml [emit] date_form: a date form (yyyyMMdd or yyyy-MM-dd)")

    @property
    def active(self) -> bool:
        return bool(self.emit)

    def narrow(self, type_name: str, record: dict[str, str]) -> dict[str, str]:
        """``record`` restricted to the fields this profile's type carries (canonical names and values): what
        a receiver stores of it.  Keys that are no field of the catalogue are kept.  Unchanged without ``[emit]``."""
        if not self.emit:
            return record
        rt = self.catalog.types[type_name]
        return {k: v for k, v in record.items() if k in rt.by_name or k not in self.catalog.fields}

    def write(self, type_name: str, record: dict[str, str]) -> dict[str, str]:
        """``record`` (canonical field names) in this profile's form; unchanged without ``[emit]``."""
        if not self.emit:
            return record
        rt = self.catalog.types[type_name]
        alias_of: dict[str, str] = {}
        if self.emit.get("aliases"):
            for alias, field in getattr(rt, "aliases", {}).items():
                alias_of.setdefault(field, alias)
        words = self.emit.get("values", {})
        out: dict[str, str] = {}
        for f in rt.fields:
            v = record.get(f.name)
            if v is None:  # already written under its alias: writing is idempotent
                v = record.get(alias_of.get(f.name, f.name))
            if v is None:
                continue
            if f.type == "date" and "date_form" in self.emit:
                v = _reform(v, _CANON_DATE, self.emit["date_form"])
            elif f.type == "datetime" and "datetime_form" in self.emit:
                v = _reform(v, _CANON_DT, self.emit["datetime_form"])
            elif f.name in words:
                v = words[f.name].get(v, v)
            out[alias_of.get(f.name, f.name)] = v
        for k, v in record.items():  # not a field of the catalogue at all: kept as given (negative tests)
            if k not in self.catalog.fields and k not in out and k not in getattr(rt, "aliases", {}):
                out[k] = v
        return out


def _reform(v: str, canon: re.Pattern[str], form: str) -> str:
    m = canon.match(v) if isinstance(v, str) else None
    if m is None:
        return v
    parts = m.groupdict()
    return _FORMS[form].format(**{k: parts.get(k, "00") for k in ("y", "mo", "d", "h", "mi", "s")})
