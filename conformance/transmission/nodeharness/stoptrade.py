"""Phase ``stoptrade``: a failed pesticide test of the wholesale batch the retail scale sells from is posted to
the platform; the phase waits (bounded) until the scale refuses that batch and the node has acknowledged the
instruction, then tries one more sale.  What it saw is ``stop_result`` of the session."""

from __future__ import annotations

import time

import httpx

from ..recorder import canon_stored
from .city_platform import HarnessPlatform
from .settings import STOP_POLL_S, UPLOAD_PATH
from .state import SessionState
from .waiting import wait_for


def run(sess: SessionState) -> None:
    if sess.stop_scale is None or sess.stop_batch is None:
        return
    chain = sess.ledger.chain(sess.stop_batch)
    vb = chain[1]["id"]
    ws = vb[:9]
    tmpl = next(
        (r["data"] for r in sess.day_records if r["type"] == "qmarket_detection_info" and r["node"] == ws), None
    )
    detail = next(
        r["data"]
        for r in sess.day_records
        if r["type"] == "retail_market_in_info_detail" and r["data"]["batch_id"] == sess.stop_batch
    )
    if tmpl is None:
        return
    failed = {
        **tmpl,
        "batch_id": vb,
        "goods_code": detail["goods_code"],
        "goods_name": detail["goods_name"],
        "sample_id": "DHARNESS0001",
        "detection_result": "0",
        "result_expl": "农药残留超标",
    }
    failed.pop("tran_id", None)
    t0 = time.time()
    body = sess.spec.build(ws, "qmarket_detection_info", [failed], sess.keys[ws])
    with httpx.Client(timeout=10, trust_env=False) as c:
        c.post(sess.platform.url + UPLOAD_PATH, content=body, headers={"Content-Type": "application/xml"})
    sess.harness_records.add(canon_stored(sess.spec, "qmarket_detection_info", failed))
    node = next(n.code for n in sess.nodes.values() if sess.stop_scale in n.scales)
    scale = sess.stop_scale

    def stopped():
        with scale.runner.lock:
            b = scale.model.store.batch(scale.batch)
        return b and b["stopped"]

    def acked():
        rows = (
            sess.platform.rows(
                "SELECT acked_ms FROM stop_instructions WHERE node_id = ? AND batch_code = ?", (node, scale.batch)
            )
            if has_table(sess.platform, "stop_instructions")
            else []
        )
        return rows and all(r[0] for r in rows)

    sess.stop_result = {
        "batch": scale.batch,
        "wholesale_batch": vb,
        "node": node,
        "posted": t0,
        "poll_s": STOP_POLL_S,
    }
    ok_stop = wait_for(stopped, STOP_POLL_S + 8.0)
    sess.stop_result["scale_stopped_at"] = time.time() if ok_stop else None
    ok_ack = wait_for(acked, 5.0 if ok_stop else 1.0)
    sess.stop_result["acked"] = bool(ok_ack)
    sess.stop_result["ack_rows"] = ack_rows(sess.platform, node, scale.batch)
    with scale.runner.lock:
        try:
            scale.model.sell(scale.batch, weight_g=500)
            sess.stop_result["sale_after_stop"] = "sold"
        except Exception as exc:  # Refused("TRADE_STOPPED") is the conformant answer
            sess.stop_result["sale_after_stop"] = getattr(exc, "reason", type(exc).__name__)
    if not ok_stop and not ok_ack:
        sess.timeouts.setdefault("stoptrade", "the scale did not stop the batch and the node did not acknowledge")


def has_table(platform: HarnessPlatform, name: str) -> bool:
    """Whether the platform's database has table ``name`` (another platform build may not)."""
    return bool(platform.rows("SELECT name FROM sqlite_master WHERE type='table' AND name=?", (name,)))


def ack_rows(platform: HarnessPlatform, node: str, batch: str) -> list[dict]:
    """The platform's stop instructions for ``batch`` at ``node``, as column -> value."""
    if not has_table(platform, "stop_instructions"):
        return []
    cols = [r[1] for r in platform.rows("PRAGMA table_info(stop_instructions)")]
    rows = platform.rows("SELECT * FROM stop_instructions WHERE node_id = ? AND batch_code = ?", (node, batch))
    return [dict(zip(cols, r)) for r in rows]
