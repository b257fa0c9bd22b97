"""Handheld uploads into the node: the profile's ``DataExchangeReq``, answered per record.

A handheld terminal (:class:`simulators.devices.handheld.HandheldTerminal`) posts
the same envelope it would post to a platform, signed with the node's key, to the
node (``POST /api/v1/exchange`` on the node's HTTP port).  The node checks it with
the profile exactly as the platform does (``p.envelope.parse``: hostile XML,
header, clock window, VerifyCode in constant time, replay, every record) and
answers a ``DataExchangeResp`` whose verdicts mean:

* ``accepted``  – the record is committed in the node's outbox (it will reach the platform);
* ``duplicate`` – the same record (same type and content) was already in the outbox;
* ``rejected``  – the record fails the profile's checks (its reason code) or does not
  belong to this node (2008, the platform's own rule, :mod:`simulators.platform.recordmap`; a seller of another
  node is this node's only when configured among its operators: a guest, NODE-WHOL-01).

The answer is sent only after the outbox transaction committed.  Envelopes for
another NodeId are refused whole (1111).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from dataclasses import dataclass

from simulators.platform.ingest import STATUS
from simulators.platform.envelope_gate import field_cap, gate
from simulators.platform.recordmap import RecordMap

from . import logs
from .ledger import RTYPE as LEDGER_RTYPE, CertificateLedger
from .outbox import Item, Outbox, content_key
from .sales import in_catalogue_order


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    media_type: str
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0


class HandheldIntake:
    def __init__(self, config, outbox: Outbox, profile, clock=None):
        self.cfg = config
        self.outbox = outbox
        self.spec = profile.envelope
        self.catalog = profile.records
        # NODE-WHOL-01: an operator of another node configured here (its card, its home code) trades here as a guest
        self.recmap = RecordMap(profile, guests=lambda _node, code: code in config.operators)
        self.guard = self.spec.replay_guard()
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.ledger = CertificateLedger(outbox)  #: NODE-WHOL-03, wholesale entries without a voucher
        self._admit = threading.Lock()  #: one envelope at a time through the ledger
        self._field_cap = field_cap(profile)

    def _answer(self, resp, fmt: str, status: int) -> Answer:
        t = resp.tally()
        return Answer(
            status,
            self.spec.build_response(resp, fmt),
            "application/json" if fmt == "json" else "application/xml",
            t["accepted"],
            t["duplicate"],
            t["rejected"],
        )

    def refuse(self, code: str, fmt: str = "xml") -> Answer:
        return self._answer(self.spec.refuse(code, self.clock()), fmt, STATUS.get(code, 400))

    def accept(self, data: bytes) -> Answer:
        """Check one envelope and queue its good records.  Never raises for bad input."""
        now = self.clock()
        node = self.cfg.node_code
        key_of = lambda n: self.cfg.key if n == node else None  # noqa: E731
        early = gate(self.spec, data, key_of, self._field_cap)  # record count and sizes, before the full parse
        if early is not None:
            logs.event("handheld_refused", logging.WARNING, code=early.code, rule=early.finding.rule)
            return self.refuse(early.code, "xml" if data.lstrip()[:1] == b"<" else "json")
        res = self.spec.parse(data, key=key_of, now=now, replay=self.guard)
        if not res.envelope_ok:
            errs = [f for f in res.findings if f.severity == "error"]
            if res.node_id and res.node_id != node and any(f.rule == "TRAN-ENV-05" for f in errs):
                out = self._answer(self.spec.refuse("1111", now, res.header), res.format, STATUS["1111"])
            else:
                resp = self.spec.respond(res, now)
                out = self._answer(resp, res.format, STATUS.get(resp.code, 400))
            logs.event("handheld_refused", logging.WARNING, code=self.spec.reason_for(errs[0]), rule=errs[0].rule)
            return out
        with self._admit:
            return self._admit_records(res, now, node)

    def _admit_records(self, res, now, node: str) -> Answer:
        rtype = self.catalog.types[res.record_type]
        overrides: dict[int, tuple[str, str]] = {}
        items, positions = [], []
        ledger = rtype.name == LEDGER_RTYPE
        if ledger:
            self.ledger.refresh()
        for r, rf in zip(res.records, res.record_findings):
            if any(f.severity == "error" for f in rf):
                continue
            # stored in canonical form (aliases resolved, yyyyMMdd dates), as the platform stores it: a dialect's
            # handheld sends its city's form, and the node's own logic (batch push by entry date) reads canonical
            canonical = self.catalog.canonical(rtype.name, r.record)
            foreign = self.recmap.facts(rtype.name, canonical, node).foreign
            if foreign:
                overrides[r.position] = ("2008", foreign[1])
                continue
            refusal = self.ledger.check(canonical) if ledger else None
            if refusal:
                overrides[r.position] = refusal
                continue
            rec = in_catalogue_order(rtype, canonical)
            ddate = rtype.business_date(rec) or res.header.get("DataDate", "")
            items.append(Item(rtype.name, rec, ddate, "handheld", content_key(rtype.name, rec)))
            positions.append(r.position)
        try:
            results = self.outbox.add(items)
        except Exception as exc:  # storage failure: nothing queued, the handheld must retry
            logs.event("handheld_store_failed", logging.ERROR, error=type(exc).__name__)
            return self.refuse("1199", res.format)
        dups = [pos for pos, (state, _) in zip(positions, results) if state == "duplicate"]
        out = self._answer(self.spec.respond(res, now, duplicates=dups, overrides=overrides), res.format, 200)
        logs.event(
            "handheld_upload",
            index=res.index,
            count=len(res.records),
            accepted=out.accepted,
            duplicate=out.duplicate,
            rejected=out.rejected,
        )
        return out
