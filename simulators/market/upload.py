"""Live uploads of a simulated day to a platform: every node's envelopes POSTed over HTTP, signed with its own key.

* :func:`load_keys` reads a keys file (``{"node_id": "key"}``, as ``roucai serve admin import-city
  --keys-out`` writes it); :func:`ingest_url` turns ``--to URL`` into the ingest endpoint (a bare
  ``http(s)://host:port`` gets the reference platform's ``/api/v1/exchange``; a URL with a path is
  used as it is).  Both raise :class:`~simulators.market.errors.MarketConfigError` (bilingual; exit 2).
* :class:`Uploader` sends the batches of an :class:`~simulators.market.output.EnvelopeBatcher`
  (the grouping a node's upload job uses) one at a time, in upload-time order (ties: node, type,
  date), so every node's uploads keep their order.  Each envelope is signed at send time:
  ``RequestTime`` = now (Beijing wall clock, strictly increasing per node, so a node never signs
  two envelopes in the same millisecond), ``DataDate`` = the records' business date (or the
  simulated upload date for types without one).
* Pacing: ``factor`` = wall seconds per simulated second (``None``: as fast as the platform
  answers).  The first batch goes at once; batch *i* is due ``(t_i - t_0) * factor`` wall seconds
  later (the idle simulated hours before the first upload are skipped).
* Retries: a transport error (connect, read timeout…) or an HTTP 5xx is retried with exponential
  backoff (``backoff_s``, doubling, at most ``retries`` retries), re-signed each time.  After an
  attempt whose answer was lost, ``duplicate`` means that attempt stored the record: it counts as
  accepted.  An envelope refused as a whole (4xx with a ResultCode, e.g. 1105 wrong VerifyCode)
  counts all its records as rejected with that reason.
* Bounds: ``timeout_s`` per request; ``limit_s`` for the whole upload (what is not sent by then is
  ``unsent`` and :attr:`UploadResult.timed_out` is set).

Verdict counts are per record *send*: the model's own duplicate uploads (fault
``duplicate_upload``) are sent twice and the second is expected to come back ``duplicate``;
:attr:`UploadResult.unexpected_duplicates` counts duplicates of records sent once (e.g. the
platform already had the day).  ``lost`` = sends that never got a verdict (retries exhausted or an
unreadable answer).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from profiles.envelope import beijing
from simulators.keysfile import KeysFileError, read_keys
from simulators.tls import client_verify

from .errors import MarketConfigError

INGEST_PATH = "/api/v1/exchange"


def ingest_url(url: str) -> str:
    """The ingest endpoint for ``--to URL``; raises MarketConfigError unless it is an http(s) URL with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MarketConfigError(
            f"--to 须为 http:// 或 https:// 开头的网址，收到 {url!r}",
            f"--to must be an http:// or https:// URL, got {url!r}",
        )
    path = parts.path if parts.path not in ("", "/") else INGEST_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def load_keys(path: str | Path) -> dict[str, str]:
    """``{node_id: key}`` from a keys file (:func:`simulators.keysfile.read_keys`); raises MarketConfigError."""
    try:
        return read_keys(path)
    except KeysFileError as exc:
        raise MarketConfigError(exc.zh, exc.en) from None


def check_reachable(url: str, timeout_s: float = 10.0) -> str | None:
    """``None`` if anything answers HTTP at ``url`` (any status), else the transport error's text."""
    try:
        with httpx.Client(timeout=timeout_s, verify=client_verify()) as c:
            c.get(url)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class RequestClock:
    """``clock(node)`` -> RequestTime for a node's next envelope: now, naive Beijing wall time, whole
    milliseconds, strictly increasing per node (two envelopes of one node never share a RequestTime,
    which the platform would refuse as a replay).  Thread-safe."""

    def __init__(self, utc_offset: int = 8):
        self.utc_offset = utc_offset
        self._last: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def __call__(self, node: str) -> dt.datetime:
        now = beijing(dt.datetime.now(dt.timezone.utc), self.utc_offset)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        with self._lock:
            last = self._last.get(node)
            if last is not None and now <= last:
                now = last + dt.timedelta(milliseconds=1)
            self._last[node] = now
        return now


@dataclass
class UploadResult:
    envelopes: int = 0  # envelopes answered with per-record verdicts or a refusal
    attempts: int = 0  # HTTP requests made (retries included)
    records: int = 0  # record sends planned
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    lost: int = 0  # sends with no verdict after the retries
    unsent: int = 0  # not sent before the time limit
    unexpected_duplicates: int = 0
    reasons: Counter = field(default_factory=Counter)  # "code message" -> rejected records
    answered: bool = False  # the platform answered at least once
    timed_out: bool = False
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.rejected or self.lost or self.unsent)

    def to_dict(self) -> dict:
        return {
            "envelopes": self.envelopes,
            "attempts": self.attempts,
            "records": self.records,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "lost": self.lost,
            "unsent": self.unsent,
            "unexpected_duplicates": self.unexpected_duplicates,
            "top_reasons": [{"reason": r, "records": n} for r, n in self.reasons.most_common(5)],
            "answered": self.answered,
            "timed_out": self.timed_out,
            "wall_s": round(self.wall_s, 3),
            "records_per_s": round(self.records / self.wall_s, 1) if self.wall_s > 0 else None,
        }


