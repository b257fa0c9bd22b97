"""NODE-RETL-01 in phase ``handheld``: part of one retail stall's batch moves to another stall of the node;
the result (``transfer`` of the retail :class:`~.under_test.NodeUnderTest`) records what both scales held."""

from __future__ import annotations

import time

import httpx

from .handheld import post_handheld
from .settings import PUSH_WAIT_S
from .state import SessionState
from .waiting import wait_for


def run(sess: SessionState, timeout: float = PUSH_WAIT_S) -> None:
    """NODE-RETL-01: a quarter of one retail stall's batch moves to another stall of the node, registered
    through the handheld as the receiving retailer's entry of the same batch under a transfer voucher
    (``tran_id``) the source retailer issued; wait (bounded) until the receiving scale holds the batch and the
    source scale's limit has fallen."""
    # imported when the scenario runs (as in start.run): the node's sales module (about 1 s of imports) is
    # needed only when the target is a node
    from simulators.node.sales import kg_text

    retail = next((n for n in sess.nodes.values() if n.role == "retail" and len(n.scales) >= 2), None)
    if retail is None or not sess.with_handheld:
        return
    src = sess.stop_scale if sess.stop_scale in retail.scales else retail.scales[0]
    dst = next((b for b in retail.scales if b.operator != src.operator), None)
    base = _entry_of(sess, retail.code, "retail_market_in_info_base", src.batch)
    detail = _entry_of(sess, retail.code, "retail_market_in_info_detail", src.batch)
    if dst is None or base is None or detail is None:
        return
    moved = src.entry[1] // 4
    tran = sess.profile.codes.trace_code(src.operator, 8_000_001)
    name = next((o.name for o in retail.operators if o.code == dst.operator), "")
    t0 = time.time()
    with httpx.Client(timeout=10, trust_env=False) as c:
        post_handheld(
            sess,
            c,
            retail,
            "retail_market_in_info_base",
            [{**base, "retailer_id": dst.operator, "retailer_name": name, "tran_id": tran}],
        )
        post_handheld(
            sess, c, retail, "retail_market_in_info_detail", [{**detail, "tran_id": tran, "weight": kg_text(moved)}]
        )
    src.entry = (src.entry[0], src.entry[1] - moved, src.entry[2])

    def limits():
        out = []
        for b in (src, dst):
            with b.runner.lock:
                got = b.model.store.batch(src.batch)
            out.append(got["limit_g"] if got else None)
        return out

    done = wait_for(lambda: limits() == [src.entry[1], moved], timeout)
    src_limit, dst_limit = limits()
    retail.transfer = {
        "batch": src.batch,
        "from": src.operator,
        "to": dst.operator,
        "from_scale": src.id,
        "to_scale": dst.id,
        "voucher": tran,
        "moved_g": moved,
        "entered_g": src.entry[1] + moved,
        "registered": t0,
        "seen": time.time() if done else None,
        "source_limit_g": src_limit,
        "receiving_limit_g": dst_limit,
    }


def _entry_of(sess: SessionState, node: str, rtype: str, batch: str) -> dict | None:
    """The day's record of type ``rtype`` at ``node`` for ``batch`` (the first), or ``None``."""
    return next(
        (
            r["data"]
            for r in sess.day_records
            if r["type"] == rtype and r["data"]["batch_id"] == batch and r["node"] == node
        ),
        None,
    )
