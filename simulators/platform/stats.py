"""Statistics per node, business day and commodity, and the platform's KPIs.

Counts come from ``daily_stats``, which the ingest transaction keeps exactly
(accepted records only; duplicates never count).  Weights are exact: integer
grams in storage, kg text with 3 decimals out.

KPI definitions (the platform's own, evidence ``profile``; the names are the
ones used in practice, standards.md §7 and devices.md §5):

* ``report_rate`` 追溯数据上报率 (node view): active registered nodes with at
  least one accepted record for the day ÷ active registered nodes, per role and
  overall.  (The market model's ledger defines a record view, reported ÷
  generated; the platform cannot see records never sent.  ``on_time`` counts
  below are comparable with the ledger's ``on_time``.)
* ``timeliness`` 上传及时率: records received before the end of their business
  day (CST) + ``grace_s`` ÷ records received, per role and overall.
* ``completeness`` 数据完整率: for each node that reported, the share of the
  record types expected of its role (``platform.toml [completeness]``) that it
  sent; mean per role and overall.
* ``chain`` 追溯链完整率: records of the day that name an upstream trace code ÷
  of those, the ones whose upstream code was issued by a record on the platform.

Per period (a business day or a quarter, :func:`period_bounds`):

* ``scale_usage`` 追溯秤使用率 (PLAT-KPI-01, the profile's formula ``scales_with_sales /
  scales_registered``): registered scales of active nodes that were used in the period ÷ registered
  scales, per node, node type and role.  A scale is used when an accepted sale record of its node names
  its operator as seller and, for a scale bound to a stall, that stall (``platform.toml [scale_usage]``); a
  sale whose form carries no seller field (Guangzhou's wholesale detail) names the operator that issued its
  voucher (``issuer``: tran_id = operator code + sequence, Guangzhou practice).

Per quarter (PLAT-KPI-03; the three families and the quarterly cycle are practice, devices.md §5.2; the exact
definitions are the profile's), per node type of the active registered nodes:

* ``usage`` 追溯环节使用率: nodes with at least one accepted record whose business date is in the quarter ÷
  registered nodes;
* ``coverage`` 企业覆盖率: registered nodes ÷ the enterprises the city must cover that quarter (entered by
  hand: ``roucai serve admin set-enterprises``); ``None`` where no count was entered;
* ``composite`` 综合: for each family, the arithmetic mean of the node types' rates (types without a rate
  left out).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections import defaultdict

from profiles.errors import RoucaiError

from .recordmap import RecordMap
from .storage import Store


def kg(grams: int | None) -> str:
    g = int(grams or 0)
    return f"{g // 1000}.{g % 1000:03d}"


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


class PeriodError(RoucaiError, ValueError):
    """A period that is not one business day (yyyyMMdd) or one quarter (YYYYQn)."""


_QUARTER = re.compile(r"([0-9]{4})Q([1-4])\Z")


def period_bounds(date: str | None = None, quarter: str | None = None) -> tuple[str, str]:
    """``(first, last)`` business day (yyyyMMdd, inclusive) of exactly one of ``date`` / ``quarter`` (``2025Q1``).

    Raises :class:`PeriodError` for none, both, or a value that is not a real day / quarter."""
    if (date is None) == (quarter is None):
        raise PeriodError("give date=yyyyMMdd or quarter=YYYYQn")
    if date is not None:
        try:
            if len(date) != 8 or not (date.isascii() and date.isdigit()):
                raise ValueError
            _dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
        except ValueError:
            raise PeriodError(f"not a calendar day (yyyyMMdd): {date[:20]!r}") from None
        return date, date
    m = _QUARTER.match(quarter)
    if not m or m.group(1) == "0000":
        raise PeriodError(f"not a quarter (YYYYQn, year 0001-9999): {quarter[:20]!r}")
    year, q = int(m.group(1)), int(m.group(2))
    first = _dt.date(year, 3 * q - 2, 1)
    last = _dt.date(year, 3 * q, calendar.monthrange(year, 3 * q)[1])
    # not strftime("%Y"): glibc writes years before 1000 without leading zeros
    return f"{year:04d}{first.month:02d}01", f"{year:04d}{last.month:02d}{last.day:02d}"


def _rates(counts: dict) -> dict:
    return {k: {"rate": _rate(u, n), "used": u, "scales": n} for k, (u, n) in sorted(counts.items())}


class Stats:
    def __init__(self, store: Store, recmap: RecordMap, profile):
        self.store = store
        self.recmap = recmap
        self.profile = profile

    def daily(self, date: str, node_id: str | None = None, goods_code: str | None = None) -> list[dict]:
        sql = (
            "SELECT s.node_id, n.node_type, s.rtype, s.goods_code, s.records, s.weight_g, s.timely"
            " FROM daily_stats s LEFT JOIN nodes n ON n.node_id = s.node_id WHERE s.data_date = ?"
        )
        params: list = [date]
        if node_id:
            sql += " AND s.node_id = ?"
            params.append(node_id)
        if goods_code:
            sql += " AND s.goods_code = ?"
            params.append(goods_code)
        with self.store.read() as tx:
            rows = tx.all(sql + " ORDER BY s.node_id, s.rtype, s.goods_code", params)
        comm = self.profile.commodities
        out = []
        for node, ntype, rtype, goods, n, g, timely in rows:
            c = comm.get(goods) if goods else None
            out.append(
                {
                    "node_id": node,
                    "node_type": ntype,
                    "type": rtype,
                    "goods_code": goods or None,
                    "goods_name": c.name("zh") if c else None,
                    "records": n,
                    "weight_kg": kg(g),
                    "on_time": timely,
                }
            )
        return out

    def totals(self, date: str) -> dict:
        """Per node, per node type and per commodity: records and kg of the day."""
        by_node: dict = defaultdict(lambda: [0, 0])
        by_type: dict = defaultdict(lambda: [0, 0])
        by_goods: dict = defaultdict(lambda: [0, 0])
        for r in self.daily(date):
            g = int(r["weight_kg"].replace(".", ""))
            for d, k in (
                (by_node, r["node_id"]),
                (by_type, r["node_type"] or "unregistered"),
                (by_goods, r["goods_code"] or ""),
            ):
                d[k][0] += r["records"]
                d[k][1] += g
        fmt = lambda d: {k: {"records": v[0], "weight_kg": kg(v[1])} for k, v in sorted(d.items())}
        return {"date": date, "by_node": fmt(by_node), "by_node_type": fmt(by_type), "by_commodity": fmt(by_goods)}

    def kpis(self, date: str) -> dict:
        with self.store.read() as tx:
            nodes = tx.all(
                "SELECT node_id, node_type FROM nodes WHERE status = 'active' AND node_type <> ?", ("city_platform",)
            )
            sent = tx.all(
                "SELECT node_id, rtype, SUM(records), SUM(timely) FROM daily_stats WHERE data_date = ?"
                " GROUP BY node_id, rtype",
                (date,),
            )
            chain_all, chain_ok = tx.one(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM records u WHERE u.own_code = r.upstream)"
                " THEN 1 ELSE 0 END), 0) FROM records r WHERE r.data_date = ? AND r.upstream IS NOT NULL",
                (date,),
            )
        role_of = {n: self.recmap.role_of(t) or t for n, t in nodes}
        types_by_node: dict = defaultdict(set)
        rec = defaultdict(lambda: [0, 0])  # role -> [records, on time]
        for node, rtype, n, timely in sent:
            types_by_node[node].add(rtype)
            role = role_of.get(node, "unregistered")
            rec[role][0] += int(n)
            rec[role][1] += int(timely)
        report = defaultdict(lambda: [0, 0])
        comp = defaultdict(list)
        for node, role in role_of.items():
            report[role][1] += 1
            if node in types_by_node:
                report[role][0] += 1
                expected = self.recmap.expected_types(role)
                if expected:
                    comp[role].append(len(types_by_node[node] & set(expected)) / len(expected))
        all_rep = [sum(v[0] for v in report.values()), sum(v[1] for v in report.values())]
        all_rec = [sum(v[0] for v in rec.values()), sum(v[1] for v in rec.values())]
        all_comp = [x for v in comp.values() for x in v]
        return {
            "date": date,
            "report_rate": {
                "overall": _rate(*all_rep),
                "reporting": all_rep[0],
                "nodes": all_rep[1],
                "by_role": {
                    k: {"rate": _rate(*v), "reporting": v[0], "nodes": v[1]} for k, v in sorted(report.items())
                },
            },
            "timeliness": {
                "overall": _rate(all_rec[1], all_rec[0]),
                "records": all_rec[0],
                "on_time": all_rec[1],
                "by_role": {
                    k: {"rate": _rate(v[1], v[0]), "records": v[0], "on_time": v[1]} for k, v in sorted(rec.items())
                },
            },
            "completeness": {
                "overall": round(sum(all_comp) / len(all_comp), 4) if all_comp else None,
                "by_role": {k: round(sum(v) / len(v), 4) for k, v in sorted(comp.items()) if v},
            },
            "chain": {
                "overall": _rate(int(chain_ok), int(chain_all)),
                "linked": int(chain_all),
                "resolved": int(chain_ok),
            },
        }

    def scale_usage(self, first: str, last: str) -> dict:
        """追溯秤使用率 for the business days ``first``..``last`` (yyyyMMdd, inclusive); see the module docstring."""
        with self.store.read() as tx:
            scales = tx.all(
                "SELECT s.scale_id, s.node_id, n.node_type, s.operator_id, s.stall FROM scales s"
                " JOIN nodes n ON n.node_id = s.node_id WHERE n.status = 'active'"
                " ORDER BY s.scale_id"
            )
            sold = tx.all(
                "SELECT DISTINCT node_id, operator_id, stall FROM seller_days WHERE data_date >= ? AND data_date <= ?",
                (first, last),
            )
        at_stall = {(n, o, st) for n, o, st in sold}
        anywhere = {(n, o) for n, o, _st in sold}
        by = {
            "node": defaultdict(lambda: [0, 0]),
            "type": defaultdict(lambda: [0, 0]),
            "role": defaultdict(lambda: [0, 0]),
        }
        total = [0, 0]
        for _sid, node, ntype, op, stall in scales:
            used = (node, op, stall) in at_stall if stall else (node, op) in anywhere
            for d, k in ((by["node"], node), (by["type"], ntype), (by["role"], self.recmap.role_of(ntype) or ntype)):
                d[k][0] += used
                d[k][1] += 1
            total[0] += used
            total[1] += 1
        return {
            "from": first,
            "to": last,
            "formula": "scales_with_sales / scales_registered",
            "overall": {"rate": _rate(*total), "used": total[0], "scales": total[1]},
            "by_node": _rates(by["node"]),
            "by_node_type": _rates(by["type"]),
            "by_role": _rates(by["role"]),
        }

    def quarter_kpis(self, quarter: str) -> dict:
        """企业覆盖率, 追溯环节使用率 and their composites for ``quarter`` (YYYYQn); see the module docstring."""
        first, last = period_bounds(quarter=quarter)
        with self.store.read() as tx:
            nodes = tx.all(
                "SELECT node_id, node_type FROM nodes WHERE status = 'active' AND node_type <> ?", ("city_platform",)
            )
            sent = {
                r[0]
                for r in tx.all(
                    "SELECT DISTINCT node_id FROM daily_stats WHERE data_date >= ? AND data_date <= ? AND records > 0",
                    (first, last),
                )
            }
            targets = dict(tx.all("SELECT node_type, enterprises FROM enterprise_counts WHERE quarter = ?", (quarter,)))
        per = defaultdict(lambda: [0, 0])  # node type -> [uploading, registered]
        for node, ntype in nodes:
            per[ntype][0] += node in sent
            per[ntype][1] += 1
        by_type = {}
        for ntype in sorted(set(per) | set(targets)):
            up, reg = per.get(ntype, (0, 0))
            ent = targets.get(ntype)
            by_type[ntype] = {
                "usage": {"rate": _rate(up, reg), "uploading": up, "registered": reg},
                "coverage": {"rate": _rate(reg, ent) if ent else None, "registered": reg, "enterprises": ent},
            }

        def mean(family: str):
            rates = [v[family]["rate"] for v in by_type.values() if v[family]["rate"] is not None]
            return round(sum(rates) / len(rates), 4) if rates else None

        return {
            "quarter": quarter,
            "from": first,
            "to": last,
            "by_node_type": by_type,
            "composite": {"usage": mean("usage"), "coverage": mean("coverage")},
        }
