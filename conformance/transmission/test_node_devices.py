"""The node as the target, toward its scales: acknowledgement only after the platform (NODE-DEV-01) and the
stop-trade relay (NODE-STOP-01).  The scales are the harness's simulated scales on ptys (their serial wire
traces are in the evidence)."""

from __future__ import annotations

import pytest

from .nodeviews import load

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
        rows.append(
            {
                "scale": b.id,
                "sales_during_outage": during,
                "unacked_during_outage": b.unacked_during_outage,
                "unacked_at_end": left,
            }
        )
    evidence.attach_json("acks.json", rows)
    assert rows, "no scale in the scenario"
    for r in rows:
        assert r["unacked_during_outage"] is not None and r["unacked_during_outage"] >= r["sales_during_outage"], (
            f"scale {r['scale']}: only {r['unacked_during_outage']} records unacknowledged while the platform was "
            f"down, but {r['sales_during_outage']} sales were made then: the node acknowledged records the platform "
            "had not accepted. Fix: acknowledge to the scale only after an accepted/duplicate verdict"
        )
    s.require("outage", "backoff")
    for r in rows:
        assert r["unacked_at_end"] <= 1, (
            f"scale {r['scale']}: {r['unacked_at_end']} records still unacknowledged after the platform accepted them"
        )


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
        pytest.fail(
            "the scenario found no retail batch from a wholesale market to stop (harness problem)", pytrace=False
        )
    assert r.get("scale_stopped_at"), (
        f"the scale holding batch {r['batch']} did not stop it within "
        f"{r['poll_s'] + 8:g} s of the instruction (node polling every {r['poll_s']} s). "
        "Fix: fetch instructions and push STOP_TRADE to every scale holding the batch"
    )
    assert r.get("sale_after_stop") == "TRADE_STOPPED", (
        f"the scale still sold the stopped batch: {r.get('sale_after_stop')}"
    )
    assert r.get("acked"), "the node did not acknowledge the instruction to the platform"
    acked = [row.get("acked_ms") for row in r.get("ack_rows", []) if row.get("acked_ms")]
    assert acked and min(acked) / 1000 >= r["posted"] - 1, "acknowledgement recorded before the instruction existed"


def _entered_batches(n, base_t: str, det_t: str, op_field: str) -> dict[str, list[dict]]:
    """Operator -> the batches it entered through the node's handheld intake (base and detail, paired by
    ``(batch_id, tran_id)``, both accepted), in entry order: ``{"batch", "goods_code", "limit_g"}``."""
    import json

    bases, details = [], {}
    for _, rtype, rec, verdict in n.handheld:
        if verdict != "accepted":
            continue
        d = json.loads(rec)
        if rtype == base_t:
            bases.append(d)
        elif rtype == det_t:
            details.setdefault((d.get("batch_id"), d.get("tran_id", "")), d)
    out: dict[str, list[dict]] = {}
    seen = set()
    for b in bases:
        d = details.get((b.get("batch_id"), b.get("tran_id", "")))
        key = (b.get(op_field), b.get("batch_id"))
        if d is None or key in seen:
            continue
        seen.add(key)
        out.setdefault(b.get(op_field), []).append(
            {
                "batch": b["batch_id"],
                "goods_code": d.get("goods_code"),
                "limit_g": int(round(float(d["weight"]) * 1000)),
            }
        )
    return out


def _push_check(
    s, n, base_t: str, det_t: str, op_field: str, sale_type: str, sale_field: str, moved: frozenset = frozenset()
) -> tuple[list[dict], list[str], dict]:
    """Per scale of ``n``: were its operator's entered batches on it before trading, as entered (limits of the
    batches in ``moved`` are judged by the transfer check), and do its uploaded sale records name them?"""
    import json

    from .nodeharness import PUSH_WAIT_S

    entered = _entered_batches(n, base_t, det_t, op_field)
    vouchers = [json.loads(b) for (_, t, _, b) in s.stored(n.code) if t == sale_type]
    rows, problems = [], []
    for b in n.scales:
        room = b.model.max_batches
        want = entered.get(b.operator, [])[:room]
        with b.runner.lock:
            table = {x["batch_trace"]: x for x in b.model.store.batches()}  # at the end of the scenario
        row = {
            "scale": b.id,
            "operator": b.operator,
            "batch_sold": b.batch,
            "pushed_at": b.pushed_at,
            "entered": len(entered.get(b.operator, [])),
            "table_room": room,
            "table_at_push": sorted(x["batch_trace"] for x in b.table_at_push),
            "table": sorted(table),
            "problems": [],
        }
        if not b.pushed_at:
            row["problems"].append(
                f"batch {b.batch} entered by {b.operator} was not on the scale within "
                f"{PUSH_WAIT_S:g} s of its entry registration (the harness loaded it itself)"
            )
        else:
            for w in want:
                got = table.get(w["batch"])
                if got is None:
                    row["problems"].append(f"entered batch {w['batch']} not on the scale")
                elif got["commodity"] != w["goods_code"] or (
                    w["batch"] not in moved and got["limit_g"] != w["limit_g"]
                ):
                    row["problems"].append(
                        f"batch {w['batch']} pushed as {got['commodity']}/{got['limit_g']} g, "
                        f"entered as {w['goods_code']}/{w['limit_g']} g"
                    )
        sold = {sale.trace_code for (_, sale, _) in b.sales}
        mine = [v for v in vouchers if v.get(sale_field) in sold]
        stray = [v.get("batch_id") for v in mine if v.get("batch_id") not in table]
        if b.pushed_at and stray:
            row["problems"].append(f"{len(stray)} sale records name batches the node never pushed: {stray[:3]}")
        row["vouchers"] = len(mine)
        rows.append(row)
        problems += [f"{b.id}: {p}" for p in row["problems"]]
    return rows, problems, entered


