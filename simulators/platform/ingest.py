"""Ingest: a ``DataExchangeReq`` in, per-record verdicts out, committed before the answer.

Order of work for one envelope (XML or its JSON form):

0. a streaming gate (:mod:`.envelope_gate`) refuses, before anything is parsed in full, an envelope with more
   records than the profile allows, an absurdly long header element or field, or a NodeId without a key;
1. parse and check with the profile (``p.envelope.parse``: hostile XML,
   envelope elements, NodeId, RequestTime window, VerifyCode with the node's
   key in constant time, Index, Count, DataDate, every record validated);
2. records of another node are rejected (reason 2008, see :mod:`.recordmap`); records naming an
   operator under a node registered here that is not itself registered are rejected (reason 2010,
   PLAT-REG-01; :meth:`~.registry.Registry.unregistered_operators`); a failed test from a node that may not
   stop trade, or for a batch it never received, is rejected (reason 2012, :meth:`.StopTrade.refusal`);
3. one write transaction (shared with concurrent envelopes, each in its own savepoint: group commit,
   :mod:`.storage.groupcommit`): the envelope key goes into ``requests`` (the replay
   guard: durable, so it survives a restart, and written in the same
   transaction as the records, so an envelope whose commit failed is not
   remembered and its retry is not mistaken for a replay; the in-memory
   :class:`~profiles.envelope.ReplayGuard` is not used for that reason), every acceptable record is inserted
   with ``ON CONFLICT DO NOTHING`` on its identity (``duplicate`` if it was
   there), certificate links, daily statistics, the sellers of the day (scale
   usage), node last-upload time and the stop-trade hooks are written; then COMMIT (one fsync for the group);
4. only then the ``DataExchangeResp`` is built and returned.

Records are stored in their canonical form (:meth:`profiles.records.RecordCatalog.canonical`: aliases
resolved, dates yyyyMMdd, enum words as codes, 13.8000 as 13.80), the form as sent kept beside it in
``records.original`` when it differs (issue 12: normalise on ingest, original kept).  The response
answers every finding of every record (rule, field, severity, zh, en), warnings included.

If anything fails before COMMIT nothing is stored and the node gets reason
1199 (retry later).  A record with the identity of a stored one but different
content is answered ``duplicate`` with a message saying the content differs
(the stored version is kept; the profile has no reason code for it).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from profiles.envelope import EnvelopeResult, Response
from profiles.profile import Profile

from . import logs
from .clock import now_ms, parse_cst
from .envelope_gate import field_cap, gate
from .recordmap import Facts, RecordMap
from .registry import Registry
from .stoptrade import StopTrade
from .storage import Store, Tx

#: HTTP status for an envelope refused as a whole, by reason code
STATUS = {
    "1001": 400,
    "1002": 400,
    "1003": 413,
    "1101": 400,
    "1102": 400,
    "1103": 400,
    "1104": 400,
    "1105": 401,
    "1106": 400,
    "1107": 400,
    "1110": 409,
    "1111": 401,
    "1199": 503,
}


@dataclass(slots=True)
class Outcome:
    status: int
    body: bytes
    media_type: str
    code: str
    node_id: str | None
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0


@functools.lru_cache(maxsize=1024)
def _day_start_ms(data_date: str) -> int | None:
    """Start of the day yyyyMMdd in CST, ms (cached: every record of a day asks for the same one)."""
    return parse_cst(data_date, "%Y%m%d")


#: an accepted record of an envelope: (position, canonical record, facts, business date)
Row = tuple[int, dict[str, str], Facts, str]
#: a row first of its identity in the envelope, with its body's sha256 and the body: (… , sha, body)
FreshRow = tuple[int, dict[str, str], Facts, str, str, str]
#: position -> (reason code, zh, [en, rule]): a record refused by the platform's own checks
Overrides = dict[int, tuple[str, ...]]


def _dumps(rec: dict[str, str]) -> str:
    return json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class Ingestor:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        profile: Profile,
        recmap: RecordMap,
        stoptrade: StopTrade,
        grace_s: int,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.spec = profile.envelope
        self.catalog = profile.records
        self.recmap = recmap
        self.stoptrade = stoptrade
        self.grace_ms = int(grace_s) * 1000
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self._last_prune = 0
        #: sale record type -> (seller field, stall field or "", issuer field or ""): the scale usage rate's
        #: input (PLAT-KPI-01); see :meth:`_seller`
        self.sales = {
            t: (v["seller"], v.get("stall", ""), v.get("issuer", ""))
            for t, v in recmap.rules.get("scale_usage", {}).get("sales", {}).items()
        }
        self.codes = profile.codes
        self._prune_lock = threading.Lock()
        self._field_cap = field_cap(profile)
        #: the streaming pre-parse check ``gate(spec, data, key_of, field_chars)`` (:func:`.envelope_gate.gate`);
        #: a public seam: a caller may replace it on the instance before serving
        self.gate = gate

    # -- helpers ---------------------------------------------------------------
    def _deadline_ms(self, data_date: str) -> int | None:
        start = _day_start_ms(data_date) if isinstance(data_date, str) else None
        return None if start is None else start + 86_400_000 + self.grace_ms

    def answer(self, resp: Response, fmt: str, status: int, node: str | None) -> Outcome:
        """The HTTP outcome of response ``resp`` (body in ``fmt``, ``status``, tallies); every upload's answer
        passes here (a public seam: a caller may wrap it on the instance)."""
        body = self.spec.build_response(resp, fmt)
        media = "application/json" if fmt == "json" else "application/xml"
        t = resp.tally()
        return Outcome(status, body, media, resp.code, node, t["accepted"], t["duplicate"], t["rejected"])

    def refuse(self, code: str, fmt: str = "xml", header: dict[str, str] | None = None) -> Outcome:
        resp = self.spec.refuse(code, self.clock(), header)
        return self.answer(resp, fmt, STATUS.get(code, 400), (header or {}).get("NodeId"))

    # -- the work ----------------------------------------------------------------
    def ingest(self, data: bytes) -> Outcome:
        now = self.clock()
        lookups: dict[str, bool] = {}
        keys: dict[str, str | None] = {}

        def key_of(node_id: str) -> str | None:
            # the gate and the parse both ask: one registry read per envelope (the key of this request)
            if node_id not in keys:
                keys[node_id] = self.registry.current_key(node_id)
                lookups[node_id] = keys[node_id] is not None
            return keys[node_id]

        early = self.gate(self.spec, data, key_of, self._field_cap)  # record count and sizes, before the full parse
        if early is not None:
            fmt = "xml" if data.lstrip()[:1] == b"<" else "json"
            logs.event(
                "envelope_refused",
                logging.WARNING,
                node=early.node_id,
                code=early.code,
                rule=early.finding.rule,
                field=early.finding.field,
            )
            return self.refuse(early.code, fmt, {"NodeId": early.node_id} if early.node_id else None)
        res = self.spec.parse(data, key=key_of, now=now)
        fmt = res.format
        node = res.node_id
        if not res.envelope_ok:
            errs = [f for f in res.findings if f.severity == "error"]
            if node in lookups and not lookups[node] and any(f.rule == "TRAN-ENV-05" for f in errs):
                out = self.refuse("1111", fmt, res.header)
            else:
                resp = self.spec.respond(res, now)
                out = self.answer(resp, fmt, STATUS.get(resp.code, 400), node)
            logs.event(
                "envelope_refused", logging.WARNING, node=node, code=out.code, rule=errs[0].rule, field=errs[0].field
            )
            return out
        rt_name = res.record_type
        # a parse without errors had NodeId and a known Index (required header elements, TRAN-ENV-01/06)
        assert node is not None and rt_name is not None
        data_date_env = res.header.get("DataDate", "")
        overrides: Overrides = {}
        originals: dict[int, dict[str, str]] = {}  # position -> the record as sent, when its canonical form differs
        rows: list[Row] = []
        for r, rf in zip(res.records, res.record_findings):
            if any(f.severity == "error" for f in rf):
                continue
            rec = self.catalog.canonical(rt_name, r.record)
            facts = self.recmap.facts(rt_name, rec, node)
            if facts.foreign:
                overrides[r.position] = ("2008", facts.foreign[1], facts.foreign[2], "PLAT-SEC-02")
                continue
            rtype = self.catalog.types[rt_name]
            if rec != r.record:
                originals[r.position] = r.record
            rows.append((r.position, rec, facts, rtype.business_date(rec) or data_date_env))
        rows = self._registered_operators_only(rows, overrides)
        rows = self._authorised_stops(node, rt_name, rows, overrides)
        try:
            duplicates, conflicts = self.commit(node, res, rt_name, rows, originals)
        except _Replay:
            out = self.refuse("1110", fmt, res.header)
            logs.event("envelope_refused", logging.WARNING, node=node, code="1110", rule="TRAN-ENV-10")
            return out
        except Exception as exc:  # storage failure: nothing committed, the node must retry
            logs.event("ingest_failed", logging.ERROR, node=node, error=f"{type(exc).__name__}")
            logging.getLogger(logs.LOGGER).debug("ingest failure", exc_info=True)
            return self.refuse("1199", fmt, res.header)
        resp = self.spec.respond(res, now, duplicates=duplicates, overrides=overrides)
        for rv in resp.results:
            if rv.seq in conflicts:
                rv.message = "与已存记录标识相同但内容不同，保留已存版本"
                rv.message_en = "same identity as a stored record but different content; the stored version is kept"
        out = self.answer(resp, fmt, 200, node)
        logs.event(
            "envelope",
            node=node,
            index=res.index,
            count=len(res.records),
            accepted=out.accepted,
            duplicate=out.duplicate,
            rejected=out.rejected,
        )
        self._maybe_prune()
        return out

    def _registered_operators_only(self, rows: list[Row], overrides: Overrides) -> list[Row]:
        """Rows whose operator fields name no unregistered operator; the others go to ``overrides`` (2010)."""
        named = {code for _pos, _rec, facts, _d in rows for _f, code in facts.operators}
        unknown = self.registry.unregistered_operators(named) if named else set()
        if not unknown:
            return rows
        kept: list[Row] = []
        for row in rows:
            bad = next(((f, c) for f, c in row[2].operators if c in unknown), None)
            if bad is None:
                kept.append(row)
            else:
                overrides[row[0]] = (
                    "2010",
                    f"{bad[0]}「{bad[1]}」未在本平台备案",
                    f"{bad[0]} {bad[1]!r} is not registered at this platform",
                    "PLAT-REG-01",
                )
        return kept

    def _authorised_stops(self, node: str, rtype: str, rows: list[Row], overrides: Overrides) -> list[Row]:
        """Rows without a failed test the node may not send (:meth:`.StopTrade.refusal`; reason 2012)."""
        failing = [row for row in rows if self.stoptrade.is_failure(rtype, row[1])]
        if not failing:
            return rows
        n = self.registry.node(node)
        role = self.recmap.role_of(n.node_type) if n else None
        refused: set[int] = set()
        with self.store.read() as tx:
            for pos, rec, facts, _d in failing:
                why = self.stoptrade.refusal(tx, node, role, rec, facts.received, rtype)
                if why is not None:
                    overrides[pos] = ("2012", why[0])
                    refused.add(pos)
        return [row for row in rows if row[0] not in refused]

    def _seller(self, sale: tuple[str, str, str], rec: dict[str, str]) -> str | None:
        """The seller of sale record ``rec`` (canonical form): its seller field; when the record's form carries
        none (Guangzhou's wholesale detail), the operator that issued the trace code in its issuer field (the
        code's operator part), if that is a valid trace code; else None (the sale counts for no scale)."""
        seller_field, _stall, issuer = sale
        if rec.get(seller_field):
            return rec[seller_field]
        code = rec.get(issuer) if issuer else None
        return self.codes.operator_of(code) if code is not None and self.codes.is_valid(code, "trace") else None

    def commit(
        self,
        node: str,
        res: EnvelopeResult,
        rtype: str,
        rows: list[Row],
        originals: dict[int, dict[str, str]] | None = None,
    ) -> tuple[set[int], set[int]]:
        """Store the accepted ``rows`` ``(position, record, facts, business date)`` of one envelope in one
        transaction; returns (duplicate positions, conflicting positions).  Raises on a replay or a storage
        failure (nothing stored).  A public seam: a caller may wrap it on the instance."""
        originals = originals or {}
        request_id = uuid.uuid4().hex[:16]
        sale = self.sales.get(rtype)

        def work(tx: Tx) -> tuple[set[int], set[int]]:
            duplicates: set[int] = set()
            conflicts: set[int] = set()
            seen_keys: dict[str, str] = {}
            stats: dict[tuple[str, str], list[int]] = {}
            sellers: dict[tuple[str, str, str], int] = {}  # (operator, stall, business date) -> accepted sales
            t = now_ms()  # taken under the write lock: commit order = time order (the feed cursor relies on it)
            n = tx.execute(
                "INSERT INTO requests (node_id, request_time, verify_code, received_ms, accepted,"
                " duplicate, rejected) VALUES (?, ?, ?, ?, 0, 0, 0)"
                " ON CONFLICT (node_id, request_time, verify_code) DO NOTHING",
                (node, res.request_time, res.header.get("VerifyCode", "").lower(), t),
            )
            if n == 0:
                raise _Replay()
            fresh: list[
                FreshRow
            ] = []  # the first of each identity in the envelope, in order: (pos, rec, facts, ddate, sha, body)
            for pos, rec, facts, ddate in rows:
                body = _dumps(rec)
                sha = hashlib.sha256(body.encode()).hexdigest()
                if facts.rkey in seen_keys:  # the same record twice in one envelope
                    duplicates.add(pos)
                    if seen_keys[facts.rkey] != sha:
                        conflicts.add(pos)
                    continue
                seen_keys[facts.rkey] = sha
                fresh.append((pos, rec, facts, ddate, sha, body))
            for run in self._runs(rtype, fresh):
                ids = self._insert_run(tx, node, rtype, run, t, request_id, originals, duplicates, conflicts)
                stored = [
                    (pos, rec, facts, ddate, ids[facts.rkey])
                    for pos, rec, facts, ddate, _s, _b in run
                    if facts.rkey in ids
                ]
                tx.executemany(
                    "INSERT INTO record_links (record_id, node_id, kind, value) VALUES (?, ?, ?, ?)",
                    [(rid, node, k, v) for _p, _r, facts, _d, rid in stored for k, v in facts.links],
                )
                known: dict[str, str] | None = self.stoptrade.stopped(
                    tx, {facts.received for _p, _r, facts, _d, _i in stored if facts.received}
                )
                for pos, rec, facts, ddate, rid in stored:
                    agg = stats.setdefault((ddate, facts.goods_code or ""), [0, 0, 0])
                    agg[0] += 1
                    agg[1] += facts.weight_g or 0
                    deadline = self._deadline_ms(ddate)
                    agg[2] += 1 if deadline is not None and t <= deadline else 0
                    seller = self._seller(sale, rec) if sale else None
                    if seller and sale:  # (a seller is found only for a sale type)
                        k = (seller, rec.get(sale[1], "") if sale[1] else "", ddate)
                        sellers[k] = sellers.get(k, 0) + 1
                    if self.stoptrade.is_failure(rtype, rec):  # the last of its run: the stop changes what is known
                        self.stoptrade.broadcast(tx, node, rid, rec, facts.received, t)
                        known = None
                    self.stoptrade.on_record(tx, node, rid, facts.received, facts.own_code, t, known)
            with tx.pipeline():  # the rest reads no answer: one round trip on PostgreSQL
                self._write_tallies(tx, node, res, rtype, t, stats, sellers, duplicates)
            return duplicates, conflicts

        # group commit: concurrent envelopes share one transaction and one fsync; this returns after COMMIT
        result: tuple[set[int], set[int]] = self.store.grouped(work)
        return result

    @staticmethod
    def _write_tallies(
        tx: Tx,
        node: str,
        res: EnvelopeResult,
        rtype: str,
        t: int,
        stats: dict[tuple[str, str], list[int]],
        sellers: dict[tuple[str, str, str], int],
        duplicates: set[int],
    ) -> None:
        """The envelope's daily statistics, sellers of the day, request tallies and the node's upload time."""
        tx.executemany(
            "INSERT INTO daily_stats (node_id, data_date, rtype, goods_code, records, weight_g, timely, updated_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, data_date, rtype, goods_code) DO UPDATE SET"
            " records = daily_stats.records + excluded.records, weight_g = daily_stats.weight_g + excluded.weight_g,"
            " timely = daily_stats.timely + excluded.timely, updated_ms = excluded.updated_ms",
            [(node, d, rtype, g, a[0], a[1], a[2], t) for (d, g), a in sorted(stats.items())],
        )
        tx.executemany(
            "INSERT INTO seller_days (node_id, operator_id, stall, data_date, records) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (node_id, operator_id, stall, data_date) DO UPDATE SET"
            " records = seller_days.records + excluded.records",
            [(node, o, st, d, n) for (o, st, d), n in sorted(sellers.items())],
        )
        accepted = sum(a[0] for a in stats.values())
        tx.execute(
            "UPDATE requests SET accepted = ?, duplicate = ?, rejected = ? WHERE node_id = ?"
            " AND request_time = ? AND verify_code = ?",
            (
                accepted,
                len(duplicates),
                len(res.records) - accepted - len(duplicates),
                node,
                res.request_time,
                res.header.get("VerifyCode", "").lower(),
            ),
        )
        tx.execute("UPDATE nodes SET last_upload_ms = ?, last_seen_ms = ? WHERE node_id = ?", (t, t, node))

    def _runs(self, rtype: str, fresh: list[FreshRow]) -> list[list[FreshRow]]:
        """``fresh`` cut after each failed test: within a run the records can be inserted together before the
        stop-trade hooks run in order (those hooks read no record), while a failed test's broadcast must see
        exactly the records before it and itself, as if stored one by one."""
        runs: list[list[FreshRow]] = []
        run: list[FreshRow] = []
        for row in fresh:
            run.append(row)
            if self.stoptrade.is_failure(rtype, row[1]):
                runs.append(run)
                run = []
        return runs + [run] if run else runs

    @staticmethod
    def _insert_run(
        tx: Tx,
        node: str,
        rtype: str,
        run: list[FreshRow],
        t: int,
        request_id: str,
        originals: dict[int, dict[str, str]],
        duplicates: set[int],
        conflicts: set[int],
    ) -> dict[str, int]:
        """Insert the records of ``run`` (distinct identities) in multi-row statements; returns ``{rkey: id}`` of
        those stored.  The others had a stored twin: their positions go to ``duplicates``, and to ``conflicts``
        when the stored content differs (one query for all of them)."""
        rows = [
            (
                node,
                rtype,
                facts.rkey,
                ddate,
                facts.own_code,
                facts.received,
                facts.batch_local,
                facts.goods_code,
                facts.weight_g,
                sha,
                body,
                t,
                request_id,
                _dumps(originals[pos]) if pos in originals else None,
            )
            for pos, _rec, facts, ddate, sha, body in run
        ]
        ids = dict(
            (rkey, rid)
            for rid, rkey in tx.insert_values(
                "INSERT INTO records (node_id, rtype, rkey, data_date, own_code, upstream, batch_local,"
                " goods_code, weight_g, body_sha, body, received_ms, request_id, original)",
                rows,
                "ON CONFLICT (node_id, rtype, rkey) DO NOTHING RETURNING id, rkey",
            )
        )
        twins = [(pos, facts.rkey, sha) for pos, _rec, facts, _d, sha, _b in run if facts.rkey not in ids]
        if twins:
            old = dict(
                tx.all_in(
                    "SELECT rkey, body_sha FROM records WHERE node_id = ? AND rtype = ? AND rkey IN ({marks})",
                    (node, rtype),
                    [rkey for _p, rkey, _s in twins],
                )
            )
            for pos, rkey, sha in twins:
                duplicates.add(pos)
                if old.get(rkey) != sha:
                    conflicts.add(pos)
        return ids

    def _maybe_prune(self) -> None:
        """Forget envelope keys older than twice the replay memory (they fail the clock window anyway)."""
        t = now_ms()
        if t - self._last_prune < 60_000 or not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._last_prune = t
            horizon = t - int(self.spec.replay_seconds * 2000)
            with self.store.write() as tx:
                tx.execute("DELETE FROM requests WHERE received_ms < ?", (horizon,))
        except Exception:  # pruning is housekeeping: never fail an answered upload for it
            pass
        finally:
            self._prune_lock.release()


class _Replay(Exception):
    pass
