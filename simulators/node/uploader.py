"""Upload the outbox to the city platform: batched envelopes, per-record verdicts, bounded backoff.

One envelope at a time (so records leave in the order they arrived, TRAN-UPL-05):

1. :meth:`Outbox.claim` takes up to ``max_count`` pending rows of one record type and
   business date (the oldest group), waiting at most ``batch_wait_s`` for a group to
   fill (TRAN-UPL-02);
2. the rows are signed into a ``DataExchangeReq`` (``p.envelope.build``, a new
   RequestTime each attempt, so a resend is never a replay) and POSTed with the
   client timeout (TRAN-UPL-07);
3. a ``DataExchangeResp`` with ResultCode 0000 and one Result per record settles
   every row: ``accepted`` / ``duplicate`` -> acknowledged, ``rejected`` -> kept
   with its reason and never resent (TRAN-UPL-06);
4. anything else (connection error, timeout, HTTP 5xx, an envelope-level refusal,
   an unreadable answer) puts the rows back to pending and waits
   ``first × 2^(n-1)`` seconds, at most ``backoff_max_s`` (TRAN-UPL-06: 1 s … 300 s),
   before the next attempt; the first good answer resets the backoff.

A kill at any point leaves rows ``pending`` or ``sent``; the outbox turns ``sent``
back into ``pending`` on open, and the platform answers ``duplicate`` for what it
had already committed (TRAN-UPL-03/04).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from profiles.profile import Profile

from . import logs
from .config import NodeConfig
from .outbox import Batch, Outbox, now_ms
from .worker import BackgroundLoop


class Backoff:
    """Exponential backoff: ``first``, ``2·first``, ``4·first``… capped at ``cap`` seconds."""

    def __init__(self, first: float, cap: float) -> None:
        if not 0 < first <= cap:
            raise ValueError("0 < first <= cap")
        self.first, self.cap = float(first), float(cap)
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        factor: int = 2 ** min(self.failures - 1, 62)
        return min(self.cap, self.first * factor)

    def reset(self) -> None:
        self.failures = 0


class Uploader(BackgroundLoop):
    """:param config: a :class:`~.config.NodeConfig`.  :param clock: ``() -> aware datetime`` for RequestTime.

    One attempt (:meth:`step`) is made of named steps a subclass may replace (a test lab installs a
    defect that way, from outside the product): :meth:`claim` (which rows go next), :meth:`envelope` (the
    signed request), :meth:`send` (POST and settle), :meth:`give_back` (rows of a failed attempt) and
    :meth:`retry_delay` (how long to wait after a failure)."""

    thread_name = "node-uploader"

    def __init__(
        self,
        config: NodeConfig,
        outbox: Outbox,
        profile: Profile,
        clock: Callable[[], _dt.datetime] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.cfg = config
        self.outbox = outbox
        self.spec = profile.envelope
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.client = client or httpx.Client(timeout=config.timeout_s, trust_env=False)
        self.backoff = Backoff(config.backoff_first_s, config.backoff_max_s)
        #: ``refused``: the ResultCode of the last attempt if the platform refused the envelope whole, else None
        self.status: dict[str, Any] = {
            "envelopes": 0,
            "acknowledged": 0,
            "rejected": 0,
            "failures": 0,
            "last_ok_ms": None,
            "last_error": None,
            "retry_in_s": 0.0,
            "refused": None,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctype = "application/json" if config.fmt == "json" else "application/xml; charset=utf-8"

    # -- one attempt -------------------------------------------------------------
    def step(self) -> str:
        """Try one envelope: ``idle`` (nothing due), ``sent`` (answered per record) or ``failed``."""
        batch = self.claim()
        if batch is None:
            return "idle"
        self.status["refused"] = None
        error = self.send(batch)
        if error is None:
            self.backoff.reset()
            self.status.update(last_ok_ms=now_ms(), last_error=None, retry_in_s=0.0)
            return "sent"
        self.give_back(batch)
        delay = self.retry_delay()
        self.status["failures"] += 1
        self.status.update(last_error=error, retry_in_s=delay)
        logs.event(
            "upload_failed",
            logging.WARNING,
            index=self.spec.records.types[batch.rtype].index,
            count=len(batch.ids),
            error=error,
            retry_in_s=delay,
        )
        return "failed"

    def claim(self) -> Batch | None:
        """The rows of the next envelope: at most ``max_count``, a partial group once ``batch_wait_s`` old."""
        return self.outbox.claim(self.cfg.max_count, int(self.cfg.batch_wait_s * 1000))

    def give_back(self, batch: Batch) -> None:
        """The rows of an attempt without a per-record answer go back to pending (resent later, TRAN-UPL-03)."""
        self.outbox.release(batch.ids)

    def retry_delay(self) -> float:
        """Seconds to wait after a failed attempt: the next exponential backoff step (TRAN-UPL-06)."""
        return self.backoff.next()

    def envelope(self, batch: Batch) -> bytes:
        """``batch`` signed with the node's key into a ``DataExchangeReq`` (a new RequestTime each call).

        :raises ValueError, KeyError: the rows do not make an envelope of the profile."""
        return self.spec.build(
            self.cfg.node_code,
            batch.rtype,
            batch.records,
            self.cfg.key,
            request_time=self.clock(),
            data_date=batch.data_date,
            fmt=self.cfg.fmt,
        )

    def send(self, batch: Batch) -> str | None:
        """POST one envelope; settle its rows on a per-record answer.  Returns an error text or ``None``."""
        try:
            body = self.envelope(batch)
        except (ValueError, KeyError) as exc:  # cannot happen for rows that passed validation on entry
            return f"cannot build envelope: {type(exc).__name__}"
        t0 = time.perf_counter()
        try:
            resp = self.client.post(
                self.cfg.upload_url, content=body, headers={"Content-Type": self._ctype}, timeout=self.cfg.timeout_s
            )
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        parsed, findings = self.spec.parse_response(resp.content)
        if parsed is None:
            return f"HTTP {resp.status_code}: unreadable response ({findings[0].rule if findings else '?'})"
        if parsed.code != "0000":
            self.status["refused"] = parsed.code
            return f"HTTP {resp.status_code}: refused {parsed.code} {self.spec.reason_text(parsed.code, 'en')}"
        if len(parsed.results) != len(batch.ids):
            return f"HTTP {resp.status_code}: {len(parsed.results)} results for {len(batch.ids)} records"
        verdicts = [(r.verdict, r.reason, r.field, r.message) for r in parsed.results]
        self.outbox.settle(batch.ids, verdicts)
        t = parsed.tally()
        self.status["envelopes"] += 1
        self.status["acknowledged"] += t["accepted"] + t["duplicate"]
        self.status["rejected"] += t["rejected"]
        logs.event(
            "upload",
            index=parsed.index,
            count=len(batch.ids),
            accepted=t["accepted"],
            duplicate=t["duplicate"],
            rejected=t["rejected"],
            ms=round((time.perf_counter() - t0) * 1000, 1),
        )
        for r in parsed.results:
            if r.verdict == "rejected":
                logs.event("record_rejected", logging.WARNING, index=parsed.index, reason=r.reason, field=r.field)
        return None

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.step()
            except Exception as exc:  # a storage error must not kill the thread silently
                logs.event("uploader_error", logging.ERROR, error=type(exc).__name__)
                result = "failed"
                self.status["retry_in_s"] = self.backoff.next()
            if result == "sent":
                continue
            self._stop.wait(self.status["retry_in_s"] if result == "failed" else self.cfg.interval_s)
