"""Record catalogue: the records nodes upload, their validation, and their XML and JSON encodings.

Data: ``records.toml`` of the profile (field dictionary, quantities, record
types with their Index codes and evidence).  A record is a ``dict`` mapping
element name -> wire text (``str``); decimals, dates and codes are strings on
the wire so every value round-trips exactly.  Use :meth:`RecordType.normalize`
to build a record from Python values (``Decimal``, ``int``, ``date``,
``datetime``) and :meth:`RecordType.typed` to read one back.

Wire forms (the profile's definition; element names are the practice names)::

    XML, one record:   <TYPE><field>text</field>...</TYPE>
    XML, a list:       <records><TYPE>...</TYPE>...</records>
    JSON, one record:  {"TYPE": {"field": "text", ...}}
    JSON, a list:      {"records": [{"TYPE": {...}}, ...]}   (a bare list is accepted too)

Element names on the wire are the field names; the one place that maps
between them is :meth:`RecordType.wire_name` / :attr:`RecordType.by_wire`
(identity in the reference profile; a variant may rename elements with a
``wire`` key in its field dictionary).

Validation (:meth:`RecordCatalog.validate`) never raises for bad input; it
returns findings with rule ids TRAN-REC-01..08, CODE-* and CODE-BATCH-*.
Decoding never raises either: hostile or malformed bytes give TRAN-ENC
findings (see :mod:`profiles.xmlsafe`).

Practice outranks the profile (issue 12).  A record is judged against the
union of its type's evidenced forms (``forms`` in ``records.toml``: the
profile's own field list plus each deployed system's); elements may come
under an alias (``aliases``: e.g. Guangzhou's ``qua_id``); dates in any of the
evidenced ``date_forms``; enums as codes or as the words practice sends
(``synonyms``: 企业 = 1, 合格 = 1); decimals with trailing zeros beyond the
quantity's decimals (13.8000).  What the profile invented and practice does
not show is at most a ``warning`` (a *recommended* finding: TRAN-REC-08,
CODE-COMM-03, CODE-BATCH-02), never an error.  :meth:`RecordCatalog.canonical`
gives the one stored form (aliases resolved, dates yyyyMMdd /
yyyyMMddHHmmss, enum words as codes, decimals at the quantity's decimals).

Every list in the data (forms, aliases, synonyms, date forms, batch link
kinds) is a TOML array, so a dialect overlay that sets it *replaces* it:
that is how a city narrows the union.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field as dc_field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Iterable
from xml.etree.ElementTree import Element

from .findings import Finding
from .jsonsafe import read_json
from .xmlsafe import DEFAULT_LIMITS, Limits, XmlSource, looks_like_xml

if TYPE_CHECKING:  # typing only: the profile imports this module and builds these parts
    from .codes import CodeBook
    from .commodities import CommodityTable
    from .profile import Profile
    from .regions import RegionTable

#: the accepted forms of a date field: (form name, its regex), the canonical form first
DateForms = tuple[tuple[str, re.Pattern[str]], ...]
#: an evidenced form of a record type: (name, evidence, source, fields, required fields)
Form = tuple[str, str, str, tuple[str, ...], frozenset[str]]

R_KNOWN, R_REQUIRED, R_FORMAT, R_UNITS, R_MEAT, R_CODES, R_DATES, R_PREFERRED = (
    "TRAN-REC-01",
    "TRAN-REC-02",
    "TRAN-REC-03",
    "TRAN-REC-04",
    "TRAN-REC-05",
    "TRAN-REC-06",
    "TRAN-REC-07",
    "TRAN-REC-08",
)
R_BATCH_LOCAL = "CODE-BATCH-02"
WARN = "warning"

FIELD_TYPES = (
    "node_code",
    "operator_code",
    "trace_code",
    "commodity_code",
    "region_code",
    "string",
    "date",
    "datetime",
    "decimal",
    "integer",
    "enum",
    "batch",
)
#: canonical (stored) form of each date type
CANONICAL_DATE = {"date": "yyyyMMdd", "datetime": "yyyyMMddHHmmss"}
_TOKENS = (
    ("yyyy", r"(?P<y>[0-9]{4})"),
    ("MM", r"(?P<mo>[0-9]{2})"),
    ("dd", r"(?P<d>[0-9]{2})"),
    ("HH", r"(?P<h>[0-9]{2})"),
    ("mm", r"(?P<mi>[0-9]{2})"),
    ("ss", r"(?P<s>[0-9]{2})"),
    ("SSS", r"(?P<ms>[0-9]{1,3})"),
)


def date_form_regex(form: str) -> re.Pattern[str]:
    """A date form such as ``yyyy-MM-dd HH:mm:ss`` as an anchored regular expression with named parts."""
    out, i = [], 0
    while i < len(form):
        for tok, rx in _TOKENS:
            if form.startswith(tok, i):
                out.append(rx)
                i += len(tok)
                break
        else:
            out.append(re.escape(form[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def parse_date_form(forms: DateForms, v: str) -> tuple[str, dict[str, str]] | None:
    """``(form, parts)`` of the first form ``v`` matches (parts: y, mo, d, h, mi, s as text), else ``None``."""
    for form, rx in forms:
        m = rx.match(v)
        if m is not None:
            return form, {k: x for k, x in m.groupdict().items() if x is not None}
    return None


_CODE_KIND = {"node_code": "node", "operator_code": "operator", "trace_code": "trace", "commodity_code": "commodity"}
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?\Z")
_INTEGER = re.compile(r"(0|[1-9][0-9]*)\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: characters XML 1.0 cannot carry at all
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class RecordEncodeError(ValueError):
    """Raised by the encoders for a value XML cannot carry (a programming error, not bad input)."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """A measured quantity: its unit and the decimals on the wire (TRAN-REC-04)."""

    name: str
    zh: str
    en: str
    unit: str
    unit_en: str
    decimals: int
    int_digits: int
    positive: bool


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One element: its labels, type and constraints (see ``records.toml`` for the types)."""

    name: str
    zh: str
    en: str
    type: str
    max: int | None = None
    pattern: re.Pattern[str] | None = None
    values: dict[str, Any] | None = None
    quantity: Quantity | None = None
    kind: str | None = None  #: commodity kind required ("meat"), if any
    wire: str = ""  #: element name on the wire (defaults to ``name``)
    date_forms: DateForms = ()  #: (form, regex) accepted for date/datetime fields, canonical first
    synonyms: dict[str, str] | None = None  #: enum: word practice sends -> code (合格 -> 1)
    open: bool = False  #: enum: other text (<= max) is a warning, not an error
    placeholders: tuple[str, ...] = ()  #: code fields: values practice sends for "not identified" (a warning)

    def label(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh

    @property
    def decimal(self) -> Quantity:
        """The quantity of a ``decimal`` field (records.toml gives each one); ValueError for another type."""
        if self.quantity is None:
            raise ValueError(f"{self.name} is a {self.type} field, not a decimal one")
        return self.quantity

    def describe(self) -> str:
        """A short English description of the type, e.g. ``decimal kg 3dp``."""
        if self.quantity is not None:
            return f"decimal {self.quantity.unit_en} {self.quantity.decimals}dp"
        if self.type == "enum":
            return "enum " + "|".join(self.values or {})
        if self.type == "string":
            return f"string<= {self.max}" if self.max else "string"
        if self.type in ("date", "datetime"):
            return f"{self.type} " + " | ".join(f for f, _ in self.date_forms)
        if self.type == "batch":
            return f"batch id<= {self.max}"
        if self.type == "integer":
            return f"integer<= {self.max} digits" if self.max else "integer"
        return self.type + (f" ({self.kind})" if self.kind else "")


@dataclass(slots=True)
class RecordType:
    """One record type of the catalogue."""

    name: str
    zh: str
    en: str
    index: str
    node_type: str
    evidence: str
    source: str
    fields: tuple[FieldSpec, ...]
    required: frozenset[str]
    date_field: str | None = None
    node_field: str | None = None
    meat_rule: str | None = None
    meat_certs: tuple[str, ...] = ()
    not_greater: tuple[tuple[str, ...], ...] = ()
    profile_fields: tuple[str, ...] = ()
    #: evidenced forms: (name, evidence, source, fields, required); the profile's own list is the first
    forms: tuple[Form, ...] = ()
    #: alias element name -> field name (the same thing under another name, as practice sends it)
    aliases: dict[str, str] = dc_field(default_factory=dict)
    extra: tuple[FieldSpec, ...] = ()  #: fields of the other forms that the profile's own list lacks
    by_name: dict[str, FieldSpec] = dc_field(default_factory=dict)
    by_wire: dict[str, FieldSpec] = dc_field(default_factory=dict)
    #: per form, from ``forms``: its required fields as (name, wire name) and the wire names of its fields
    #: (computed once: :meth:`best_form` runs twice for every record validated)
    form_wires: tuple[tuple[tuple[tuple[str, str], ...], frozenset[str]], ...] = dc_field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        every = self.fields + self.extra
        self.by_name = {f.name: f for f in every}
        self.by_wire = {f.wire or f.name: f for f in every}
        if not self.forms:
            self.forms = (("profile", self.evidence, self.source, tuple(f.name for f in self.fields), self.required),)
        self.form_wires = tuple(
            (tuple((n, self.wire_name(n)) for n in form[4]), frozenset(self.wire_name(n) for n in form[3]))
            for form in self.forms
        )

    def label(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh

    def wire_name(self, field: str) -> str:
        f = self.by_name[field]
        return f.wire or f.name

    # -- Python values <-> wire text --------------------------------------
    def normalize(self, values: dict[str, Any]) -> dict[str, str]:
        """Wire record from Python values, in catalogue order; ``None`` values are left out.

        Decimals are rounded half-up to the quantity's decimals and written
        with exactly that many; dates as yyyyMMdd, datetimes as
        yyyyMMddHHmmss.  Raises ``KeyError`` for a field the type does not
        have and ``ValueError`` for a value of the wrong Python type.
        """
        for k in values:
            if k not in self.by_name:
                raise KeyError(f"{self.name} has no field {k!r}")
        out: dict[str, str] = {}
        for f in self.fields:
            v = values.get(f.name)
            if v is None:
                continue
            out[f.name] = _to_wire(f, v)
        return out

    def typed(self, record: dict[str, str]) -> dict[str, Any]:
        """Python values of a *valid* record: Decimal, int, date, datetime or str."""
        out: dict[str, Any] = {}
        for k, v in record.items():
            f = self.by_name.get(k)
            if f is None or v in (None, ""):
                continue
            if f.type == "decimal":
                out[k] = Decimal(v)
            elif f.type == "integer":
                out[k] = int(v)
            elif f.type in ("date", "datetime"):
                got = parse_date_form(f.date_forms, v)
                if got is None:
                    raise ValueError(f"{k}: {v!r} is in no accepted date form (typed() needs a valid record)")
                p = got[1]
                if f.type == "date":
                    out[k] = _dt.date(int(p["y"]), int(p["mo"]), int(p["d"]))
                else:
                    out[k] = _dt.datetime(
                        int(p["y"]), int(p["mo"]), int(p["d"]), int(p["h"]), int(p["mi"]), int(p["s"])
                    )
            else:
                out[k] = v
        return out

    def business_date(self, record: dict[str, str]) -> str | None:
        """The record's business date (yyyyMMdd) or ``None`` if the type has none or it is missing.

        Any accepted date form counts (2015-06-03 gives 20150603); an unreadable value gives its
        first 8 characters (the caller's comparison then fails visibly).
        """
        if self.date_field is None:
            return None
        v = record.get(self.date_field)
        if not isinstance(v, str) or not v:
            return None
        f = self.by_name.get(self.date_field)
        got = parse_date_form(f.date_forms, v) if f is not None else None
        return got[1]["y"] + got[1]["mo"] + got[1]["d"] if got else v[:8]

    def best_form(self, record: dict[str, Any]) -> tuple[Form, list[str]]:
        """The evidenced form the record is nearest to (fewest required fields missing plus elements outside
        the form; ties go to the earlier form, the profile's own first) and the required fields it misses."""
        best: tuple[Form, list[str]] | None = None
        best_cost = 0
        for form, (required, names) in zip(self.forms, self.form_wires):
            missing = [n for n, wire in required if record.get(wire) in (None, "")]
            # elements outside the form count against it: a record is in a form by what it carries, too
            cost = len(missing) + sum(1 for k in record if k not in names)
            if best is None or cost < best_cost:
                best, best_cost = (form, missing), cost
        assert best is not None, "every type has a form (its own profile form when records.toml names none)"
        return best


def _to_wire(f: FieldSpec, v: Any) -> str:
    if f.type == "decimal":
        if isinstance(v, bool) or not isinstance(v, (Decimal, int, float, str)):
            raise ValueError(f"{f.name}: a decimal needs Decimal/int/float/str, not {type(v).__name__}")
        d = Decimal(str(v)) if not isinstance(v, Decimal) else v
        q = Decimal(1).scaleb(-f.decimal.decimals)
        return str(d.quantize(q, rounding=ROUND_HALF_UP))
    if f.type == "date":
        if isinstance(v, _dt.datetime):
            v = v.date()
        if isinstance(v, _dt.date):
            return v.strftime("%Y%m%d")
    if f.type == "datetime" and isinstance(v, _dt.datetime):
        return v.strftime("%Y%m%d%H%M%S")
    if f.type == "integer" and isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, str):
        return v
    raise ValueError(f"{f.name}: cannot write {type(v).__name__} as {f.type}")


@dataclass(slots=True)
class DecodedRecord:
    """One record read from a file or message: its type, fields, and structural findings."""

    type: str
    record: dict[str, str]
    position: int  #: 1-based position in the input
    findings: list[Finding] = dc_field(default_factory=list)  #: TRAN-REC-01 (duplicates, nested elements)


@dataclass(slots=True)
class Decoded:
    """The result of decoding a document: ``shape`` is ``record``, ``list`` or ``None`` (unreadable)."""

    shape: str | None
    items: list[DecodedRecord]
    findings: list[Finding]  #: document-level findings (TRAN-ENC-*, TRAN-REC-01)
    format: str  #: ``xml`` or ``json``


def _escape(s: str) -> str:
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if "\r" in s:
        s = s.replace("\r", "&#13;")
    return s


class RecordCatalog:
    """The profile's record types (``.types``: name -> :class:`RecordType`) and their codecs.

    :param profile: a :class:`~profiles.profile.Profile` (for ``records``
        data, ``codes``, ``regions`` and ``commodities``).
    """

    def __init__(self, profile: Profile):
        from .profile import ProfileError

        self.profile = profile
        data = profile.data("records")
        self.meta = data.get("meta", {})
        self.list_root: str = self.meta.get("list_root", "records")
        self._years = (int(self.meta.get("date_min_year", 1990)), int(self.meta.get("date_max_year", 2099)))
        #: code kinds a batch_id may be read as an upstream link (CODE-TRACE-05); a dialect may narrow it
        self.batch_link_kinds: tuple[str, ...] = tuple(self.meta.get("batch_link_kinds", ["trace", "batch"]))
        #: voucher_type values saying batch_id holds a certificate number, not a code (dppc mtrace)
        self.certificate_vouchers = frozenset(self.meta.get("certificate_vouchers", []))
        default_forms = {t: tuple(self.meta.get(f"{t}_forms", [CANONICAL_DATE[t]])) for t in CANONICAL_DATE}
        self.quantities = {
            k: Quantity(
                k,
                q["zh"],
                q["en"],
                q["unit"],
                q.get("unit_en", q["unit"]),
                int(q["decimals"]),
                int(q["int_digits"]),
                bool(q.get("positive", True)),
            )
            for k, q in data.get("quantities", {}).items()
        }
        fdefs = data.get("fields", {})
        specs: dict[str, FieldSpec] = {}
        for name, d in fdefs.items():
            if d.get("type") not in FIELD_TYPES:
                raise ProfileError(f"records.toml: field {name!r} has unknown type {d.get('type')!r}")
            q = None
            if d["type"] == "decimal":
                q = self.quantities.get(d.get("quantity"))
                if q is None:
                    raise ProfileError(f"records.toml: decimal field {name!r} needs a known quantity")
            date_forms: DateForms = ()
            if d["type"] in CANONICAL_DATE:
                names = tuple(d.get("forms", default_forms[d["type"]]))
                if not names or names[0] != CANONICAL_DATE[d["type"]]:
                    raise ProfileError(
                        f"records.toml: field {name!r}: the first date form must be "
                        f"{CANONICAL_DATE[d['type']]} (the stored form)"
                    )
                date_forms = tuple((n, date_form_regex(n)) for n in names)
            syn = {str(a): str(b) for a, b in d.get("synonyms", [])}
            if d["type"] == "enum" and not set(syn.values()) <= set(d.get("values", {})):
                raise ProfileError(f"records.toml: field {name!r}: a synonym names an unknown code")
            specs[name] = FieldSpec(
                name,
                d["zh"],
                d["en"],
                d["type"],
                d.get("max"),
                re.compile(d["pattern"]) if d.get("pattern") else None,
                d.get("values"),
                q,
                d.get("kind"),
                d.get("wire", ""),
                date_forms,
                syn or None,
                bool(d.get("open", False)),
                tuple(d.get("placeholders", [])),
            )
        self.fields = specs
        self.types: dict[str, RecordType] = {}
        for tname, t in data.get("types", {}).items():
            try:
                flds = tuple(specs[f] for f in t["fields"])
            except KeyError as exc:
                raise ProfileError(f"records.toml: type {tname!r} uses undefined field {exc}") from exc
            optional = set(t.get("optional", []))
            if not optional <= set(t["fields"]):
                raise ProfileError(f"records.toml: type {tname!r} lists optional fields it does not have")
            certs = tuple(c for c in ("quarantine_animal_products_id", "inspection_meat_id") if c in t["fields"])
            required = frozenset(set(t["fields"]) - optional)
            forms, extra = self._forms(tname, t, required, specs)
            every = set(t["fields"]) | {f.name for f in extra}
            # an alias that is itself a field of the type (a dialect naming the element as its own field) is
            # not an alias there
            aliases = {str(a): str(b) for a, b in t.get("aliases", []) if str(a) not in every}
            if not set(aliases.values()) <= every:
                raise ProfileError(f"records.toml: type {tname!r}: an alias names a field the type lacks")
            self.types[tname] = RecordType(
                tname,
                t["zh"],
                t["en"],
                t["index"],
                t.get("node_type", "any"),
                t["evidence"],
                t.get("source", ""),
                flds,
                required,
                t.get("date_field"),
                t.get("node_field"),
                t.get("meat_rule"),
                certs,
                tuple(tuple(p) for p in t.get("not_greater", [])),
                tuple(t.get("profile_fields", [])),
                forms,
                aliases,
                extra,
            )
        self.by_index = {t.index: t for t in self.types.values()}
        if len(self.by_index) != len(self.types):
            raise ProfileError("records.toml: two record types share an Index code")
        self._codes: CodeBook = profile.codes
        self._regions: RegionTable = profile.regions
        self._commodities: CommodityTable = profile.commodities

    @staticmethod
    def _forms(
        tname: str, t: dict[str, Any], required: frozenset[str], specs: dict[str, FieldSpec]
    ) -> tuple[tuple[Form, ...], tuple[FieldSpec, ...]]:
        """The type's evidenced forms and the fields they add to the profile's own list.

        A form (``[[types.X.forms]]``) gives either ``fields`` (its whole list) or ``add`` (fields added to
        the profile's list); ``optional`` lists its optional fields (with ``add``: the added fields are
        optional unless ``required`` names them).
        """
        from .profile import ProfileError

        forms: list[Form] = [("profile", t["evidence"], t.get("source", ""), tuple(t["fields"]), required)]
        extra: dict[str, FieldSpec] = {}
        for fm in t.get("forms", []):
            if "fields" in fm:
                names = tuple(fm["fields"])
                req = frozenset(names) - set(fm.get("optional", []))
            else:
                names = tuple(t["fields"]) + tuple(fm.get("add", []))
                req = (required - set(fm.get("optional", []))) | set(fm.get("required", []))
            for n in names:
                if n not in specs:
                    raise ProfileError(f"records.toml: form {fm.get('name')!r} of {tname!r} uses undefined field {n!r}")
                if n not in t["fields"]:
                    extra.setdefault(n, specs[n])
            forms.append((fm["name"], fm.get("evidence", "practice"), fm.get("source", ""), names, req))
        return tuple(forms), tuple(extra.values())

    def __contains__(self, name: str) -> bool:
        return name in self.types

    def __getitem__(self, name: str) -> RecordType:
        return self.types[name]

    # -- validation --------------------------------------------------------
    def validate(self, type_name: str, record: dict[str, Any]) -> list[Finding]:
        """Every finding about ``record`` read as ``type_name`` (empty list: valid)."""
        rt = self.types.get(type_name)
        if rt is None:
            return [
                Finding(
                    R_KNOWN,
                    type_name,
                    f"未知的记录类型「{type_name}」",
                    f"unknown record type {type_name!r}",
                    value=str(type_name)[:60],
                )
            ]
        if not isinstance(record, dict):
            return [
                Finding(R_KNOWN, type_name, "记录应为字段集合（对象）", "a record must be a set of fields (an object)")
            ]
        out: list[Finding] = []
        record = self._unalias(rt, record, out)
        by_wire = rt.by_wire
        for k in record:
            if k not in by_wire:
                out.append(
                    Finding(
                        R_KNOWN, str(k), f"{rt.zh}没有元素「{k}」", f"{rt.name} has no element {k!r}", value=str(k)[:60]
                    )
                )
        form, missing = rt.best_form(record)
        for name in sorted(missing, key=[f.name for f in rt.fields + rt.extra].index):
            f = rt.by_name[name]
            where = "" if len(rt.forms) == 1 else f"（按{form[0]}形式）"
            where_en = "" if len(rt.forms) == 1 else f" (as the {form[0]} form)"
            out.append(
                Finding(
                    R_REQUIRED,
                    name,
                    f"缺少必填字段 {name}（{f.zh}）{where}",
                    f"required field {name} ({f.en}) is missing{where_en}",
                )
            )
        bad = set()
        for f in rt.fields + rt.extra:
            v = record.get(f.wire or f.name)
            if v is None or v == "":
                continue
            ff = self._field_findings(f, v)
            if ff:
                out += ff
                if any(x.severity == "error" for x in ff):
                    bad.add(f.name)
        out += self._cross_findings(rt, record, bad)
        return out

    @staticmethod
    def _unalias(rt: RecordType, record: dict[str, Any], out: list[Finding]) -> dict[str, Any]:
        """The record with alias element names replaced by the field names (an alias and its field both
        present is a TRAN-REC-01 finding; the field's own element wins)."""
        if not rt.aliases or not any(k in rt.aliases for k in record):
            return record
        res = {}
        for k, v in record.items():
            name = rt.aliases.get(k)
            if name is None:
                res[k] = v
                continue
            if rt.wire_name(name) in record:
                out.append(
                    Finding(
                        R_KNOWN,
                        str(k),
                        f"「{k}」与「{name}」是同一字段，不能同时出现",
                        f"{k!r} and {name!r} are the same field; send one of them",
                        value=str(k),
                    )
                )
                continue
            res[rt.wire_name(name)] = v
        return res

    def is_valid(self, type_name: str, record: dict[str, Any]) -> bool:
        """True iff the record has no finding of severity error (warnings are recommendations)."""
        return not any(f.severity == "error" for f in self.validate(type_name, record))

    def canonical(self, type_name: str, record: dict[str, str]) -> dict[str, str]:
        """The stored form of a record that has no error finding: aliases resolved to field names, dates
        yyyyMMdd / yyyyMMddHHmmss, enum words as their codes, decimals with trailing zeros beyond the
        quantity's decimals cut (13.8000 -> 13.80).  Values that have no canonical form (free text in an
        open enum, excess non-zero decimals) are kept as sent.  Field order: as the record's."""
        rt = self.types[type_name]
        rec = self._unalias(rt, record, [])
        out: dict[str, str] = {}
        for k, v in rec.items():
            f = rt.by_wire.get(k)
            name = f.name if f is not None else k
            out[name] = v if f is None or not isinstance(v, str) else _canonical_value(f, v)
        return out

    def _field_findings(self, f: FieldSpec, v: Any) -> list[Finding]:
        n = f.name
        if not isinstance(v, str):
            return [
                Finding(
                    R_FORMAT,
                    n,
                    f"{n}（{f.zh}）应为文本，实为 {type(v).__name__}",
                    f"{n} ({f.en}) must be text, not {type(v).__name__}",
                )
            ]
        if _CONTROL.search(v):
            return [
                Finding(
                    R_FORMAT, n, f"{n}（{f.zh}）含控制字符", f"{n} ({f.en}) contains control characters", value=v[:60]
                )
            ]
        t = f.type
        if t in _CODE_KIND and v in f.placeholders:
            return [
                Finding(
                    R_PREFERRED,
                    n,
                    f"{n}（{f.zh}）「{v}」是占位值（实践中表示未识别），按原样接收",
                    f"{n} ({f.en}) {v!r} is a placeholder (practice: not identified); accepted as sent",
                    severity=WARN,
                    value=v,
                )
            ]
        if t in _CODE_KIND:
            kind = _CODE_KIND[t]
            found = self._codes.findings(v, kind) if not self._codes.is_valid(v, kind) or kind != "commodity" else []
            # errors become TRAN-REC-06 naming the code rule; warnings (recommended code rules) keep their rule
            out = [
                Finding(
                    R_CODES if c.severity == "error" else c.rule,
                    f"{n}{c.field}" if c.field.startswith("[") else n,
                    f"{n}（{f.zh}）：{c.zh}（{c.rule}）",
                    f"{n} ({f.en}): {c.en} ({c.rule})",
                    c.severity,
                    value=v[:60],
                )
                for c in found
            ]
            if not any(x.severity == "error" for x in out) and f.kind:
                c = self._commodities.get(v)
                if c is not None and c.kind != f.kind:
                    out.append(
                        Finding(
                            R_CODES,
                            n,
                            f"{n}（{f.zh}）应为肉类商品编码，「{v}」是{c.name_zh}",
                            f"{n} ({f.en}) must be a {f.kind} commodity code; {v} is {c.name_en}",
                            value=v,
                        )
                    )
            return out
        if t == "string":
            out = []
            if f.max is not None and len(v) > f.max:
                out.append(
                    Finding(
                        R_FORMAT,
                        n,
                        f"{n}（{f.zh}）最长 {f.max} 个字符，实为 {len(v)}",
                        f"{n} ({f.en}) is at most {f.max} characters, this has {len(v)}",
                        value=v[:60],
                    )
                )
            elif f.pattern is not None and not f.pattern.match(v):
                # the patterns are the profile's own (no deployed system checks them): a recommendation
                out.append(
                    Finding(
                        R_PREFERRED,
                        n,
                        f"{n}（{f.zh}）不是本配置建议的格式（{f.pattern.pattern}）",
                        f"{n} ({f.en}) is not in the profile's preferred form {f.pattern.pattern}",
                        severity=WARN,
                        value=v[:60],
                    )
                )
            return out
        if t == "batch":
            if f.max is not None and len(v) > f.max:
                return [
                    Finding(
                        R_FORMAT,
                        n,
                        f"{n}（{f.zh}）最长 {f.max} 个字符，实为 {len(v)}",
                        f"{n} ({f.en}) is at most {f.max} characters, this has {len(v)}",
                        value=v[:60],
                    )
                ]
            return []
        if t == "decimal":
            return self._decimal_findings(f, v)
        if t == "integer":
            if not _INTEGER.match(v) or (f.max and len(v) > f.max):
                return [
                    Finding(
                        R_FORMAT,
                        n,
                        f"{n}（{f.zh}）应为不超过 {f.max or '∞'} 位的非负整数",
                        f"{n} ({f.en}) must be a non-negative integer of at most {f.max or 'any'} digits",
                        value=v[:60],
                    )
                ]
            return []
        if t == "enum":
            values = f.values or {}
            if v not in values and v not in (f.synonyms or {}):
                allowed = "、".join(f"{k}={lab}" for k, lab in values.items())
                words = "、".join(f.synonyms or {})
                if f.open and (f.max is None or len(v) <= f.max):
                    return [
                        Finding(
                            R_PREFERRED,
                            n,
                            f"{n}（{f.zh}）「{v}」不是已知取值（{allowed}；或 {words}），按原文接收",
                            f"{n} ({f.en}) {v!r} is none of the known values ({', '.join(values)}; or "
                            f"{', '.join(f.synonyms or {})}); accepted as free text",
                            severity=WARN,
                            value=v[:60],
                        )
                    ]
                return [
                    Finding(
                        R_FORMAT,
                        n,
                        f"{n}（{f.zh}）取值应为 {allowed}" + (f"（或 {words}）" if words else ""),
                        f"{n} ({f.en}) must be one of {', '.join(values)}"
                        + (f" (or {', '.join(f.synonyms)})" if f.synonyms else ""),
                        value=v[:60],
                    )
                ]
            return []
        if t in ("date", "datetime"):
            return self._date_findings(f, v)
        if t == "region_code":
            if not (len(v) == 6 and v.isascii() and v.isdigit()):
                return [
                    Finding(
                        R_FORMAT,
                        n,
                        f"{n}（{f.zh}）应为6位GB/T 2260行政区划代码",
                        f"{n} ({f.en}) must be a 6-digit GB/T 2260 code",
                        value=v[:60],
                    )
                ]
            if v not in self._regions:
                return [
                    Finding(
                        R_CODES,
                        n,
                        f"{n}（{f.zh}）「{v}」不是GB/T 2260行政区划代码",
                        f"{n} ({f.en}) {v!r} is not a GB/T 2260 administrative division code",
                        value=v,
                    )
                ]
            return []
        return []

    def _decimal_findings(self, f: FieldSpec, v: str) -> list[Finding]:
        q, n = f.decimal, f.name
        unit = f"{q.unit}，{q.decimals}位小数"
        m = _DECIMAL.match(v)
        if m is None:
            if v.startswith("-") and _DECIMAL.match(v[1:]):
                return [
                    Finding(
                        R_UNITS,
                        n,
                        f"{n}（{f.zh}，{unit}）必须为正数",
                        f"{n} ({f.en}, {q.unit_en}) must be positive",
                        value=v,
                    )
                ]
            return [
                Finding(
                    R_FORMAT,
                    n,
                    f"{n}（{f.zh}）应为十进制数（如 12.5），不带符号与指数",
                    f"{n} ({f.en}) must be a plain decimal number (e.g. 12.5), no sign or exponent",
                    value=v[:60],
                )
            ]
        out = []
        ip, fp = m.group(1), m.group(2) or ""
        if len(ip) > q.int_digits:
            out.append(
                Finding(
                    R_FORMAT,
                    n,
                    f"{n}（{f.zh}）整数部分最多 {q.int_digits} 位",
                    f"{n} ({f.en}) has at most {q.int_digits} integer digits",
                    value=v[:60],
                )
            )
        if len(fp.rstrip("0")) > q.decimals:
            out.append(
                Finding(
                    R_UNITS,
                    n,
                    f"{n}（{f.zh}）单位{q.unit}，最多 {q.decimals} 位小数，实为 {len(fp)} 位",
                    f"{n} ({f.en}) is in {q.unit_en} with at most {q.decimals} decimals; this has {len(fp)}",
                    value=v,
                )
            )
        if q.positive and not ip.strip("0") and not fp.strip("0"):
            out.append(Finding(R_UNITS, n, f"{n}（{f.zh}）必须大于0", f"{n} ({f.en}) must be greater than 0", value=v))
        return out

    def _date_findings(self, f: FieldSpec, v: str) -> list[Finding]:
        n = f.name
        width = 8 if f.type == "date" else 14
        got = parse_date_form(f.date_forms, v)
        if got is None:
            fmt = " / ".join(x for x, _ in f.date_forms)
            return [Finding(R_FORMAT, n, f"{n}（{f.zh}）格式应为 {fmt}", f"{n} ({f.en}) must be {fmt}", value=v[:60])]
        p = got[1]
        y = int(p["y"])
        try:
            _dt.datetime(y, int(p["mo"]), int(p["d"]), int(p.get("h", 0)), int(p.get("mi", 0)), int(p.get("s", 0)))
        except ValueError:
            return [
                Finding(
                    R_DATES,
                    n,
                    f"{n}（{f.zh}）「{v}」不是有效的日历{'日期' if width == 8 else '时间'}",
                    f"{n} ({f.en}) {v!r} is not a valid calendar {'date' if width == 8 else 'date-time'}",
                    value=v,
                )
            ]
        lo, hi = self._years
        if not lo <= y <= hi:
            return [
                Finding(
                    R_DATES,
                    n,
                    f"{n}（{f.zh}）年份 {y} 不在 {lo}-{hi} 之间",
                    f"{n} ({f.en}) year {y} is outside {lo}-{hi}",
                    value=v,
                )
            ]
        return []

    def _cross_findings(self, rt: RecordType, record: dict[str, Any], bad: set[str]) -> list[Finding]:
        """Rules across fields, applied only to fields that are valid on their own."""
        out = []
        for a, b in rt.not_greater:
            va, vb = record.get(a), record.get(b)
            if va and vb and a not in bad and b not in bad and Decimal(va) > Decimal(vb):
                out.append(
                    Finding(
                        R_UNITS,
                        a,
                        f"{a}（{rt.by_name[a].zh}）{va} 不能大于 {b}（{rt.by_name[b].zh}）{vb}",
                        f"{a} ({rt.by_name[a].en}) {va} cannot exceed {b} ({rt.by_name[b].en}) {vb}",
                        value=va,
                    )
                )
        out += self._batch_findings(rt, record, bad)
        code = record.get(rt.meat_rule, "") if rt.meat_rule else ""
        # the rule binds the forms that carry a certificate field (Ningbo's retail feed carries none); a
        # certificate carried in batch_id and typed by voucher_type (dppc mtrace) satisfies it
        form_fields = rt.best_form(record)[0][3]
        typed_cert = record.get("voucher_type") in self.certificate_vouchers and record.get("batch_id")
        if (
            rt.meat_certs
            and code
            and rt.meat_rule not in bad
            and self.is_meat(code)
            and any(c in form_fields for c in rt.meat_certs)
            and not typed_cert
        ):
            if not any(record.get(c) for c in rt.meat_certs):
                names = " / ".join(rt.meat_certs)
                zh = " 或 ".join(rt.by_name[c].zh for c in rt.meat_certs)
                out.append(Finding(R_MEAT, names, f"肉类商品须有{zh}", f"meat needs {names}", value=code))
        return out

    def batch_kind(self, value: str, voucher_type: str | None = None) -> str | None:
        """What a batch id is: ``trace`` (20-digit trace code), ``batch`` (16-digit batch code),
        ``certificate`` (voucher_type says so) or ``None`` (locally generated or unknown)."""
        if voucher_type in self.certificate_vouchers:
            return "certificate"
        for kind in ("trace", "batch"):
            if self._codes.is_valid(value, kind):
                return kind
        return None

    def _batch_findings(self, rt: RecordType, record: dict[str, Any], bad: set[str]) -> list[Finding]:
        out = []
        for f in rt.fields + rt.extra:
            v = record.get(f.wire or f.name)
            if f.type != "batch" or not v or f.name in bad:
                continue
            if self.batch_kind(v, record.get("voucher_type")) is None:
                out.append(
                    Finding(
                        R_BATCH_LOCAL,
                        f.name,
                        f"{f.name}（{f.zh}）「{v[:40]}」既不是追溯码、16位批次码，也不是凭证类型所指的证号："
                        "本地生成的批次号可以接收，但无法与上游追溯链衔接",
                        f"{f.name} ({f.en}) {v[:40]!r} is neither a trace code, a 16-digit batch code nor a "
                        "certificate typed by voucher_type: a locally generated batch id is accepted but does "
                        "not link to the upstream chain",
                        severity=WARN,
                        value=v[:60],
                    )
                )
        return out

    def is_meat(self, commodity_code: str) -> bool:
        """True if the commodity code is a meat code (by the table, else by the meat prefix)."""
        c = self._commodities.get(commodity_code)
        if c is not None:
            return c.kind == "meat"
        return commodity_code.startswith(self._codes.meat_prefix)

    # -- XML ---------------------------------------------------------------
    def record_xml(self, type_name: str, record: dict[str, str]) -> str:
        """One record as an XML element string (no declaration); fields in the record's order.

        Raises :class:`RecordEncodeError` for an unknown type, a non-text
        value or a character XML 1.0 cannot carry.
        """
        rt = self.types.get(type_name)
        if rt is None:
            raise RecordEncodeError(f"unknown record type {type_name!r}")
        parts = [f"<{type_name}>"]
        for k, v in record.items():
            if not isinstance(v, str):
                raise RecordEncodeError(f"{type_name}.{k}: value must be str, not {type(v).__name__}")
            f = rt.by_name.get(k)
            w = (f.wire or f.name) if f is not None else k
            parts.append(f"<{w}>{_escape(v)}</{w}>")
        parts.append(f"</{type_name}>")
        s = "".join(parts)
        if _NOT_XML.search(s):
            raise RecordEncodeError(f"{type_name}: a value holds a character XML 1.0 cannot carry")
        return s

    def encode_xml(self, type_name: str, record: dict[str, str]) -> bytes:
        """One record as a UTF-8 XML document."""
        return b'<?xml version="1.0" encoding="UTF-8"?>' + self.record_xml(type_name, record).encode("utf-8")

    def encode_xml_list(self, items: Iterable[tuple[str, dict[str, str]]]) -> bytes:
        """Records ``(type_name, record)`` as one UTF-8 XML document under :attr:`list_root`."""
        body = "".join(self.record_xml(t, r) for t, r in items)
        return (f'<?xml version="1.0" encoding="UTF-8"?><{self.list_root}>{body}</{self.list_root}>').encode("utf-8")

    def element_record(self, el: Element) -> tuple[dict[str, str], list[Finding]]:
        """Fields of one record element (wire names mapped to field names) and structural findings."""
        rt = self.types.get(el.tag)
        rec = {c.tag: (c.text or "") for c in el}
        findings: list[Finding] = []
        if len(rec) != len(el):
            seen: set[str] = set()
            for c in el:
                if c.tag in seen:
                    findings.append(
                        Finding(
                            R_KNOWN,
                            str(c.tag),
                            f"元素「{c.tag}」重复出现",
                            f"element {c.tag!r} occurs more than once",
                            value=str(c.tag)[:60],
                        )
                    )
                seen.add(c.tag)
        for c in el:
            if len(c):
                findings.append(
                    Finding(
                        R_KNOWN,
                        str(c.tag),
                        f"字段元素「{c.tag}」不应含子元素",
                        f"field element {c.tag!r} must not contain elements",
                        value=str(c.tag)[:60],
                    )
                )
        if rt is not None and any(f.wire for f in rt.fields):
            rec = {(rt.by_wire[k].name if k in rt.by_wire else k): v for k, v in rec.items()}
        return rec, findings

    def decode_xml(self, data: bytes, type_name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Decoded:
        """Read one record or a list of records from untrusted XML bytes (never raises for bad input).

        With ``type_name``, every record element must be of that type.
        """
        src = XmlSource(data, limits)
        items: list[DecodedRecord] = []
        shape = None
        root_tag = None
        for ev, el, depth in src.events():
            if ev == "start":
                if depth == 1:
                    root_tag = el.tag
                    shape = "record" if el.tag in self.types or (type_name and el.tag == type_name) else "list"
                continue
            rec_depth = 1 if shape == "record" else 2
            if depth == rec_depth:
                items.append(self._decoded(el, len(items) + 1, type_name))
                el.clear()
        findings = list(src.findings)
        if findings:
            return Decoded(None, items, findings, "xml")
        if shape == "list" and root_tag != self.list_root:
            findings.append(
                Finding(
                    R_KNOWN,
                    str(root_tag),
                    f"根元素「{root_tag}」既不是已知记录类型，也不是记录列表 <{self.list_root}>",
                    f"root element {root_tag!r} is neither a known record type nor a <{self.list_root}> list",
                    value=str(root_tag)[:60],
                )
            )
        return Decoded(shape, items, findings, "xml")

    def _decoded(self, el: Element, pos: int, type_name: str | None) -> DecodedRecord:
        rec, findings = self.element_record(el)
        tag = str(el.tag)
        if type_name and tag != type_name:
            findings.insert(
                0,
                Finding(
                    R_KNOWN,
                    tag,
                    f"记录元素应为「{type_name}」，实为「{tag}」",
                    f"record element should be {type_name!r}, not {tag!r}",
                    value=tag[:60],
                ),
            )
        return DecodedRecord(tag, rec, pos, findings)

    # -- JSON --------------------------------------------------------------
    def encode_json(self, type_name: str, record: dict[str, str]) -> bytes:
        """One record as UTF-8 JSON ``{"TYPE": {...}}`` (all values strings)."""
        import json

        self._check_json(type_name, record)
        return json.dumps({type_name: record}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def encode_json_list(self, items: Iterable[tuple[str, dict[str, str]]]) -> bytes:
        import json

        out = []
        for t, r in items:
            self._check_json(t, r)
            out.append({t: r})
        return json.dumps({self.list_root: out}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _check_json(self, type_name: str, record: dict[str, Any]) -> None:
        if type_name not in self.types:
            raise RecordEncodeError(f"unknown record type {type_name!r}")
        for k, v in record.items():
            if not isinstance(v, str):
                raise RecordEncodeError(f"{type_name}.{k}: value must be str, not {type(v).__name__}")

    def decode_json(self, data: bytes, type_name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Decoded:
        """Read one record or a list from untrusted JSON bytes (never raises for bad input).

        Accepted shapes: ``{"TYPE": {...}}``, ``{"records": [{"TYPE": {...}}, ...]}``, a bare list of
        ``{"TYPE": {...}}``; with ``type_name`` also bare field objects ``{...}`` or a list of them.
        JSON numbers are kept as their literal text; ``null`` means the field is absent.
        """
        value, findings = read_json(data, limits)
        if findings:
            return Decoded(None, [], findings, "json")
        if isinstance(value, dict) and set(value) == {self.list_root} and isinstance(value[self.list_root], list):
            return Decoded(
                "list", [self._json_item(v, i + 1, type_name) for i, v in enumerate(value[self.list_root])], [], "json"
            )
        if isinstance(value, list):
            return Decoded("list", [self._json_item(v, i + 1, type_name) for i, v in enumerate(value)], [], "json")
        if isinstance(value, dict):
            return Decoded("record", [self._json_item(value, 1, type_name)], [], "json")
        return Decoded(
            None,
            [],
            [Finding(R_KNOWN, "$", "JSON 顶层应为对象或数组", "top-level JSON must be an object or an array")],
            "json",
        )

    def _json_item(self, v: Any, pos: int, type_name: str | None) -> DecodedRecord:
        if isinstance(v, dict) and len(v) == 1:
            ((tag, body),) = v.items()
            if isinstance(body, dict) and (tag in self.types or tag == type_name or type_name is None):
                findings = []
                if type_name and tag != type_name:
                    findings.append(
                        Finding(
                            R_KNOWN,
                            tag,
                            f"记录应为「{type_name}」，实为「{tag}」",
                            f"record should be {type_name!r}, not {tag!r}",
                            value=str(tag)[:60],
                        )
                    )
                return DecodedRecord(tag, _json_fields(body), pos, findings)
        if isinstance(v, dict) and type_name:
            return DecodedRecord(type_name, _json_fields(v), pos, [])
        return DecodedRecord(
            "?",
            {},
            pos,
            [
                Finding(
                    R_KNOWN,
                    f"[{pos}]",
                    '无法识别的记录（应为 {"记录类型": {字段…}}）',
                    'unrecognised record (expected {"TYPE": {fields…}})',
                )
            ],
        )

    # -- either ------------------------------------------------------------
    def decode(self, data: bytes, type_name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Decoded:
        """XML or JSON, by the first non-blank byte."""
        if looks_like_xml(data):
            return self.decode_xml(data, type_name, limits)
        return self.decode_json(data, type_name, limits)


def _canonical_value(f: FieldSpec, v: str) -> str:
    if f.type in CANONICAL_DATE:
        got = parse_date_form(f.date_forms, v)
        if got is None:
            return v
        p = got[1]
        d = p["y"] + p["mo"] + p["d"]
        return d if f.type == "date" else d + p.get("h", "00") + p.get("mi", "00") + p.get("s", "00")
    if f.type == "enum" and f.synonyms and v in f.synonyms:
        return f.synonyms[v]
    if f.type == "decimal" and "." in v:
        whole, frac = v.split(".", 1)
        keep = max(len(frac.rstrip("0")), min(len(frac), f.decimal.decimals))
        return whole + ("." + frac[:keep] if keep else "")
    return v


def _json_fields(body: dict[str, Any]) -> dict[str, Any]:
    # null = absent; anything else is kept as is (validate() reports non-text values)
    return {str(k): v for k, v in body.items() if v is not None}
