"""Fetch the platform's stop-trade instructions, have the scales apply them, acknowledge them.

Profile design (NODE-STOP-01; the platform side is ``simulators/platform/stoptrade.py``):
every ``poll_s`` (at most 60 s) the node GETs ``/api/v1/stoptrade`` signed with its
key (:func:`simulators.platform.nodeauth.sign`), stores each new instruction in the
outbox database (so a restart keeps enforcing it), and acknowledges an instruction
(``POST /api/v1/stoptrade/{id}/ack``) only when every scale worker has applied it
(stopped the batch if it holds it; see :mod:`.collector`).  A scale that is
offline holds the acknowledgement back until it has been reached.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading

import httpx

from simulators.platform.nodeauth import sign

from . import logs
from .worker import BackgroundLoop
from .outbox import Outbox, now_ms

PENDING_PATH = "/api/v1/stoptrade"


class StopTradePoller(BackgroundLoop):
    thread_name = "node-stoptrade"

    def __init__(self, config, outbox: Outbox, workers: list, profile, clock=None, client: httpx.Client | None = None):
        self.cfg = config
        self.outbox = outbox
        self.workers = workers
        self.spec = profile.envelope
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.client = client or httpx.Client(timeout=config.timeout_s, trust_env=False)
        self.status = {"polls": 0, "received": 0, "acked": 0, "last_ok_ms": None, "last_error": None}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _request(self, method: str, path: str) -> httpx.Response:
        headers = sign(self.spec, self.cfg.key, self.cfg.node_code, method, path, b"", now=self.clock())
        return self.client.request(
            method, self.cfg.platform_url.rstrip("/") + path, headers=headers, timeout=self.cfg.timeout_s
        )

    def step(self) -> None:
        """One poll: fetch new instructions, acknowledge those every scale has applied.  Raises on failure."""
        resp = self._request("GET", PENDING_PATH)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {PENDING_PATH}: HTTP {resp.status_code}")
        body = resp.json()
        items = body.get("instructions") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise RuntimeError(f"GET {PENDING_PATH}: no instruction list")
        for ins in items:
            if not (
                isinstance(ins, dict) and isinstance(ins.get("id"), int) and isinstance(ins.get("batch_code"), str)
            ):
                continue
            self.outbox.remember_stop(ins["id"], ins["batch_code"], str(ins.get("reason") or ""))
        self.status["received"] = len(self.outbox.stop_instructions())
        for ins in self.outbox.stop_instructions():
            if ins["acked_ms"] is not None:
                continue
            if not all(ins["batch_code"] in w.stops_applied for w in self.workers):
                continue
            if ins["applied_ms"] is None:
                self.outbox.stop_applied(ins["id"], [w.dev.id for w in self.workers])
            path = f"{PENDING_PATH}/{ins['id']}/ack"
            r = self._request("POST", path)
            if r.status_code in (200, 404):  # 404: the platform no longer has it for us; nothing to acknowledge
                self.outbox.stop_acked(ins["id"])
                self.status["acked"] += 1
                logs.event("stop_trade_acked", id=ins["id"], batch=ins["batch_code"], http=r.status_code)
            else:
                raise RuntimeError(f"POST {path}: HTTP {r.status_code}")
        self.status["polls"] += 1
        self.status.update(last_ok_ms=now_ms(), last_error=None)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                self.status["last_error"] = f"{type(exc).__name__}: {exc}"[:200]
                logs.event("stop_trade_poll_failed", logging.WARNING, error=self.status["last_error"])
            self._stop.wait(self.cfg.stop_poll_s)
