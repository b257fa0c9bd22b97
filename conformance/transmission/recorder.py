"""The harness's platform wire tap: an ASGI layer in front of the reference platform.

:class:`Recorder` wraps the reference city platform's app (a real server: uvicorn,
SQLite).  It keeps every HTTP exchange (arrival and answer time, method, path,
body, status, answer) and can make the platform *unavailable* (HTTP 503 to
everything, without reaching the platform) for the backoff phase.  It never
changes a request or an answer.

:func:`analyse_upload` reads one captured upload with the profile, as the
judge sees it: the envelope's findings with the node's key and the clock of
arrival, the records, and the per-record verdicts of the answer.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import time
from dataclasses import dataclass, field

UNAVAILABLE_BODY = b'{"detail":"service unavailable (harness outage)"}'


@dataclass
class Exchange:
    t: float  #: arrival, epoch seconds
    t_end: float  #: answer sent
    method: str
    path: str
    body: bytes
    status: int
    answer: bytes
    phase: str
    outage: bool = False  #: answered 503 by the recorder (platform unavailable)


class Recorder:
    """ASGI middleware; thread-safe list of :class:`Exchange` in arrival order."""

    def __init__(self, app=None):
        self.app = app
        self.exchanges: list[Exchange] = []
        self.unavailable = False
        self.phase = "start"
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.time()
        chunks, more = [], True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        if self.unavailable:
            await send(
                {"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": UNAVAILABLE_BODY})
            self._keep(
                Exchange(t0, time.time(), scope["method"], scope["path"], body, 503, UNAVAILABLE_BODY, self.phase, True)
            )
            return
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        state = {"status": 0, "out": []}

        async def tap(msg):
            if msg["type"] == "http.response.start":
                state["status"] = msg["status"]
            elif msg["type"] == "http.response.body":
                state["out"].append(msg.get("body", b""))
            await send(msg)

        try:
            await self.app(scope, replay, tap)
        finally:
            self._keep(
                Exchange(
                    t0,
                    time.time(),
                    scope["method"],
                    scope["path"],
                    body,
                    state["status"],
                    b"".join(state["out"]),
                    self.phase,
                )
            )

    def _keep(self, ex: Exchange) -> None:
        with self._lock:
            self.exchanges.append(ex)

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)


@dataclass
class Upload:
    """One captured upload envelope, read with the profile."""

    ex: Exchange
    node: str | None
    rtype: str | None
    header: dict
    count: int  #: records in the payload
    records: list[str]  #: canonical JSON of each record
    findings: list  #: envelope-level findings (profiles.findings.Finding)
    record_findings: list[list]
    verdicts: list[str] = field(default_factory=list)  #: per record, from the answer ('' if none)
    answer_code: str | None = None

    @property
    def answered(self) -> bool:
        return self.answer_code == "0000" and len(self.verdicts) == self.count


def canon(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canon_stored(spec, rtype: str, record: dict) -> str:
    """:func:`canon` of what a receiver speaking ``spec``'s profile stores of ``record`` (canonical names and
    values): under a dialect that writes its city's form (``records.toml [emit]``, profiles/forms.py) the record
    as that form carries it, read back to canonical form (Guangzhou's trade detail has no header fields); else
    ``canon(record)``."""
    form = spec.city_form
    if not form.active or rtype not in spec.records.types:
        return canon(record)
    return canon(spec.records.canonical(rtype, form.write(rtype, record)))


def _canon_received(spec, rtype: str | None, record: dict) -> str:
    """:func:`canon` of a record as received: under a dialect that writes its city's form, read to canonical
    form (aliases resolved, yyyyMMdd dates), so it compares with :func:`canon_stored`."""
    if rtype in spec.records.types and spec.city_form.active:
        return canon(spec.records.canonical(rtype, record))
    return canon(record)


def analyse_upload(spec, ex: Exchange, key_of) -> Upload:
    """Read ``ex`` (a POST of an envelope) with the profile: ``key_of(node) -> key | None``."""
    now = _dt.datetime.fromtimestamp(ex.t, _dt.timezone.utc)
    res = spec.parse(ex.body, key=key_of, now=now)
    up = Upload(
        ex,
        res.node_id,
        res.record_type,
        dict(res.header),
        len(res.records),
        [_canon_received(spec, res.record_type, r.record) for r in res.records],
        list(res.findings),
        list(res.record_findings),
    )
    if ex.outage or not ex.answer:
        return up
    resp, _ = spec.parse_response(ex.answer)
    if resp is not None:
        up.answer_code = resp.code
        by_seq = {v.seq: v.verdict for v in resp.results}
        up.verdicts = [by_seq.get(i, "") for i in range(1, len(res.records) + 1)] if resp.results else []
    return up
