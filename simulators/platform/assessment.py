"""District assessment (属地管理 / 运行评价): the indicators of every district for a period, and their score.

A node's district is the first ``[district] digits`` (6) of its node code (GB/T 2260 county code).  The
districts listed are those of the active registered nodes (the city platform itself left out).  The indicator
definitions, weights and grades are ``profiles/reference/assessment.toml`` ``[assessment]`` (evidence
``profile``; docs/regulator.md); each indicator is ``{"rate", "num", "den"}`` with ``rate = round(num / den, 4)``
or ``None`` when ``den`` is 0 (completeness: ``num`` is the sum of the node-days' shares, 4 decimals).

Score: ``100 × Σ weight × rate / Σ weight`` over the indicators with a rate, 2 decimals; ``None`` when none has
one.  Grade: the first ``[[assessment.grades]]`` whose ``min`` the score reaches.

Open problems and time to close come from the problem store (issue 14 item 1, :func:`.problems.listing`): the
problems flagged for the business days of the period in the district, whatever detected them and when.  Per
district: ``flagged``, ``open`` (not closed: open or acknowledged), ``closed`` and ``mean_close_h`` (mean hours
from detection to closing over the closed ones, 2 decimals; ``None`` if none is closed); the indicator
``closure`` 问题结案率 is closed ÷ flagged.  Detection runs when a regulator asks for it (``POST
/api/v1/problems/detect``): a day never detected has no flags.  :meth:`Assessment.problem_columns` is the seam.
"""

from __future__ import annotations

from collections import defaultdict

from .periods import Period
from .problems import LIST_MAX, listing
from .recordmap import RecordMap
from .regstats import load_rules
from .stats import Stats
from .storage import Store

INDICATORS = ("coverage", "scale_usage", "report_rate", "timeliness", "completeness", "chain", "closure")
MAX_PAGES = 1000  #: bound on the problem listing's pages (LIST_MAX each) read for one period


def _ind(num, den) -> dict:
    return {"rate": round(num / den, 4) if den else None, "num": num, "den": den}