@pytest.mark.requirement("NODE-WHOL-05")
@pytest.mark.applies(kinds=("node",), needs=("node_scales", "node_wholesale", "handheld_intake"))
def test_entered_batches_pushed_to_the_bound_scales(node_session, evidence):
    """Before trading, the wholesale node loads onto each scale bound to a wholesaler the batches that wholesaler
    entered that day (registered through the node's handheld intake, base and detail): the harness does not load
    them and waits at most a few seconds before the first sale.  Each batch is on the scale with the entry's
    commodity and the entered weight as its limit (as many as the scale's batch table holds, in entry order), and
    every sale record the node uploaded from that scale names a batch the node pushed."""
    s = node_session
    n = next((n for n in s.nodes.values() if n.role == "wholesale"), None)
    if n is None or not n.scales:
        pytest.fail("no wholesale node with scales could be run (harness problem)", pytrace=False)
    rows, problems, entered = _push_check(
        s, n, "market_in_info_base", "market_in_info_detail", "wholesaler_id", "market_tran_info_detail", "tran_id"
    )
    evidence.attach_json("batch_push.json", rows)
    _attach_wire(evidence, s)
    assert entered, "the wholesale node accepted no entry (base + detail) through its handheld intake"
    assert not problems, (
        f"{len(problems)} problems pushing entered batches to the scales; first: {problems[0]}. "
        "Fix: before trading, LOAD_BATCH each operator's entered batches of the day onto the "
        "operator's bound scales"
    )


@pytest.mark.requirement("NODE-RETL-01")
@pytest.mark.applies(kinds=("node",), needs=("node_scales", "node_retail", "handheld_intake"))
def test_retail_entry_transfer_and_receipts(node_session, evidence):
    """At the retail market: (1) every lot a retailer entered through the handheld is confirmed onto the
    retailer's bound scale before trading (as NODE-WHOL-05); (2) a stall transfer, registered as the receiving
    retailer's entry of the same batch_id under a transfer voucher (tran_id) the source retailer issued, puts the
    batch on the receiving stall's scale with the transferred weight and lowers the source scale's remaining
    quantity by it; (3) every sale printed a receipt carrying its trace code, the market's name and the stall
    operator's name (the stall the node bound), and the node uploaded the sale with that trace code."""
    s = node_session
    n = next((n for n in s.nodes.values() if n.role == "retail"), None)
    if n is None or not n.scales:
        pytest.fail("no retail node with scales could be run (harness problem)", pytrace=False)
    tr = n.transfer or {}
    rows, problems, entered = _push_check(
        s,
        n,
        "retail_market_in_info_base",
        "retail_market_in_info_detail",
        "retailer_id",
        "retail_market_tran_info_summ",
        "sale_tran_id",
        frozenset({tr.get("batch")}) if tr else frozenset(),
    )
    if len(n.scales) >= 2 and not tr:
        pytest.fail("the retail scenario found no two stalls to transfer between (harness problem)", pytrace=False)
    if tr:
        if tr["receiving_limit_g"] != tr["moved_g"]:
            problems.append(
                f"transfer of {tr['moved_g']} g of {tr['batch']} to {tr['to']}: the receiving scale "
                f"holds {tr['receiving_limit_g']} (None: not at all) within the wait"
            )
        if tr["source_limit_g"] != tr["entered_g"] - tr["moved_g"]:
            problems.append(
                f"transfer of {tr['moved_g']} g of {tr['batch']} from {tr['from']}: the source scale's "
                f"limit is {tr['source_limit_g']} g, not {tr['entered_g'] - tr['moved_g']} g"
            )
    names = {o.code: o.name for o in n.operators}
    stored = {load(b).get("sale_tran_id") for (_, t, _, b) in s.stored(n.code) if t == "retail_market_tran_info_summ"}
    receipts_bad = []
    for b in n.scales:
        with b.runner.lock:
            printed = {ln.trace_code: r for r in b.model.receipts for ln in r.lines}
        for _, sale, _ in b.sales:
            r = printed.get(sale.trace_code)
            if r is None:
                receipts_bad.append(f"{b.id}: no receipt with trace code {sale.trace_code}")
            elif r.market_name != n.name or r.vendor_name != names.get(b.operator, ""):
                receipts_bad.append(
                    f"{b.id}: receipt of {sale.trace_code} names market {r.market_name!r} / "
                    f"vendor {r.vendor_name!r}, not {n.name!r} / {names.get(b.operator)!r}"
                )
            elif sale.trace_code not in stored:
                receipts_bad.append(f"{b.id}: the receipt's trace code {sale.trace_code} was never uploaded")
    problems += receipts_bad
    evidence.attach_json("retail.json", {"push": rows, "transfer": tr, "receipt_problems": receipts_bad[:50]})
    _attach_wire(evidence, s)
    assert entered, "the retail node accepted no entry (base + detail) through its handheld intake"
    assert not problems, (
        f"{len(problems)} retail problems; first: {problems[0]}. Fix: confirm entered lots onto "
        "the retailer's scale, apply stall transfers to both scales, bind the stall with the "
        "market and operator names"
    )
