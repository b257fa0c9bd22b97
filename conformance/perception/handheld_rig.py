"""The handheld's counterpart: a receiving server the harness runs on 127.0.0.1.

The handheld under test (the built-in reference terminal, with the variant's
switch or firmware bug: conformance/proofs/device_firmware.py) uploads ``DataExchangeReq`` envelopes by HTTP POST; the receiver parses
them with the profile (VerifyCode with the node's key, every record checked),
answers one verdict per record, and remembers what it accepted, so a test can
compare what the operator entered with what arrived.  ``online = False`` makes
the link drop (the request's connection is closed without an answer).  Every
exchange goes to the test's evidence (``http.jsonl``).
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conformance.proofs.device_firmware import device_class
from profiles import load_profile

from .bench import NODE, variant_switch

KEY = "perception-suite-node-key"


class HandheldRig:
    def __init__(self, target, evidence, seed: int):
        self.profile = load_profile()
        self.evidence = evidence
        self.seed = seed
        self.terminal_class, self.faults = device_class("handheld", variant_switch(target, "handheld"))
        self.online = True
        self.accepted: list[tuple[str, dict]] = []
        self.rejected: list[tuple[str, dict, str]] = []
        self.posts = 0
        self.dropped = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        rig = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(min(int(self.headers.get("Content-Length", 0) or 0), 4 << 20))
                out = rig._receive(body)
                if out is None:
                    self.close_connection = True  # link down: no answer at all
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/upload"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def terminal(self, kind: str = "wholesale", **kw):
        """The handheld under test, pointed at this receiver (with the variant's firmware bug, if any)."""
        return self.terminal_class(
            NODE,
            "北园春农产品批发市场",
            self.url,
            KEY,
            node_kind=kind,
            faults=self.faults,
            seed=self.seed,
            timeout_s=2.0,
            **kw,
        )

    def _receive(self, body: bytes) -> bytes | None:
        env = self.profile.envelope
        with self._lock:
            self.posts += 1
            if not self.online:
                self.dropped += 1
                self.evidence.append_jsonl(
                    "http.jsonl",
                    {"t": time.time(), "request_bytes": len(body), "response": "connection dropped (link down)"},
                )
                return None
            res = env.parse(body, key=KEY, now=_dt.datetime.now(_dt.timezone.utc))
            dups = []
            for r in res.records:
                k = json.dumps([r.type, sorted(r.record.items())], ensure_ascii=False)
                if k in self._seen:
                    dups.append(r.position)
            resp = env.respond(res, duplicates=dups)
            verdicts = {v.seq: v for v in resp.results}
            for r in res.records:
                v = verdicts.get(r.position)
                if v is None:
                    continue
                if v.verdict == "accepted":
                    self._seen.add(json.dumps([r.type, sorted(r.record.items())], ensure_ascii=False))
                    self.accepted.append((r.type, dict(r.record)))
                elif v.verdict == "rejected":
                    self.rejected.append((r.type, dict(r.record), v.reason))
            out = env.build_response(resp)
            self.evidence.append_jsonl(
                "http.jsonl",
                {
                    "t": time.time(),
                    "request": body.decode("utf-8", "replace")[:20000],
                    "response": out.decode("utf-8", "replace")[:20000],
                    "envelope_findings": [f.en for f in res.findings],
                },
            )
            return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2.0)
