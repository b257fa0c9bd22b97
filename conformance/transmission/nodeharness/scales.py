"""The simulated scales of a retail or wholesale node under test: for each chosen batch (the retail batch the
stop-trade phase stops, and one of another operator; one batch at a wholesaler) a scale model on a pty with
a wire trace, bound to the operator's stall and served in this process; its :class:`~.under_test.ScaleBench`
carries the batch's entry (name, limit, price) the node is to push (NODE-WHOL-05)."""

from __future__ import annotations

from .state import SessionState
from .under_test import NodeUnderTest, ScaleBench


def make_scales(sess: SessionState, n: NodeUnderTest) -> None:
    # imported when the scenario runs (as in start.run): the device and serial simulators are needed only
    # when the target is a node
    from simulators.devices import ScaleModel, serve
    from simulators.serial import LineSettings, open_line
    from simulators.serial.trace import WireTrace

    if n.role == "retail":
        base = [
            r["data"] for r in sess.day_records if r["node"] == n.code and r["type"] == "retail_market_in_info_base"
        ]
        details = {
            r["data"]["batch_id"]: r["data"]
            for r in sess.day_records
            if r["node"] == n.code and r["type"] == "retail_market_in_info_detail"
        }
        op_field = "retailer_id"
    else:
        base = [r["data"] for r in sess.day_records if r["node"] == n.code and r["type"] == "market_in_info_base"]
        details = {
            r["data"]["batch_id"]: r["data"]
            for r in sess.day_records
            if r["node"] == n.code and r["type"] == "market_in_info_detail"
        }
        op_field = "wholesaler_id"
    picks = []
    if n.role == "retail" and sess.stop_batch:
        picks.append(next(b for b in base if b["batch_id"] == sess.stop_batch))
    for b in base:  # a second batch of another operator (meat if there is one)
        if len(picks) >= (2 if n.role == "retail" else 1):
            break
        if (
            b["batch_id"] in details
            and all(p[op_field] != b[op_field] for p in picks)
            and (
                n.role != "retail"
                or details[b["batch_id"]]["goods_code"].startswith("2111")
                or not any(
                    details[x["batch_id"]]["goods_code"].startswith("2111") for x in base if x["batch_id"] in details
                )
            )
        ):
            picks.append(b)
    for i, b in enumerate(picks):
        d = details[b["batch_id"]]
        op = b[op_field]
        stall = next((s.number for s in sess.city.stalls if s.operator_code == op), f"Z{i + 1:02d}")
        sid = f"{n.code}-S{i + 1}"
        line = open_line(
            f"h{n.code}s{i + 1}",
            backend="pty",
            settings=LineSettings(baudrate=115200),
            link=str(n.workdir / f"scale{i + 1}"),
            trace=WireTrace(n.workdir / f"scale{i + 1}.wire.jsonl"),
        )
        model = ScaleModel(
            n.workdir / f"scale{i + 1}.db",
            seed=sess.seed * 100 + i,
            trace_seq_start=9_000_001,
            profile=sess.profile,
            keep_receipts=500,
        )
        model.bind_stall(n.code, op, stall, n.name, "")
        # what the node is to push (NODE-WHOL-05): the entered weight as the limit, the entry's price or the
        # reference node's default (the wholesale entry carries no price)
        price = int(round(float(d.get("price") or "10.00") * 100))
        entry = (d["goods_name"], int(round(float(d["weight"]) * 1000)), max(price, 1))
        runner = serve(model, line.device).start()
        bench = ScaleBench(sid, line, model, runner, op, stall, b["batch_id"], d["goods_code"], entry)
        if not sess.with_handheld:
            bench.load_entry()  # the node has no entry records to learn the batch from
        n.scales.append(bench)
        if b["batch_id"] == sess.stop_batch:
            sess.stop_scale = bench
