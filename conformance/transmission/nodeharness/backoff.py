"""Phase ``backoff``: the recorder answers 503 for :data:`~.settings.BACKOFF_WINDOW_S` seconds (the
harness, not the platform) while a sale (or a handheld record) waits to be sent, so the node's retry times
are on record; then service resumes and the phase waits (bounded) until everything is at the platform."""

from __future__ import annotations

import time

import httpx

from .handheld import post_handheld
from .settings import BACKOFF_WINDOW_S
from .state import SessionState


def run(sess: SessionState) -> None:
    if not sess._scales() and not sess.with_handheld:
        return
    sess.recorder.unavailable = True
    try:
        for b in sess._scales()[:1]:
            b.sell(sess.rng, "backoff")
        if not sess._scales():
            n = next(iter(sess.nodes.values()))
            tmpl = next((r["data"] for r in sess.day_records if r["node"] == n.code), None)
            if tmpl is not None:
                with httpx.Client(timeout=10, trust_env=False) as c:
                    post_handheld(sess, c, n, next(r["type"] for r in sess.day_records if r["node"] == n.code), [tmpl])
        time.sleep(BACKOFF_WINDOW_S)
    finally:
        sess.recorder.unavailable = False
    sess._wait("backoff", sess._all_at_platform, 20, "every record at the platform after the 503 period")