class Uploader:
    """Sends batches ``(t_up, node, rtype, data_date, records)`` to ``url`` (see the module docstring).

    :param keys: node code -> key; every batch's node must have one (KeyError otherwise; check first).
    :param factor: wall seconds per simulated second, or ``None`` for as fast as possible.
    :param progress: called as ``progress(result, done, total)`` after every envelope.
    """

    def __init__(
        self,
        spec,
        url: str,
        keys: dict[str, str],
        *,
        factor: float | None = None,
        limit_s: float = 3600.0,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        progress=None,
        clock=time.monotonic,
        sleep=time.sleep,
    ):
        self.spec = spec
        self.url = url
        self.keys = keys
        self.factor = factor
        self.limit_s = float(limit_s)
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.progress = progress
        self._clock, self._sleep = clock, sleep
        self._request_time = RequestClock(spec.utc_offset)

    def run(self, batches) -> UploadResult:
        batches = sorted(batches, key=lambda b: (b[0], b[1], b[2], b[3]))
        res = UploadResult(records=sum(len(b[4]) for b in batches))
        sent_times = Counter(
            json.dumps([b[1], b[2], r], sort_keys=True, ensure_ascii=False) for b in batches for r in b[4]
        )
        t0 = self._clock()
        deadline = t0 + self.limit_s
        t_first = batches[0][0] if batches else 0.0
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        with httpx.Client(timeout=self.timeout_s, headers=headers, verify=client_verify()) as client:
            for i, (t_up, node, rtype, date, records) in enumerate(batches):
                if self.factor is not None:
                    wait = t0 + (t_up - t_first) * self.factor - self._clock()
                    if wait > 0:
                        self._sleep(min(wait, max(0.0, deadline - self._clock())))
                if self._clock() >= deadline:
                    res.timed_out = True
                    res.unsent = sum(len(b[4]) for b in batches[i:])
                    break
                once = [
                    sent_times[json.dumps([node, rtype, r], sort_keys=True, ensure_ascii=False)] < 2 for r in records
                ]
                self._send(client, res, node, rtype, date, records, once, deadline)
                if self.progress:
                    self.progress(res, i + 1, len(batches))
        res.wall_s = self._clock() - t0
        return res

    def _send(self, client, res: UploadResult, node, rtype, date, records, once, deadline) -> None:
        key = self.keys[node]
        uncertain = False
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(min(self.backoff_s * 2 ** (attempt - 1), max(0.0, deadline - self._clock())))
                if self._clock() >= deadline:
                    break
            body = self.spec.build(node, rtype, records, key, request_time=self._request_time(node), data_date=date)
            res.attempts += 1
            try:
                r = client.post(self.url, content=body)
            except httpx.TransportError:
                uncertain = True
                continue
            res.answered = True
            if r.status_code >= 500:
                uncertain = uncertain or r.status_code != 503
                continue
            resp, _findings = self.spec.parse_response(r.content)
            if resp is None:
                break
            res.envelopes += 1
            if resp.code != "0000":
                res.rejected += len(records)
                res.reasons[f"{resp.code} {resp.message}".strip()] += len(records)
                return
            verdicts = {v.seq: v for v in resp.results}
            for seq, single in enumerate(once, 1):
                v = verdicts.get(seq)
                if v is None:
                    res.lost += 1
                elif v.verdict == "accepted":
                    res.accepted += 1
                elif v.verdict == "duplicate":
                    if uncertain:
                        res.accepted += 1  # an earlier attempt stored it; its answer was lost
                    else:
                        res.duplicate += 1
                        res.unexpected_duplicates += single
                else:
                    res.rejected += 1
                    res.reasons[f"{v.reason} {v.message or ''}".strip()] += 1
            return
        res.lost += len(records)


def run_sharded(make_uploader, batches, workers: int) -> UploadResult:
    """The batches sent by ``workers`` uploaders at once (``make_uploader()`` builds each, unpaced), one per shard
    of the nodes: round robin over the sorted node codes, so all of a node's batches go to one uploader and keep
    their order, and its RequestTimes still increase.  Returns the merged result: counts summed, reasons merged,
    ``answered`` / ``timed_out`` if any shard's is, ``wall_s`` of the whole run.  ``workers`` ≤ 1: one uploader."""
    batches = list(batches)
    nodes = sorted({b[1] for b in batches})
    n = max(1, min(int(workers), len(nodes) or 1))
    if n == 1:
        return make_uploader().run(batches)
    shard = {node: i % n for i, node in enumerate(nodes)}
    parts = [[b for b in batches if shard[b[1]] == w] for w in range(n)]
    results: list[UploadResult | None] = [None] * n
    errors: list[BaseException] = []

    def go(w: int) -> None:
        try:
            results[w] = make_uploader().run(parts[w])
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread below)
            errors.append(exc)

    t0 = time.monotonic()
    threads = [threading.Thread(target=go, args=(w,), name=f"upload-{w}", daemon=True) for w in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    out = UploadResult()
    for r in results:
        for f in (
            "envelopes",
            "attempts",
            "records",
            "accepted",
            "duplicate",
            "rejected",
            "lost",
            "unsent",
            "unexpected_duplicates",
        ):
            setattr(out, f, getattr(out, f) + getattr(r, f))
        out.reasons.update(r.reasons)
        out.answered |= r.answered
        out.timed_out |= r.timed_out
    out.wall_s = time.monotonic() - t0
    return out
