"""Proxy transformations of the regulator answers (issue 14): the district figures of a broken platform.

Registered in :data:`conformance.proofs.http_defects.TRANSFORMS` (imported at the end of that module); catalogue
entries in ``http_defects.toml``.  Each rewrites the JSON answers of ``GET /api/v1/regulator/stats`` or ``GET
/api/v1/regulator/districts`` as a platform with that bug would compute them, nothing else:

* ``regulator-stats-drop-commodity``: every group's last commodity is left out (and its kg from the totals), as a
  platform that joins the commodity table with an inner join and misses codes it does not know;
* ``regulator-price-truncated``: average prices cut to 1 decimal (a price kept as float and truncated);
* ``regulator-origin-lost``: the first province's inflow is reported under ``unknown`` (origin codes not parsed);
* ``district-report-rate-per-day``: the report rate's denominator is the nodes, not nodes × days (the daily
  definition applied to a longer period), the score left as the platform computed it;
* ``district-score-unweighted``: the score is the plain mean of the rates (the profile's weights ignored);
* ``regulator-credentials-unchecked``: a refused read of either endpoint or of the problem list ``GET
  /api/v1/problems`` (401, 403, 409) is answered 200 with an empty table or list, as a platform that serves them to
  anyone (PLAT-SEC-12).
* ``node-list-unchecked``: a refused read of the node list ``GET /api/v1/nodes`` (401, 403) is answered 200 with an
  empty list, as a platform that shows its nodes to anyone (PLAT-SEC-12, the monitoring reads).
"""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal

from .http_defects import Transform, _doc, transform
from .proxy import Reply

STATS = "/api/v1/regulator/stats"
DISTRICTS = "/api/v1/regulator/districts"
PROBLEMS = "/api/v1/problems"


def _g(kg) -> int:
    whole, _, frac = str(kg or "0").partition(".")
    return int(whole or 0) * 1000 + int((frac + "000")[:3])


def _kg(g: int) -> str:
    return f"{g // 1000}.{g % 1000:03d}"


class _Answer(Transform):
    """Base: :meth:`change` rewrites the 200 JSON answer of ``path`` (a dict)."""

    path = STATS

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != self.path or reply.status != 200:
            return reply
        doc = _doc(reply)
        if not isinstance(doc, dict):
            return reply
        return reply.with_json(self.change(doc))

    def change(self, doc: dict) -> dict:
        return doc


@transform("regulator-stats-drop-commodity")
class StatsDropCommodity(_Answer):
    def change(self, doc):
        for g in doc.get("groups") or []:
            cells = g.get("commodities") or []
            if len(cells) > 1:
                gone = cells.pop()
                g["weight_kg"] = _kg(max(0, _g(g.get("weight_kg")) - _g(gone.get("weight_kg"))))
                g["records"] = max(0, int(g.get("records") or 0) - int(gone.get("records") or 0))
        return doc


@transform("regulator-price-truncated")
class PriceTruncated(_Answer):
    def change(self, doc):
        for g in doc.get("groups") or []:
            for c in [g, *(g.get("commodities") or [])]:
                if c.get("avg_price"):
                    c["avg_price"] = str(Decimal(c["avg_price"]).quantize(Decimal("0.1"), rounding=ROUND_DOWN)) + "0"
        return doc


@transform("regulator-origin-lost")
class OriginLost(_Answer):
    def change(self, doc):
        if doc.get("by") != "origin":
            return doc
        groups = [g for g in doc.get("groups") or [] if g.get("key") != "unknown"]
        if not groups:
            return doc
        first = groups[0]
        doc["groups"] = [g for g in doc["groups"] if g is not first]
        unknown = next((g for g in doc["groups"] if g.get("key") == "unknown"), None)
        if unknown is None:
            doc["groups"].append({**first, "key": "unknown", "name": None})
            return doc
        unknown["weight_kg"] = _kg(_g(unknown.get("weight_kg")) + _g(first.get("weight_kg")))
        unknown["records"] = int(unknown.get("records") or 0) + int(first.get("records") or 0)
        cells = {c.get("goods_code"): c for c in unknown.get("commodities") or []}
        for c in first.get("commodities") or []:
            u = cells.get(c.get("goods_code"))
            if u is None:
                unknown.setdefault("commodities", []).append(dict(c))
            else:
                u["weight_kg"] = _kg(_g(u.get("weight_kg")) + _g(c.get("weight_kg")))
                u["records"] = int(u.get("records") or 0) + int(c.get("records") or 0)
        return doc


@transform("district-report-rate-per-day")
class ReportRatePerDay(_Answer):
    path = DISTRICTS

    def change(self, doc):
        days = int(doc.get("days") or 1)
        for d in doc.get("districts") or []:
            rr = (d.get("indicators") or {}).get("report_rate")
            if isinstance(rr, dict) and rr.get("den"):
                rr["den"] = rr["den"] // days
                rr["rate"] = round(rr["num"] / rr["den"], 4) if rr["den"] else None
        return doc


@transform("district-score-unweighted")
class ScoreUnweighted(_Answer):
    path = DISTRICTS

    def change(self, doc):
        for d in doc.get("districts") or []:
            rates = [v.get("rate") for v in (d.get("indicators") or {}).values() if isinstance(v, dict)]
            rates = [r for r in rates if isinstance(r, (int, float))]
            if rates:
                d["score"] = round(100 * sum(rates) / len(rates), 2)
        return doc


@transform("regulator-credentials-unchecked")
class CredentialsUnchecked(Transform):
    def response(self, ex, reply):
        empty = {STATS: {"groups": []}, DISTRICTS: {"districts": []}, PROBLEMS: {"problems": [], "next_cursor": None}}
        if ex.method != "GET" or ex.path not in empty or reply.status not in (401, 403, 409):
            return reply
        doc = empty[ex.path]
        return Reply(200, [("content-type", "application/json")], json.dumps(doc).encode("utf-8"))


@transform("node-list-unchecked")
class NodeListUnchecked(Transform):
    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/api/v1/nodes" or reply.status not in (401, 403):
            return reply
        doc = {"summary": {"online": 0, "offline": 0, "never": 0, "disabled": 0}, "nodes": []}
        return Reply(200, [("content-type", "application/json")], json.dumps(doc).encode("utf-8"))
