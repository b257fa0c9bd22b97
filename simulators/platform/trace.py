"""The chain behind a 20-digit trace code, from the consumer's purchase back to the origin.

Walk (records as stored; see :mod:`.recordmap` for own/upstream/batch fields):

1. the records that *issued* the code (``own_code``), at the node the code's
   first 9 digits name (CODE-TRACE-02);
2. at that node, the records under which the goods *arrived* (``upstream``
   equal to the issuers' upstream code, or the same local ``batch_id``),
   including wholesale test results of that batch;
3. continue with the upstream trace code: issuers at the upstream node, and so on;
4. at a slaughterhouse, certificates join the meat-out lines to the
   quarantine records and those to the live-animal intake (``quarantine_id``);
5. where no upstream code exists the chain ends at an origin: the intake's or
   the entry's ``area_origin_id`` / farm / production base, with the source identifiers
   those records carry (源头衔接: the intake's 产地检疫证号 and ear-tag range, the entry's
   产地证明号 and production base id), one ``sources`` item per farm or base.

Bounded: at most ``MAX_HOPS`` codes are followed and ``MAX_ROWS`` records read
per step, so a malicious cycle or a huge fan-out cannot hang a query.  The API
answers one page of it (:func:`page`): every hop, but at most ``limit`` records
(counted across the chain in order), with ``next_cursor`` for the next page.

Answers: :meth:`Tracer.trace` returns a dict with ``status``: ``found``,
``unknown`` (a valid code nobody issued) or ``invalid`` (findings from
``p.codes``: the profile's answer for a malformed code).
"""

from __future__ import annotations

import json

from .clock import cst_iso
from .storage import Store

MAX_HOPS = 16
MAX_ROWS = 200
#: records in one answer of the trace API: default and maximum page size (issue 13, finding 10)
PAGE_DEFAULT = 100
PAGE_MAX = 500

#: stage labels per record type (zh, en)
STAGES = {
    "retail_market_tran_info_summ": ("零售销售", "retail sale"),
    "retail_market_in_info_base": ("零售市场进场", "retail market entry"),
    "retail_market_in_info_detail": ("零售市场进场", "retail market entry"),
    "super_market_in_info_base": ("超市进场", "supermarket entry"),
    "super_market_in_info_detail": ("超市进场", "supermarket entry"),
    "team_buy_acceptance_info": ("团体消费验收", "canteen acceptance"),
    "market_tran_info_base": ("批发交易", "wholesale transaction"),
    "market_tran_info_detail": ("批发交易", "wholesale transaction"),
    "market_in_info_base": ("批发市场进场", "wholesale market entry"),
    "market_in_info_detail": ("批发市场进场", "wholesale market entry"),
    "qmarket_detection_info": ("批发市场检测", "wholesale market test"),
    "meat_out_info_base": ("肉品出厂", "meat out of slaughterhouse"),
    "meat_out_info_detail": ("肉品出厂", "meat out of slaughterhouse"),
    "quarantine_info": ("屠宰检疫检验", "slaughterhouse quarantine"),
    "animal_in_info": ("生猪进厂", "live animal intake"),
}
_COLS = "id, node_id, rtype, data_date, own_code, upstream, batch_local, goods_code, body, received_ms"


def _rec(row) -> dict:
    rid, node, rtype, ddate, own, up, local, goods, body, rcv = row
    return {
        "id": rid,
        "node_id": node,
        "type": rtype,
        "data_date": ddate,
        "own_code": own,
        "upstream": up,
        "batch_id": local,
        "goods_code": goods,
        "fields": json.loads(body),
        "received_at": cst_iso(rcv),
    }


