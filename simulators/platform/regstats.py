"""Regulator statistics (统计分析): volumes, average prices, inflow by origin, top operators and trends.

Computed from the stored records only (``records``: accepted records, each once), with the definitions of
``profiles/reference/assessment.toml`` ``[statistics]`` (evidence ``profile``; docs/regulator.md):

* 流通量 ``weight_kg``: kg of the volume record types, per commodity and per group;
* 均价 ``avg_price`` (yuan/kg, 2 decimals, half up): sum(price × kg) / sum(kg) over the volume records with a
  valid price; ``None`` when none has one;
* 产地来源 (``by=origin``): kg of the origin record types per province (first 2 digits of the GB/T 2260
  ``area_origin_id`` + ``0000``; ``unknown`` when the field is empty or not 6 digits);
* groups: ``district`` (the first 6 digits of the node code, GB/T 2260), ``node_type`` (the registered type,
  ``unregistered`` if none), ``commodity``, ``origin``, ``operator`` (the seller field of the type, else the
  node), ``day`` (business date);
* trend: every group also carries the previous period's kg (``previous_kg``) and the change
  ``(kg - previous) / previous`` (4 decimals; ``None`` when the previous period had none).

:meth:`RegulatorStats.table` returns the answer as a dict; :func:`to_csv` flattens it (one row per group and
commodity).  Weights are exact (integer grams); kg out as text with 3 decimals.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from profiles.assessment import load_assessment

from .periods import Period
from .stats import PeriodError, kg
from .storage import Store

GROUPINGS = ("district", "node_type", "commodity", "origin", "operator", "day")


def load_rules(path: Path | None = None) -> dict:
    """The ``assessment.toml`` tables (``district``, ``statistics``, ``assessment``): the package's own, read as
    package data (:func:`profiles.assessment.load_assessment`), or the file ``path``."""
    return tomllib.loads(path.read_text("utf-8")) if path is not None else load_assessment()


def province_of(code: str | None) -> str:
    """The province code (GB/T 2260, ``PP0000``) of a 6-digit region code; ``unknown`` otherwise."""
    if not code or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return "unknown"
    return code[:2] + "0000"


def price_of(text) -> Decimal | None:
    """A unit price as sent (decimal text), or ``None`` when absent, not a number or negative."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        p = Decimal(text.strip())
    except InvalidOperation:
        return None
    return p if p.is_finite() and p >= 0 else None


