"""Problem discovery (问题发现) over the stored records: detection, the problem list, and its states.

Rules: the profile's ``problems.toml`` (:mod:`profiles.problems`); only kinds with ``status = "detected"``
are flagged here.  Contracts:

* :meth:`Problems.detect` runs every detected kind for one business day ``D`` (yyyyMMdd, Beijing time) over
  the records stored so far, in one write transaction; cost is bounded by the day's records (queries by
  ``data_date``, indexed) plus, for duplicate codes and stock, the records sharing the day's codes, and for
  certificate overuse the records linked (``record_links``, indexed by value) to the day's certificates, and for
  trade after a stop the day's sales of instructed holders and their earlier sales of the stopped code; late
  uploads read the day's records of each node and its first record of a business day ``after_days`` later.
  It returns the number of new flags per kind.  A flag's identity is ``(kind, subject, data_date)``
  (``INSERT … ON CONFLICT DO NOTHING``): re-running never duplicates a flag and never resets its state.
  Where a flag's day is not ``D`` by nature (a code reused on two days, a batch that tipped over earlier),
  the day is the earliest day the evidence shows, so the identity does not depend on the order of runs.
* Every flag carries the records that prove it (``records``: platform record ids, at most
  :data:`MAX_EVIDENCE`; ``codes``: the trace codes involved), its node, its district (the node code's
  first 6 digits, GB/T 2260) and ``detail`` (numbers behind the verdict).
* States: ``open`` → ``acknowledged`` → ``closed`` (:meth:`Problems.act`); only a regulator whose
  jurisdiction covers the problem's district moves them; closing needs a note; a closed problem stays closed.
* :func:`listing` is the query the API and other modules (district assessment) use: by district (a county
  code, or a prefix), kind, state, node and business-day range, ordered by id, bounded.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

from profiles.errors import RoucaiError

from .clock import now_ms
from .recordmap import RecordMap
from .regulators import covers
from .storage import Store, Tx

MAX_EVIDENCE = 50
LIST_MAX = 1000
_COLS = (
    "id, kind, subject, data_date, node_id, district, records, codes, detail, state, detected_ms, acked_ms,"
    " acked_by, closed_ms, closed_by, note"
)
_KEYS = [c.strip() for c in _COLS.split(",")]
_JSON = ("records", "codes", "detail")


def max_kg_per_head(table: dict, goods: str | None) -> float:
    """certificate-overuse's bound for one meat code: ``table``'s value of the code's longest prefix, 0 if none."""
    best = max((p for p in table if goods and goods.startswith(p)), key=len, default=None)
    return float(table[best]) if best else 0.0


class ActionError(RoucaiError):
    """A problem action refused: ``status`` (404/403/409), zh, en (answered over HTTP, never by the CLI)."""

    def __init__(self, status: int, zh: str, en: str):
        super().__init__(zh, en)
        self.status = status


def _row(r: tuple) -> dict:
    d = dict(zip(_KEYS, r))
    for k in _JSON:
        d[k] = json.loads(d[k])
    return d


def listing(
    tx: Tx,
    district: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    first: str | None = None,
    last: str | None = None,
    node_id: str | None = None,
    after_id: int = 0,
    limit: int = LIST_MAX,
) -> list[dict]:
    """Problems matching every given filter, by id ascending, ids > ``after_id``, at most ``limit``.

    ``district`` is a county code or any prefix of one (``6501`` = every district of Urumqi);
    ``first``/``last`` bound the business day (yyyyMMdd, inclusive)."""
    sql, params = f"SELECT {_COLS} FROM problems WHERE id > ?", [int(after_id)]
    if district:
        sql += " AND district LIKE ?"
        params.append(district.replace("%", "").replace("_", "") + "%")
    for col, val in (("kind", kind), ("state", state), ("node_id", node_id)):
        if val:
            sql += f" AND {col} = ?"
            params.append(val)
    if first:
        sql += " AND data_date >= ?"
        params.append(first)
    if last:
        sql += " AND data_date <= ?"
        params.append(last)
    sql += " ORDER BY id LIMIT ?"
    params.append(max(1, min(int(limit), LIST_MAX)))
    return [_row(r) for r in tx.all(sql, params)]