class Tracer:
    def __init__(self, store: Store, profile):
        self.store = store
        self.profile = profile

    def _node_info(self, tx, node_id: str, cache: dict) -> dict:
        if node_id not in cache:
            row = tx.one("SELECT name, node_type FROM nodes WHERE node_id = ?", (node_id,))
            region = self.profile.regions.full_name(node_id[:6]) if node_id[:6] in self.profile.regions else None
            cache[node_id] = {
                "node_id": node_id,
                "name": row[0] if row else None,
                "node_type": row[1] if row else None,
                "region": region,
            }
        return cache[node_id]

    def _hop(self, tx, kind: str, code: str | None, recs: list[dict], cache: dict) -> dict:
        first = recs[0]
        zh, en = STAGES.get(first["type"], (first["type"], first["type"]))
        return {
            "kind": kind,
            "stage_zh": zh,
            "stage_en": en,
            "code": code,
            "node": self._node_info(tx, first["node_id"], cache),
            "records": recs,
        }

    def _origin(self, recs: list[dict]) -> dict | None:
        """The origin hop from the records that name one (源头衔接): one ``source`` per distinct farm or base with
        its certificate (产地检疫证号 of an intake, 产地证明号 of a vegetable entry), ear-tag range and base id;
        the first source's values are repeated at the top of the hop."""
        sources, seen = [], set()
        for r in recs:
            f = r["fields"]
            if not (f.get("area_origin_id") or f.get("area_origin_name") or f.get("base_name") or f.get("farm_name")):
                continue
            code = f.get("area_origin_id")
            region = self.profile.regions.full_name(code) if code and code in self.profile.regions else None
            cert_kind = "animal_quarantine" if f.get("quarantine_id") else "veg_origin" if f.get("prov_id") else None
            src = {
                "region_code": code,
                "region": region or f.get("area_origin_name"),
                "place": f.get("farm_name") or f.get("base_name"),
                "certificate": f.get("quarantine_id") or f.get("prov_id"),
                "certificate_kind": cert_kind,
                "ear_tag_start": f.get("ear_tag_start"),
                "ear_tag_end": f.get("ear_tag_end"),
                "base_id": f.get("base_id"),
                "from_record": r["id"],
            }
            key = tuple(v for k, v in src.items() if k != "from_record")
            if key not in seen:
                seen.add(key)
                sources.append(src)
        if not sources:
            return None
        return {"kind": "origin", "stage_zh": "产地", "stage_en": "origin", **sources[0], "sources": sources}

    def trace(self, code: str) -> dict:
        findings = self.profile.codes.findings(code, "trace")
        if findings:
            return {"code": code, "status": "invalid", "findings": [f.to_dict() for f in findings], "chain": []}
        hops: list[dict] = []
        cache: dict = {}
        with self.store.read() as tx:
            frontier, seen = [code], set()
            while frontier and len(seen) < MAX_HOPS:
                c = frontier.pop(0)
                if c in seen:
                    continue
                seen.add(c)
                issuers = [
                    _rec(r)
                    for r in tx.all(
                        f"SELECT {_COLS} FROM records WHERE own_code = ? AND node_id = ? ORDER BY id LIMIT ?",
                        (c, c[:9], MAX_ROWS),
                    )
                ]
                if not issuers:
                    if c == code:
                        return {"code": code, "status": "unknown", "findings": [], "chain": []}
                    hops.append(
                        {
                            "kind": "missing",
                            "stage_zh": "上游记录缺失",
                            "stage_en": "upstream record missing",
                            "code": c,
                            "node": self._node_info(tx, c[:9], cache),
                            "records": [],
                        }
                    )
                    continue
                hops.append(self._hop(tx, "issued", c, issuers, cache))
                node = issuers[0]["node_id"]
                ups = sorted({r["upstream"] for r in issuers if r["upstream"]})
                locals_ = sorted({r["batch_id"] for r in issuers if not r["upstream"] and r["batch_id"]})
                entries, got = [], set()
                for u in ups:
                    if len(entries) >= MAX_ROWS:  # a bound per hop, not per upstream code: no fan-out blow-up
                        break
                    for r in tx.all(
                        f"SELECT {_COLS} FROM records WHERE upstream = ? AND node_id = ?"
                        " AND own_code IS NULL ORDER BY id LIMIT ?",
                        (u, node, MAX_ROWS),
                    ):
                        if r[0] not in got:
                            got.add(r[0])
                            entries.append(_rec(r))
                for b in locals_:
                    if len(entries) >= MAX_ROWS:
                        break
                    for r in tx.all(
                        f"SELECT {_COLS} FROM records WHERE batch_local = ? AND node_id = ?"
                        " AND own_code IS NULL ORDER BY id LIMIT ?",
                        (b, node, MAX_ROWS),
                    ):
                        if r[0] not in got:
                            got.add(r[0])
                            entries.append(_rec(r))
                            if r[5] and r[5] not in ups:
                                ups.append(r[5])
                if entries:
                    hops.append(self._hop(tx, "received", ups[0] if ups else None, entries, cache))
                links = [
                    (k, v)
                    for r in issuers
                    for k, v in r["fields"].items()
                    if k in ("quarantine_animal_products_id", "inspection_meat_id") and v
                ]
                # a code the node issued itself for goods it received is its own batch number, not an
                # upstream node's code (e.g. a wholesale market numbering an origin delivery): the chain
                # ends at that entry's origin instead of reporting the code as a missing upstream record
                foreign = [u for u in ups if u[:9] != node]
                if links:
                    hops.extend(self._slaughter(tx, node, links, cache))
                elif not foreign:
                    origin = self._origin(entries + issuers)
                    if origin:
                        hops.append(origin)
                frontier.extend(u for u in foreign if u not in seen)
        return {
            "code": code,
            "status": "found",
            "findings": [],
            "chain": hops,
            "complete": bool(hops)
            and hops[-1]["kind"] in ("origin", "intake")
            and not any(h["kind"] == "missing" for h in hops),
        }

    def _slaughter(self, tx, node: str, links: list[tuple[str, str]], cache: dict) -> list[dict]:
        """Meat-out certificates -> quarantine records -> live-animal intake (by quarantine_id) -> origin."""
        out = []
        q_ids: set[int] = set()
        for kind, value in links:
            for (rid,) in tx.all(
                "SELECT l.record_id FROM record_links l JOIN records r ON r.id = l.record_id"
                " WHERE l.value = ? AND l.kind = ? AND l.node_id = ? AND r.rtype = ? LIMIT ?",
                (value, kind, node, "quarantine_info", MAX_ROWS),
            ):
                q_ids.add(rid)
        quarantine = [
            _rec(r) for r in (tx.one(f"SELECT {_COLS} FROM records WHERE id = ?", (i,)) for i in sorted(q_ids)) if r
        ]
        if quarantine:
            out.append(self._hop(tx, "quarantine", None, quarantine, cache))
        intake_ids: set[int] = set()
        for q in quarantine:
            qid = q["fields"].get("quarantine_id")
            if qid:
                for (rid,) in tx.all(
                    "SELECT l.record_id FROM record_links l JOIN records r ON r.id = l.record_id"
                    " WHERE l.value = ? AND l.kind = 'quarantine_id' AND l.node_id = ?"
                    " AND r.rtype = ? LIMIT ?",
                    (qid, node, "animal_in_info", MAX_ROWS),
                ):
                    intake_ids.add(rid)
        intake = [
            _rec(r)
            for r in (tx.one(f"SELECT {_COLS} FROM records WHERE id = ?", (i,)) for i in sorted(intake_ids))
            if r
        ]
        if intake:
            out.append(self._hop(tx, "intake", None, intake, cache))
            origin = self._origin(intake)
            if origin:
                out.append(origin)
        return out


def page(answer: dict, cursor: int = 0, limit: int = PAGE_DEFAULT) -> dict:
    """One page of a :meth:`Tracer.trace` answer: every hop, but only the records numbered ``cursor`` to
    ``cursor + limit - 1`` across the chain (in hop order).  Adds ``records_total``, ``cursor``, ``limit`` and
    ``next_cursor`` (a string, ``None`` on the last page).  The answer given is not modified."""
    total, chain, seen = 0, [], 0
    for hop in answer.get("chain", []):
        recs = hop.get("records")
        if recs is None:
            chain.append(hop)
            continue
        lo, hi = max(cursor - seen, 0), max(cursor + limit - seen, 0)
        chain.append({**hop, "records": recs[lo:hi], "records_in_hop": len(recs)})
        seen += len(recs)
    total = seen
    nxt = cursor + limit
    return {
        **answer,
        "chain": chain,
        "records_total": total,
        "cursor": str(cursor),
        "limit": limit,
        "next_cursor": str(nxt) if nxt < total else None,
    }
