"""The truth of what the harness sent and the platform acknowledged, counted as daily statistics must count it.

:class:`AcknowledgedLedger` is fed every envelope the harness uploaded with the platform's answer
(:meth:`AcknowledgedLedger.add`) and answers, per business date, the cells
``(node, record type, goods code or "") -> [records, grams]`` the platform's daily statistics must show
(PLAT-KPI-04: "the figures equal the accepted data exactly"):

* only records of an envelope answered ``0000`` and themselves answered ``accepted`` count; a record answered
  ``duplicate`` (a re-send, or a correction the platform kept the stored version against) adds nothing; a
  ``duplicate`` of a record this run never saw accepted (the platform held it before the run, or it is a correction
  whose identity the ledger cannot tell) makes its day uncertain;
* a record's identity is its node, type and the trace code it issues (when its type issues one), else its whole
  content: a second ``accepted`` of the same identity (a correction the platform took) replaces the first, so a
  record never counts twice;
* its business day is the date of its business-date field as written, in Beijing time (the profile's time zone:
  a record of 23:59:59 and one of 00:00:00 fall on different days), or the envelope's DataDate when the type has
  no such field;
* goods code: ``goods_code`` or ``meat_code``; weight: the ``weight`` field, exact grams of its kg text.

Days an upload the ledger cannot count may have touched (a raw envelope that was not refused outright, an answer
lost to a transport error) are :attr:`AcknowledgedLedger.uncertain` and left out of :meth:`dates`.
:class:`~conformance.uploads.Uploader` feeds a ledger it is given; the platform suite's ``acknowledged`` fixture is
one ledger for the whole run.  Pure bookkeeping: no I/O.  The judge's own reading of the profile (evidence ``profile``), not the platform's code.
"""

from __future__ import annotations

import json
from collections import defaultdict

from conformance.simday import OWN_CODE, grams


class AcknowledgedLedger:
    """Every record the platform acknowledged as new, by identity (see the module docstring)."""

    def __init__(self, profile):
        self.profile = profile
        self.types = profile.records.types
        self._by_id: dict[tuple, tuple[str, str, int]] = {}  # identity (node, type, …) -> (date, goods, grams)
        self.uncertain: set[str] = set()  #: business days an upload the ledger cannot count may have touched

    def uncertain_body(self, body: bytes) -> None:
        """An envelope sent as raw bytes, or one whose answer was lost: the business days it names (its DataDate,
        its records' dates) are left out of the judgement, since what the platform stored of it is unknown."""
        try:
            res = self.profile.envelope.parse(body, validate_records=False)
        except Exception:  # noqa: BLE001 - an unreadable body names no day the ledger could exclude
            return
        if res.header.get("DataDate"):
            self.uncertain.add(res.header["DataDate"])
        for r in res.records:
            rt = self.types.get(r.type)
            d = rt.business_date(r.record) if rt is not None else None
            if d:
                self.uncertain.add(d)

    def add(self, node: str, rtype: str, records: list[dict], answer, data_date: str = "") -> None:
        """Note the records of one envelope of ``node`` with the platform's ``answer`` (:class:`~.uploads.Answer`).

        ``data_date``: the envelope's DataDate (the business day of records whose type has no date field)."""
        if answer.response is None or answer.code != "0000":
            return
        verdict = {r.seq: r.verdict for r in answer.response.results}
        rt = self.types.get(rtype)
        for i, rec in enumerate(records, 1):
            if verdict.get(i) not in ("accepted", "duplicate"):
                continue
            own = OWN_CODE.get(rtype)
            ident = (
                (node, rtype, "code", rec[own])
                if own and rec.get(own)
                else (node, rtype, "body", json.dumps(rec, sort_keys=True, ensure_ascii=False))
            )
            day = (rt.business_date(rec) if rt is not None else None) or data_date
            if verdict[i] == "duplicate":
                if ident not in self._by_id:  # held before this run, or a correction of another identity
                    self.uncertain.add(day)
                continue
            goods = rec.get("goods_code") or rec.get("meat_code") or ""
            self._by_id[ident] = (day, goods, grams(rec.get("weight")) if "weight" in rec else 0)

    def dates(self) -> set[str]:
        """The business dates (yyyyMMdd) of the acknowledged records, without the :attr:`uncertain` ones."""
        return {d for d, _g, _w in self._by_id.values()} - self.uncertain

    def cells(self, date: str) -> dict[tuple[str, str, str], list[int]]:
        """``(node, record type, goods or "") -> [records, grams]`` of the business day ``date``."""
        out: dict = defaultdict(lambda: [0, 0])
        for (node, rtype, *_), (d, goods, g) in self._by_id.items():
            if d == date:
                cell = out[(node, rtype, goods)]
                cell[0] += 1
                cell[1] += g
        return dict(out)