class Problems:
    def __init__(self, store: Store, recmap: RecordMap, profile):
        self.store = store
        self.recmap = recmap
        self.rules = profile.problems
        self.codes = profile.codes

    # -- detection ---------------------------------------------------------------
    def detect(self, day: str) -> dict[str, int]:
        """Flag every detected kind for business day ``day``; returns new flags per kind (see module doc)."""
        found: list[tuple] = []
        with self.store.write() as tx:
            nodes = {n: t for n, t in tx.all("SELECT node_id, node_type FROM nodes")}
            for kind in self.rules.detected:
                found += [(kind, *f) for f in getattr(self, "_" + kind.replace("-", "_"))(tx, day, nodes)]
            now = now_ms()
            new: dict[str, int] = {k: 0 for k in self.rules.detected}
            for kind, subject, date, node, recs, codes, detail in found:
                n = tx.execute(
                    "INSERT INTO problems (kind, subject, data_date, node_id, district, records, codes,"
                    " detail, detected_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (kind, subject, data_date) DO NOTHING",
                    (
                        kind,
                        subject,
                        date,
                        node,
                        node[:6],
                        json.dumps(sorted(recs)[:MAX_EVIDENCE]),
                        json.dumps(sorted(codes)[:MAX_EVIDENCE]),
                        json.dumps(detail, ensure_ascii=False, sort_keys=True),
                        now,
                    ),
                )
                new[kind] += 1 if n != 0 else 0
        return new

    def _registered(self, nodes: dict, code: str) -> bool:
        return code[:9] in nodes

    def _typed(self, kind: str) -> tuple[list[str], str]:
        """The record types a rule names and their SQL placeholders (``[]`` when it names none)."""
        types = list(self.rules.kind(kind).get("record_types", []))
        return types, ",".join("?" * len(types))

    def _chain_break(self, tx: Tx, day: str, nodes: dict):
        types, marks = self._typed("chain-break")
        if not types:
            return []
        rows = tx.all(
            f"SELECT r.id, r.node_id, r.upstream FROM records r WHERE r.data_date = ? AND r.rtype IN"
            f" ({marks}) AND r.upstream IS NOT NULL AND NOT EXISTS (SELECT 1 FROM records u WHERE"
            f" u.own_code = r.upstream) AND NOT (substr(r.upstream, 1, 9) = r.node_id AND EXISTS (SELECT 1"
            f" FROM records e WHERE e.upstream = r.upstream AND e.node_id = r.node_id AND e.rtype <> r.rtype"
            f" AND e.rtype IN ({marks})))",
            [day, *types, *types],
        )
        by: dict = defaultdict(list)
        for rid, node, up in rows:
            if self._registered(nodes, up):  # a code of a node on this platform: it must be issued here
                by[(node, up)].append(rid)
        return [
            (f"{node}:{up}", day, node, ids, [up], {"upstream": up, "issuer_node": up[:9]})
            for (node, up), ids in sorted(by.items())
        ]

    def _duplicate_trace_code(self, tx: Tx, day: str, nodes: dict):
        rows = tx.all(
            "SELECT a.own_code, b.id, b.node_id, b.rtype, b.data_date, b.body FROM records a JOIN records b"
            " ON b.own_code = a.own_code AND b.rtype = a.rtype AND b.id <> a.id WHERE a.data_date = ?"
            " AND a.own_code IS NOT NULL",
            (day,),
        )
        by: dict = defaultdict(dict)
        for code, rid, node, rtype, date, body in rows:
            sellers = self.recmap.rules.get("records", {}).get(rtype, {}).get("sellers", [])
            rec = json.loads(body)
            issuer = (node, tuple(rec.get(f) or "" for f in sellers))
            by[code][rid] = (issuer, date, node)
        out = []
        for code, recs in sorted(by.items()):
            issuers = {v[0] for v in recs.values()}
            if len(issuers) < 2:
                continue
            first = min(v[1] for v in recs.values())
            node = code[:9] if code[:9] in nodes else min(v[2] for v in recs.values())
            out.append(
                (code, first, node, list(recs), [code], {"issuers": sorted([n, "/".join(s)] for n, s in issuers)})
            )
        return out

    def _price_outlier(self, tx: Tx, day: str, nodes: dict):
        k = self.rules.kind("price-outlier")
        types, field = list(k.get("record_types", [])), k.get("price_field", "price")
        factor, least = float(k.get("factor")), int(k.get("min_records"))
        if not types:
            return []
        marks = ",".join("?" * len(types))
        rows = tx.all(
            f"SELECT id, node_id, own_code, goods_code, body FROM records WHERE data_date = ? AND rtype IN"
            f" ({marks}) AND goods_code IS NOT NULL",
            [day, *types],
        )
        prices: dict = defaultdict(list)
        for rid, node, own, goods, body in rows:
            try:
                p = float(json.loads(body).get(field) or "")
            except ValueError:
                continue
            if p > 0:
                prices[goods].append((p, rid, node, own))
        out = []
        for goods, items in sorted(prices.items()):
            if len(items) < least:
                continue
            med = statistics.median(p for p, *_ in items)
            for p, rid, node, own in items:
                if p > med * factor or p < med / factor:
                    out.append(
                        (
                            f"{node}:{own or rid}",
                            day,
                            node,
                            [rid],
                            [own] if own else [],
                            {"goods_code": goods, "price": p, "median": round(med, 4), "factor": factor},
                        )
                    )
        return out

    def _silent_node(self, tx: Tx, day: str, nodes: dict):
        import datetime as dt

        k = self.rules.kind("silent-node")
        roles = set(k.get("node_roles", []))
        n = max(1, int(k.get("days", 1)))
        d = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
        first = (d - dt.timedelta(days=n - 1)).strftime("%Y%m%d")
        heard = {
            r[0]
            for r in tx.all(
                "SELECT DISTINCT node_id FROM daily_stats WHERE data_date >= ? AND data_date <= ? AND records > 0",
                (first, day),
            )
        }
        active = tx.all("SELECT node_id, node_type FROM nodes WHERE status = 'active' ORDER BY node_id")
        out = []
        for node, ntype in active:
            if self.recmap.role_of(ntype) in roles and node not in heard:
                last = tx.one("SELECT MAX(id) FROM records WHERE node_id = ? AND data_date < ?", (node, first))
                out.append(
                    (
                        node,
                        day,
                        node,
                        [last[0]] if last and last[0] else [],
                        [],
                        {"from": first, "to": day, "days": n, "node_type": ntype},
                    )
                )
        return out

    def _silent_scale(self, tx: Tx, day: str, nodes: dict):
        """Registered scales of nodes (of the rule's roles) that reported on the day, unused for ``days`` days; used
        as in PLAT-KPI-01 (stats.py): a sale record names the scale's operator and, for a stall scale, its stall."""
        import datetime as dt

        k = self.rules.kind("silent-scale")
        roles = set(k.get("node_roles", []))
        n = max(1, int(k.get("days", 1)))
        d = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
        first = (d - dt.timedelta(days=n - 1)).strftime("%Y%m%d")
        reported = {
            r[0]: r[1]
            for r in tx.all("SELECT node_id, MIN(id) FROM records WHERE data_date = ? GROUP BY node_id", (day,))
        }
        sold = tx.all(
            "SELECT DISTINCT node_id, operator_id, stall FROM seller_days WHERE data_date >= ? AND data_date <= ?",
            (first, day),
        )
        at_stall = {(a, b, c) for a, b, c in sold}
        anywhere = {(a, b) for a, b, _c in sold}
        out = []
        for sid, node, op, stall in tx.all(
            "SELECT scale_id, node_id, operator_id, stall FROM scales ORDER BY scale_id"
        ):
            if node not in reported or self.recmap.role_of(nodes.get(node, "")) not in roles:
                continue
            if ((node, op, stall) in at_stall) if stall else ((node, op) in anywhere):
                continue
            out.append(
                (
                    sid,
                    day,
                    node,
                    [reported[node]],
                    [],
                    {"operator_id": op, "stall": stall, "from": first, "to": day, "days": n},
                )
            )
        return out

    def _stock_imbalance(self, tx: Tx, day: str, nodes: dict):
        k = self.rules.kind("stock-imbalance")
        tol, tol_g = float(k.get("tolerance")), int(round(float(k.get("tolerance_kg")) * 1000))
        out = []
        for in_type, out_type in k.get("pairs", []):
            batches = tx.all(
                "SELECT DISTINCT node_id, upstream FROM records WHERE data_date = ? AND rtype = ?"
                " AND upstream IS NOT NULL",
                (day, out_type),
            )
            for node, up in sorted(batches):
                got = tx.all(
                    "SELECT id, weight_g FROM records WHERE node_id = ? AND upstream = ? AND rtype = ?",
                    (node, up, in_type),
                )  # entries of any day: a node's clock may date them late
                received = sum(int(g or 0) for _, g in got)
                if received <= 0:
                    continue  # a sale of a batch never entered is a chain problem, not a stock one
                sold_rows = tx.all(
                    "SELECT id, data_date, weight_g FROM records WHERE node_id = ? AND upstream = ?"
                    " AND rtype = ? AND data_date <= ? ORDER BY data_date, id",
                    (node, up, out_type, day),
                )
                limit = received * (1 + tol) + tol_g
                sold, tipped = 0, None
                for _rid, date, g in sold_rows:
                    sold += int(g or 0)
                    if tipped is None and sold > limit:
                        tipped = date
                if tipped is None:
                    continue
                ids = [r for r, _ in got] + [r for r, *_ in sold_rows]
                out.append(
                    (
                        f"{node}:{up}",
                        tipped,
                        node,
                        ids,
                        [up],
                        {"received_kg": received / 1000, "sold_kg": sold / 1000, "tolerance": tol},
                    )
                )
        return out

    def _late_upload(self, tx: Tx, day: str, nodes: dict):
        """Nodes whose records of ``day`` arrived (record id order = the platform's arrival order) after one of
        their records of ``day`` + ``after_days`` … ``day`` + ``max_days``: the watermark is the node's first such
        record, so the verdict depends on the data's dates and its order, never on the wall clock of a replay."""
        import datetime as dt

        k = self.rules.kind("late-upload")
        n = max(1, int(k.get("after_days", 2)))
        d = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
        later = (d + dt.timedelta(days=n)).strftime("%Y%m%d")
        latest = (d + dt.timedelta(days=max(n, int(k.get("max_days", 7))))).strftime("%Y%m%d")
        out = []
        for node, mark in tx.all(
            "SELECT r.node_id, (SELECT MIN(w.id) FROM records w WHERE w.node_id = r.node_id AND w.data_date >= ?"
            " AND w.data_date <= ?) FROM records r WHERE r.data_date = ? GROUP BY r.node_id ORDER BY r.node_id",
            (later, latest, day),
        ):
            if mark is None:
                continue
            late = tx.all(
                "SELECT id FROM records WHERE node_id = ? AND data_date = ? AND id > ? ORDER BY id", (node, day, mark)
            )
            if late:
                watermark = tx.one("SELECT data_date FROM records WHERE id = ?", (mark,))[0]
                out.append(
                    (
                        node,
                        day,
                        node,
                        [r for (r,) in late],
                        [],
                        {"late_records": len(late), "after_record": mark, "after_day": watermark, "after_days": n},
                    )
                )
        return out

    def _trade_after_stop(self, tx: Tx, day: str, nodes: dict):
        """Holders instructed to stop a code (``stop_instructions``) whose sale records (the rule's types) name that
        code as upstream on a business day after the one of the failed test behind the instruction; cost bounded
        by the day's sales of instructed (node, code) pairs.  The flag's day is the first such sale day up to
        ``day``, so its identity does not depend on the order of runs."""
        types, marks = self._typed("trade-after-stop")
        if not types:
            return []
        stopped = tx.all(
            f"SELECT DISTINCT i.node_id, i.batch_code, i.root_code, i.source_node, i.source_record, s.data_date"
            f" FROM records r JOIN stop_instructions i ON i.node_id = r.node_id AND i.batch_code = r.upstream"
            f" JOIN records s ON s.id = i.source_record WHERE r.data_date = ? AND r.rtype IN ({marks})"
            f" AND r.data_date > s.data_date",
            [day, *types],
        )
        out = []
        for node, code, root, src_node, src_rec, stop_day in sorted(stopped):
            sales = tx.all(
                f"SELECT id, data_date, weight_g FROM records WHERE node_id = ? AND upstream = ? AND rtype IN"
                f" ({marks}) AND data_date > ? AND data_date <= ? ORDER BY data_date, id",
                [node, code, *types, stop_day, day],
            )
            out.append(
                (
                    f"{node}:{code}",
                    sales[0][1],
                    node,
                    [src_rec] + [r for r, *_ in sales],
                    [code],
                    {
                        "stopped_code": code,
                        "root_code": root,
                        "tested_by": src_node,
                        "test_day": stop_day,
                        "sales": len(sales),
                        "sold_kg": sum(int(g or 0) for *_, g in sales) / 1000,
                    },
                )
            )
        return out

    def _certificate_overuse(self, tx: Tx, day: str, nodes: dict):
        """Origin certificates (animal_in_info.quarantine_id) whose meat out, through product certificates linked to
        that certificate alone (quarantine_info), outgrows heads × the most meat per head × (1 + tolerance), counted
        in (data_date, id) order up to ``day``; the bound per head is the largest over the meat codes counted so far,
        so the day it tips over does not depend on later days (identity: node + certificate + that day)."""
        k = self.rules.kind("certificate-overuse")
        tol, table = float(k.get("tolerance")), dict(k.get("max_carcass_kg") or {})
        if not table:
            return []

        def per_head(goods: str | None) -> float:
            return max_kg_per_head(table, goods)

        def origins(node: str, product: str) -> set:
            return {
                v
                for (v,) in tx.all(
                    "SELECT DISTINCT q.value FROM record_links p JOIN record_links q ON q.record_id = p.record_id"
                    " AND q.kind = 'quarantine_id' JOIN records r ON r.id = p.record_id WHERE p.node_id = ?"
                    " AND p.kind = 'quarantine_animal_products_id' AND p.value = ? AND r.rtype = 'quarantine_info'",
                    (node, product),
                )
            }

        today = tx.all(
            "SELECT DISTINCT l.node_id, l.value FROM record_links l JOIN records r ON r.id = l.record_id"
            " WHERE r.data_date = ? AND r.rtype = 'meat_out_info_detail'"
            " AND l.kind = 'quarantine_animal_products_id'",
            (day,),
        )
        certs = set()
        for node, product in today:
            linked = origins(node, product)
            if len(linked) == 1:
                certs.add((node, linked.pop()))
        out = []
        for node, cert in sorted(certs):
            intake = tx.all(
                "SELECT r.id, r.body FROM record_links l JOIN records r ON r.id = l.record_id"
                " WHERE l.node_id = ? AND l.kind = 'quarantine_id' AND l.value = ?"
                " AND r.rtype = 'animal_in_info' ORDER BY r.id",
                (node, cert),
            )
            heads = 0
            for _rid, body in intake:
                try:
                    heads += max(0, int(json.loads(body).get("quarantine_num") or 0))
                except ValueError:
                    continue
            if heads <= 0:
                continue  # no intake on the platform: a chain question, not an overuse
            links = tx.all(
                "SELECT DISTINCT r.id, p.value FROM record_links q JOIN record_links p ON"
                " p.record_id = q.record_id AND p.kind = 'quarantine_animal_products_id' JOIN records r"
                " ON r.id = q.record_id WHERE q.node_id = ? AND q.kind = 'quarantine_id' AND q.value = ?"
                " AND r.rtype = 'quarantine_info'",
                (node, cert),
            )
            own = sorted({p for _r, p in links if origins(node, p) == {cert}})
            if not own:
                continue
            marks = ",".join("?" * len(own))
            rows = tx.all(
                f"SELECT DISTINCT r.id, r.data_date, r.goods_code, r.weight_g FROM record_links l JOIN"
                f" records r ON r.id = l.record_id WHERE l.node_id = ? AND l.kind ="
                f" 'quarantine_animal_products_id' AND l.value IN ({marks}) AND r.rtype ="
                f" 'meat_out_info_detail' AND r.data_date <= ? ORDER BY r.data_date, r.id",
                [node, *own, day],
            )
            out_g, bound, tipped = 0, 0.0, None
            for _rid, date, goods, g in rows:
                out_g += int(g or 0)
                bound = max(bound, per_head(goods))
                if tipped is None and bound > 0 and out_g > heads * bound * 1000 * (1 + tol):
                    tipped = date
            if tipped is None:
                continue
            ids = [r for r, _ in intake] + [r for r, _ in links] + [r for r, *_ in rows]
            out.append(
                (
                    f"{node}:{cert}",
                    tipped,
                    node,
                    ids,
                    [cert],
                    {
                        "certificate": cert,
                        "heads": heads,
                        "out_kg": out_g / 1000,
                        "max_kg_per_head": bound,
                        "tolerance": tol,
                        "product_certificates": len(own),
                    },
                )
            )
        return out

    # -- states ------------------------------------------------------------------
    def act(self, problem_id: int, action: str, regulator: str, note: str | None = None) -> dict:
        """``ack`` or ``close`` problem ``problem_id`` as ``regulator``; returns the problem after the action.

        Raises :class:`ActionError`: 404 no such problem, 403 outside the regulator's jurisdiction,
        409 already closed (or acknowledging twice: answered with the unchanged problem instead)."""
        with self.store.write() as tx:
            row = tx.one(f"SELECT {_COLS} FROM problems WHERE id = ?", (problem_id,))
            if row is None:
                raise ActionError(404, "没有这个问题", "no such problem")
            p = _row(row)
            if not covers(regulator, p["district"]):
                raise ActionError(
                    403, "该问题不在本监管部门辖区内", "the problem is outside this regulator's jurisdiction"
                )
            if p["state"] == "closed":
                raise ActionError(409, "问题已办结", "the problem is already closed")
            now = now_ms()
            if action == "ack":
                if p["state"] == "open":
                    tx.execute(
                        "UPDATE problems SET state = 'acknowledged', acked_ms = ?, acked_by = ? WHERE id = ?",
                        (now, regulator, problem_id),
                    )
            else:
                tx.execute(
                    "UPDATE problems SET state = 'closed', closed_ms = ?, closed_by = ?, note = ?,"
                    " acked_ms = COALESCE(acked_ms, ?), acked_by = COALESCE(acked_by, ?) WHERE id = ?",
                    (now, regulator, note, now, regulator, problem_id),
                )
            return _row(tx.one(f"SELECT {_COLS} FROM problems WHERE id = ?", (problem_id,)))
