"""Playing a node against a platform: envelopes (well-formed or deliberately wrong) and their answers.

:func:`envelope` builds a ``DataExchangeReq`` from the profile's own pieces (record XML, payload
digest, VerifyCode recipe) with any header value, element or byte replaced, and *signs what it
sends*: a wrong ``Count`` is signed as the wrong ``Count``, so a platform that refuses it must
refuse it for the ``Count`` (raw mode: negative tests need no validation bypass in the target).
:class:`Uploader` posts bodies and reads the ``DataExchangeResp`` with the profile's response
checker; :class:`Answer` carries what came back, for assertions and their messages.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass, field

import httpx

from profiles.envelope import beijing, format_request_time, payload_digest
from profiles.records import _escape

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
HEADER = ("NodeId", "RequestTime", "VerifyCode", "Index", "Count", "DataDate")


def request_time(spec, offset_s: float = 0.0) -> str:
    """RequestTime of now (+ ``offset_s``) on the Beijing clock."""
    now = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=offset_s)
    return format_request_time(beijing(now, spec.utc_offset))


def envelope(
    profile,
    node: str,
    key: str,
    rtype: str,
    records: list[dict],
    *,
    fmt: str = "xml",
    header: dict | None = None,
    omit: tuple[str, ...] = (),
    extra_xml: str = "",
    declaration: str = DECLARATION,
    encoding: str = "utf-8",
    sign: bool = True,
    payload_type: str | None = None,
) -> bytes:
    """An envelope of ``records`` signed with ``key``; ``header`` overrides any header value.

    The VerifyCode is computed (unless ``sign`` is false or ``header`` gives one) from the header
    values actually sent.  ``payload_type``: the record element name when it should differ from
    ``rtype`` (Index mismatch).  ``encoding`` encodes the text (the declaration says what it says).
    Under a dialect that declares ``[emit]`` the records are written in that city's form
    (:mod:`profiles.forms`), as its nodes send them.
    """
    spec = profile.envelope
    rt = profile.records.types[rtype]
    ptype = payload_type or rtype
    if ptype == rtype and spec.city_form.active:  # a dialect's platform gets that city's record forms
        records = [spec.city_form.write(rtype, r) for r in records]
    h = {"NodeId": node, "RequestTime": request_time(spec), "Index": rt.index, "Count": str(len(records))}
    h["DataDate"] = next((d for d in (rt.business_date(r) for r in records) if d), h["RequestTime"][:8])
    h.update({k: v for k, v in (header or {}).items() if k != "VerifyCode"})
    if sign and "VerifyCode" not in (header or {}):
        h["VerifyCode"] = spec.verify_code(
            key,
            h["NodeId"],
            h["RequestTime"],
            h["Index"],
            h["Count"],
            h["DataDate"],
            payload_digest((ptype, r) for r in records),
        )
    elif "VerifyCode" in (header or {}):
        h["VerifyCode"] = header["VerifyCode"]
    order = [e for e in HEADER if e in h and e not in omit]
    if fmt == "json":
        body = {spec.root: {**{e: h[e] for e in order}, spec.payload: {ptype: records}}}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(encoding)
    heads = "".join(f"<{e}>{_escape(h[e])}</{e}>" for e in order)
    recs = "".join(_record_xml(profile, ptype, r) for r in records)
    text = f"{declaration}<{spec.root}>{heads}{extra_xml}<{spec.payload}>{recs}</{spec.payload}></{spec.root}>"
    return text.encode(encoding)


def _record_xml(profile, rtype: str, rec: dict) -> str:
    if rtype in profile.records.types:
        return profile.records.record_xml(rtype, rec)
    return f"<{rtype}>" + "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in rec.items()) + f"</{rtype}>"


@dataclass
class Answer:
    """One exchange: HTTP status, the parsed response (``None`` if unreadable) and its findings."""

    status: int
    body: bytes
    response: object = None
    findings: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def code(self) -> str | None:
        return self.response.code if self.response is not None else None

    @property
    def verdicts(self) -> list[str]:
        return [r.verdict for r in self.response.results] if self.response is not None else []

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.response.results] if self.response is not None else []

    def tally(self) -> dict:
        return self.response.tally() if self.response is not None else {}

    def __str__(self) -> str:
        text = self.body[:600].decode("utf-8", "replace")
        return f"HTTP {self.status}, ResultCode {self.code}, verdicts {self.verdicts[:20]}: {text}"


class Uploader:
    """Posts envelopes to the platform's upload endpoint through ``http`` (an ``httpx.Client``)."""

    def __init__(
        self, http: httpx.Client, profile, url: str, path: str, keys: dict[str, str], ledger=None, accepted=None
    ):
        """``ledger``: an :class:`~conformance.acknowledged.AcknowledgedLedger` told of every upload and its answer
        (the run-wide statistics invariant), or ``None``; ``accepted``: an
        :class:`~conformance.accepted_envelopes.AcceptedEnvelopes` told of every signed upload (the late replay
        probe), or ``None``."""
        self.http = http
        self.profile = profile
        self.endpoint = url.rstrip("/") + path
        self.keys = keys
        self.ledger = ledger
        self.accepted = accepted

    def _send(self, body: bytes, content_type: str | None) -> Answer:
        """Post ``body``; an answer lost to a transport error or timeout makes its days uncertain in the ledger."""
        ctype = content_type or ("application/json" if body.lstrip()[:1] == b"{" else "application/xml")
        t0 = _dt.datetime.now()
        try:
            r = self.http.post(self.endpoint, content=body, headers={"Content-Type": ctype})
        except httpx.HTTPError:
            if self.ledger is not None:
                self.ledger.uncertain_body(body)
            raise
        secs = (_dt.datetime.now() - t0).total_seconds()
        resp, findings = self.profile.envelope.parse_response(r.content)
        return Answer(r.status_code, r.content, resp, findings, secs)

    def post(self, body: bytes, content_type: str | None = None) -> Answer:
        """Post ``body`` as given (raw mode); the ledger learns only which business days it may have touched."""
        a = self._send(body, content_type)
        refused = a.response is not None and all(v == "rejected" for v in a.verdicts)
        if self.ledger is not None and not refused:
            self.ledger.uncertain_body(body)  # anything not refused outright: its days are not judged
        return a

    def upload(self, node: str, rtype: str, records: list[dict], **kw) -> Answer:
        """A correctly signed envelope from ``node`` (its key) with ``kw`` passed to :func:`envelope`; the ledger
        (if any) is told of the records and the answer."""
        key = kw.pop("key", None) or self.keys[node]
        body = envelope(self.profile, node, key, rtype, records, **kw)
        sent_at = time.monotonic()
        a = self._send(body, None)
        if self.accepted is not None:
            self.accepted.note(body, a, sent_at)
        if self.ledger is not None and a.response is None:
            self.ledger.uncertain_body(body)  # no readable answer: what was stored is unknown
        elif self.ledger is not None:
            rt = self.profile.records.types.get(rtype)
            date = (
                (kw.get("header") or {}).get("DataDate")
                or next((d for d in (rt.business_date(r) for r in records) if d), "")
                if rt is not None
                else ""
            )
            self.ledger.add(node, rtype, records, a, date)
        return a
