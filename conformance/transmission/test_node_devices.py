"""The node as the target, toward its scales: acknowledgement only after the platform (NODE-DEV-01) and the
stop-trade relay (NODE-STOP-01).  The scales are the harness's simulated scales on ptys (their serial wire
traces are in the evidence)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.applies(kinds=("node",), needs=("node_scales",))


def _attach_wire(evidence, session):
    for n in session.nodes.values():
        for i, b in enumerate(n.scales, 1):
            p = n.workdir / f"scale{i}.wire.jsonl"
            if p.exists():
                evidence.attach_bytes(f"{b.id}.wire.jsonl", p.read_bytes()[-200_000:])


@pytest.mark.requirement("NODE-DEV-01")
def test_scale_records_acknowledged_only_after_the_platform(node_session, evidence):
    """While the platform was down, the node left every sale made meanwhile unacknowledged on its scale (the
    scale keeps them); once the platform had answered them, the node acknowledged them all."""
    s = node_session
    if "outage" not in s.phases:
        raise TimeoutError("the outage phase did not run")
    _attach_wire(evidence, s)
    rows = []
    for b in s._scales():
        during = sum(1 for (_, _, ph) in b.sales if ph == "outage")
        with b.runner.lock:
            left = b.model.store.unacked_count()
        rows.append({"scale": b.id, "sales_during_outage": during, "unacked_during_outage": b.unacked_during_outage,
                     "unacked_at_end": left})
    evidence.attach_json("acks.json", rows)
    assert rows, "no scale in the scenario"
    for r in rows:
        assert r["unacked_during_outage"] is not None and r["unacked_during_outage"] >= r["sales_during_outage"], (
            f"scale {r['scale']}: only {r['unacked_during_outage']} records unacknowledged while the platform was "
            f"down, but {r['sales_during_outage']} sales were made then: the node acknowledged records the platform "
            "had not accepted. Fix: acknowledge to the scale only after an accepted/duplicate verdict")
    s.require("outage", "backoff")
    for r in rows:
        assert r["unacked_at_end"] <= 1, (f"scale {r['scale']}: {r['unacked_at_end']} records still unacknowledged "
                                          "after the platform accepted them")


@pytest.mark.requirement("NODE-STOP-01")
@pytest.mark.applies(kinds=("node",), needs=("node_scales", "node_retail"))
def test_stop_trade_relayed_to_the_scale_and_acknowledged(node_session, evidence):
    """After the platform issued a stop-trade instruction for a batch (a failed pesticide test upstream), the node
    fetched it (configured poll 0.25 s, at most 60 s by the profile), the scale holding the batch refuses to sell
    it, and the node acknowledged the instruction to the platform, not before the scale had it."""
    s = node_session
    r = s.stop_result
    evidence.attach_json("stoptrade.json", r)
    _attach_wire(evidence, s)
    if not r:
        pytest.fail("the scenario found no retail batch from a wholesale market to stop (harness problem)",
                    pytrace=False)
    assert r.get("scale_stopped_at"), (f"the scale holding batch {r['batch']} did not stop it within "
                                       f"{r['poll_s'] + 8:g} s of the instruction (node polling every {r['poll_s']} s). "
                                       "Fix: fetch instructions and push STOP_TRADE to every scale holding the batch")
    assert r.get("sale_after_stop") == "TRADE_STOPPED", f"the scale still sold the stopped batch: {r.get('sale_after_stop')}"
    assert r.get("acked"), "the node did not acknowledge the instruction to the platform"
    acked = [row.get("acked_ms") for row in r.get("ack_rows", []) if row.get("acked_ms")]
    assert acked and min(acked) / 1000 >= r["posted"] - 1, "acknowledgement recorded before the instruction existed"