class Assessment:
    def __init__(self, store: Store, recmap: RecordMap, stats: Stats, profile, rules: dict | None = None):
        self.store = store
        self.recmap = recmap
        self.stats = stats
        self.profile = profile
        self.rules = rules if rules is not None else load_rules()
        self.digits = int(self.rules["district"]["digits"])

    def district_of(self, node_id: str) -> str:
        return node_id[: self.digits]

    def problem_columns(self, period: Period) -> dict | None:
        """district -> ``{"flagged", "open", "closed", "mean_close_h"}`` of the problems flagged for the period's
        business days (module docstring); ``None`` for a platform without a problem store (an override)."""
        per: dict = defaultdict(lambda: {"flagged": 0, "open": 0, "closed": 0, "_h": []})
        after = 0
        with self.store.read() as tx:
            for _page in range(MAX_PAGES):
                rows = listing(tx, first=period.first, last=period.last, after_id=after, limit=LIST_MAX)
                for p in rows:
                    d = per[p["district"]]
                    d["flagged"] += 1
                    if p["state"] == "closed" and p["closed_ms"] is not None:
                        d["closed"] += 1
                        d["_h"].append((int(p["closed_ms"]) - int(p["detected_ms"])) / 3_600_000)
                    else:
                        d["open"] += 1
                if len(rows) < LIST_MAX:
                    break
                after = rows[-1]["id"]
        return {
            k: {
                "flagged": v["flagged"],
                "open": v["open"],
                "closed": v["closed"],
                "mean_close_h": round(sum(v["_h"]) / len(v["_h"]), 2) if v["_h"] else None,
            }
            for k, v in per.items()
        }

    def districts(self, period: Period) -> dict:
        """The assessment of every district for ``period`` (see the module docstring)."""
        days = period.days
        with self.store.read() as tx:
            nodes = tx.all(
                "SELECT node_id, node_type FROM nodes WHERE status = 'active' AND node_type <> ?", ("city_platform",)
            )
            sent = tx.all(
                "SELECT node_id, data_date, rtype, SUM(records), SUM(timely) FROM daily_stats"
                " WHERE data_date >= ? AND data_date <= ? AND records > 0"
                " GROUP BY node_id, data_date, rtype",
                (period.first, period.last),
            )
            chain = tx.all(
                "SELECT r.node_id, COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM records u"
                " WHERE u.own_code = r.upstream) THEN 1 ELSE 0 END), 0) FROM records r"
                " WHERE r.data_date >= ? AND r.data_date <= ? AND r.upstream IS NOT NULL"
                " AND substr(r.upstream, 1, length(r.node_id)) <> r.node_id GROUP BY r.node_id",
                (period.first, period.last),
            )
        role = {n: self.recmap.role_of(t) or t for n, t in nodes}
        acc = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # district -> indicator -> [num, den]
        node_days: dict = defaultdict(set)  # (node, day) -> record types
        for node, date, rtype, n, timely in sent:
            node_days[(node, date)].add(rtype)
            d = acc[self.district_of(node)]["timeliness"]
            d[0] += int(timely)
            d[1] += int(n)
        for node in role:
            a = acc[self.district_of(node)]
            a["coverage"][1] += 1
            a["coverage"][0] += any((node, day) in node_days for day in days)
            a["report_rate"][1] += len(days)
            a["report_rate"][0] += sum(1 for day in days if (node, day) in node_days)
        for (node, _day), types in node_days.items():
            if node not in role:
                continue
            expected = self.recmap.expected_types(role[node])
            if expected:
                c = acc[self.district_of(node)]["completeness"]
                c[0] += len(types & set(expected)) / len(expected)
                c[1] += 1
        for node, linked, ok in chain:
            c = acc[self.district_of(node)]["chain"]
            c[0] += int(ok)
            c[1] += int(linked)
        usage = self.stats.scale_usage(period.first, period.last)["by_node"]
        for node, u in usage.items():
            s = acc[self.district_of(node)]["scale_usage"]
            s[0] += u["used"]
            s[1] += u["scales"]
        problems = self.problem_columns(period)
        for code, p in (problems or {}).items():
            acc[code]["closure"][0] += p["closed"]
            acc[code]["closure"][1] += p["flagged"]
        regions = self.profile.regions
        out = []
        for code in sorted({self.district_of(n) for n in role}):
            a = acc[code]
            ind = {}
            for k in INDICATORS:
                num, den = a.get(k, (0, 0))
                ind[k] = _ind(round(num, 4) if k == "completeness" else num, den)
            r = regions.get(code)
            row = {
                "code": code,
                "name": r.name if r else None,
                "nodes": a["coverage"][1],
                "indicators": ind,
                **self.score(ind),
            }
            if problems is not None:
                row["problems"] = problems.get(code, {"flagged": 0, "open": 0, "closed": 0, "mean_close_h": None})
            out.append(row)
        return {
            "period": period.label,
            "from": period.first,
            "to": period.last,
            "days": len(days),
            "weights": dict(self.rules["assessment"]["weights"]),
            "indicators": list(INDICATORS),
            "problems": "included" if problems is not None else None,
            "districts": out,
        }

    def score(self, ind: dict) -> dict:
        """``{"score", "grade": {"zh", "en"} | None}`` of one district's indicators (profile weights)."""
        weights = self.rules["assessment"]["weights"]
        num = den = 0.0
        for k, w in weights.items():
            rate = ind.get(k, {}).get("rate")
            if rate is not None:
                num += w * rate
                den += w
        if not den:
            return {"score": None, "grade": None}
        score = round(100 * num / den, 2)
        grade = next((g for g in self.rules["assessment"]["grades"] if score >= g["min"]), None)
        return {"score": score, "grade": {"zh": grade["zh"], "en": grade["en"]} if grade else None}