def avg_price(value_sum: Decimal, grams: int) -> str | None:
    """sum(price × grams) / grams, yuan/kg with 2 decimals (half up); ``None`` without priced grams."""
    if not grams:
        return None
    return str((value_sum / grams).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def change(now_g: int, before_g: int) -> float | None:
    return round((now_g - before_g) / before_g, 4) if before_g else None


class _Cell:
    __slots__ = ("grams", "priced_g", "records", "value")

    def __init__(self):
        self.records, self.grams, self.priced_g, self.value = 0, 0, 0, Decimal(0)

    def add(self, grams: int, price: Decimal | None) -> None:
        self.records += 1
        self.grams += grams
        if price is not None:
            self.priced_g += grams
            self.value += price * grams

    def out(self) -> dict:
        return {"records": self.records, "weight_kg": kg(self.grams), "avg_price": avg_price(self.value, self.priced_g)}


class RegulatorStats:
    def __init__(self, store: Store, profile, rules: dict | None = None):
        self.store = store
        self.profile = profile
        self.rules = rules if rules is not None else load_rules()
        self.digits = int(self.rules["district"]["digits"])

    # -- rows ----------------------------------------------------------------------
    def _rows(self, period: Period, types: list[str], scope: str = ""):
        """``(node, node_type, rtype, date, goods, grams, body dict)`` of the stored records of ``types`` (of nodes
        whose code starts with ``scope``, a county-code prefix; all nodes when empty)."""
        if not types:
            return []
        marks = ",".join("?" * len(types))
        where = " AND r.node_id LIKE ?" if scope else ""
        with self.store.read() as tx:
            rows = tx.all(
                "SELECT r.node_id, n.node_type, r.rtype, r.data_date, r.goods_code, r.weight_g, r.body"
                " FROM records r LEFT JOIN nodes n ON n.node_id = r.node_id"
                f" WHERE r.data_date >= ? AND r.data_date <= ? AND r.rtype IN ({marks}){where}"
                " ORDER BY r.id",
                [
                    period.first,
                    period.last,
                    *types,
                    *([scope.replace("%", "").replace("_", "") + "%"] if scope else []),
                ],
            )
        for node, ntype, rtype, date, goods, grams, body in rows:
            try:
                rec = json.loads(body)
            except ValueError:
                rec = {}
            yield node, ntype or "unregistered", rtype, date, goods or "", int(grams or 0), rec

    def _key(self, by: str, node: str, ntype: str, rtype: str, date: str, rec: dict) -> str:
        if by == "district":
            return node[: self.digits]
        if by == "node_type":
            return ntype
        if by == "operator":
            field = self.rules["statistics"].get("operator", {}).get(rtype)
            return (rec.get(field) if field else None) or node
        if by == "day":
            return date
        return ""

    def cells(self, period: Period, by: str, scope: str = "") -> dict[str, dict[str, _Cell]]:
        """group key -> commodity code -> cell, for one period (see the module docstring); ``scope``: as
        :meth:`_rows`."""
        st = self.rules["statistics"]
        out: dict = defaultdict(lambda: defaultdict(_Cell))
        if by == "origin":
            for node, ntype, rtype, date, goods, grams, rec in self._rows(period, list(st["origin_types"]), scope):
                out[province_of(rec.get(st["origin_field"]))][goods].add(grams, None)
            return out
        pf = st["price_field"]
        for node, ntype, rtype, date, goods, grams, rec in self._rows(period, list(st["volume_types"]), scope):
            key = goods if by == "commodity" else self._key(by, node, ntype, rtype, date, rec)
            out[key][goods].add(grams, price_of(rec.get(pf)))
        return out

    # -- the answer ----------------------------------------------------------------
    def table(self, period: Period, by: str, top: int | None = None, scope: str = "") -> dict:
        """Groups of ``period`` by ``by`` (one of :data:`GROUPINGS`), largest kg first for ``operator`` (at most
        ``top``), else by key; each with totals, per-commodity cells and the trend against the previous period.
        ``scope``: only the records of nodes whose code starts with it (a county-code prefix; empty: all)."""
        if by not in GROUPINGS:
            raise ValueError(by)
        now = self.cells(period, by, scope)
        try:
            prev_period = period.previous()
            before = self.cells(prev_period, by, scope)
        except PeriodError:
            prev_period, before = None, {}
        names = self._namer(by)
        groups = []
        for key, per in now.items():
            total = _Cell()
            for c in per.values():
                total.records += c.records
                total.grams += c.grams
                total.priced_g += c.priced_g
                total.value += c.value
            prev_g = sum(c.grams for c in before.get(key, {}).values())
            g = {
                "key": key,
                "name": names(key),
                **total.out(),
                "previous_kg": kg(prev_g),
                "change": change(total.grams, prev_g),
                "_g": total.grams,
            }
            if by != "commodity":
                g["commodities"] = [
                    {"goods_code": gc, "goods_name": self._goods(gc), **c.out()} for gc, c in sorted(per.items())
                ]
            groups.append(g)
        if by == "operator":
            groups.sort(key=lambda g: (-g["_g"], g["key"]))
            groups = groups[:top] if top else groups
        else:
            groups.sort(key=lambda g: g["key"])
        for g in groups:
            del g["_g"]
        return {
            "period": period.label,
            "from": period.first,
            "to": period.last,
            "by": by,
            "previous": prev_period.label if prev_period else None,
            "groups": groups,
        }

    def _goods(self, code: str) -> str | None:
        c = self.profile.commodities.get(code) if code else None
        return c.name("zh") if c else None

    def _namer(self, by: str):
        if by in ("district", "origin"):
            regions = self.profile.regions

            def name(key: str) -> str | None:
                r = regions.get(key)
                return r.name if r else None

            return name
        if by == "commodity":
            return self._goods
        return lambda key: None


CSV_COLUMNS = (
    "period",
    "by",
    "key",
    "name",
    "goods_code",
    "goods_name",
    "records",
    "weight_kg",
    "avg_price",
    "previous_kg",
    "change",
)


def _cell(text) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection: a leading = + - @ tab or CR
    gets a leading apostrophe; evidence industry)."""
    t = "" if text is None else str(text)
    return "'" + t if t[:1] in ("=", "+", "-", "@", "\t", "\r") else t


#: the columns of :func:`rows` that hold text (the others are counts, kg, prices and ratios)
TEXT_COLUMNS = frozenset({"key", "name", "goods_code", "goods_name"})


def rows(table: dict):
    """The table flat, as :data:`CSV_COLUMNS` values: one row per group (``goods_code`` empty: the group's
    total) and per commodity of the group; values as in the JSON answer (``None`` where the JSON has none or the
    column does not apply).  The one flattening :func:`to_csv` and the XLSX export (``regxlsx.py``) share."""
    for g in table["groups"]:
        base = [table["period"], table["by"], g["key"], g["name"]]
        yield [*base, None, None, g["records"], g["weight_kg"], g["avg_price"], g["previous_kg"], g["change"]]
        for c in g.get("commodities", []):
            yield [*base, c["goods_code"], c["goods_name"], c["records"], c["weight_kg"], c["avg_price"], None, None]


def to_csv(table: dict) -> str:
    """:func:`rows` under a header of :data:`CSV_COLUMNS` (UTF-8 text; ``None`` and a zero price as empty
    cells; text cells through :func:`_cell`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    text = [c in TEXT_COLUMNS for c in CSV_COLUMNS]
    price = CSV_COLUMNS.index("avg_price")
    for row in rows(table):
        w.writerow(
            [
                _cell(v) if t else "" if v is None or (i == price and not v) else v
                for i, (v, t) in enumerate(zip(row, text))
            ]
        )
    return buf.getvalue()
