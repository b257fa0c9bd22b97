"""Entered batches pushed to the bound scale (NODE-WHOL-05): a real ScaleWorker on a sim:// line, an outbox holding
entry records as the handheld intake stores them, one round at a time."""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiles import load_profile
from profiles.envelope import beijing
from profiles.findings import Finding
from simulators.devices import ScaleModel, serve
from conformance.proofs.node_faults import NoBatchPush, NoStallTransfer
from simulators.node.batchpush import EntryBatches, scaled
from simulators.node.collector import ScaleWorker
from simulators.node.config import ConfigError, DeviceConfig, load_config
from simulators.node.outbox import Item, Outbox, content_key
from simulators.node.sales import SaleMapper, kg_text, yuan_text
from simulators.serial import LineSettings, open_line

from nodekit import write_config

NODE, OP, OTHER = "650104002", "6501040020002", "6501040020003"
P = load_profile()
NOW = _dt.datetime.now(_dt.timezone.utc)
TODAY = beijing(NOW).date()


def _batch(op: str, seq: int) -> str:
    return P.codes.trace_code(op, seq)


def _entry(
    op: str,
    seq: int,
    day: _dt.date,
    grams: int = 12_000,
    goods=("01202002", "小白菜"),
    batch: str | None = None,
    tran: str | None = None,
) -> list[Item]:
    b = batch or _batch(op, seq)
    t = {"tran_id": tran} if tran else {}
    base = {
        "market_id": NODE,
        "market_name": "北园批发市场",
        "in_date": day.strftime("%Y%m%d"),
        "wholesaler_id": op,
        "wholesaler_name": "王杨",
        **t,
        "batch_id": b,
    }
    detail = {**t, "batch_id": b, "goods_code": goods[0], "goods_name": goods[1], "weight": kg_text(grams)}
    return [
        Item("market_in_info_base", base, base["in_date"], "handheld", content_key("b", base)),
        Item("market_in_info_detail", detail, base["in_date"], "handheld", content_key("d", detail)),
    ]


def _bench(tmp_path, name: str, max_batches: int = 8, worker_class=ScaleWorker, op: str = OP, outbox=None):
    line = open_line(name, settings=LineSettings(baudrate=115200))
    scale = ScaleModel(tmp_path / f"{name}.db", seed=1, trace_seq_start=9_300_001, max_batches=max_batches)
    runner = serve(scale, line.device).start()
    outbox = outbox or Outbox(tmp_path / f"{name}.outbox.db")
    mapper = SaleMapper(NODE, "北园批发市场", "vegetable_wholesale", {OP: "王杨"}.get, P.codes)
    dev = DeviceConfig("S1", "scale", line.host_url, line.host_url, 115200, 0.05, 20, 1.0, op, "A01")
    worker = worker_class(
        dev,
        outbox,
        mapper,
        P,
        NODE,
        "北园批发市场",
        lambda: NOW,
        EntryBatches(outbox, mapper.role),
        default_price_fen=1234,
    )
    return line, scale, runner, outbox, worker


def _table(scale, runner) -> dict[str, dict]:
    with runner.lock:
        return {b["batch_trace"]: b for b in scale.store.batches()}


def _close(line, runner, outbox, worker):
    worker._disconnect("test over")
    runner.stop()
    line.close()
    outbox.close()


def test_the_operators_entered_batches_of_the_day_are_loaded(tmp_path):
    line, scale, runner, outbox, worker = _bench(tmp_path, "push-1")
    try:
        outbox.add(
            _entry(OP, 1, TODAY, 12_345)
            + _entry(OP, 2, TODAY - _dt.timedelta(days=1))
            + _entry(OTHER, 3, TODAY)
            + _entry(OP, 4, TODAY - _dt.timedelta(days=3))
        )
        bad = _entry(OP, 5, TODAY)
        bad[1] = replace(bad[1], findings=(Finding("TRAN-REC-04", "weight", "重量无效", "bad weight"),))  # never pushed
        outbox.add(bad)
        worker.round()
        got = _table(scale, runner)
        assert set(got) == {_batch(OP, 1), _batch(OP, 2)}
        b = got[_batch(OP, 1)]
        assert (b["commodity"], b["commodity_name"], b["limit_g"], b["unit_price_fen"]) == (
            "01202002",
            "小白菜",
            12_345,
            1234,
        )
        # a batch entered later is pushed on the next round; one already held is not loaded again
        outbox.add(_entry(OP, 6, TODAY, 5_000))
        with runner.lock:
            scale.sell(_batch(OP, 1), weight_g=1_000)
        worker.round()
        got = _table(scale, runner)
        assert _batch(OP, 6) in got and got[_batch(OP, 1)]["sold_g"] == 1_000
    finally:
        _close(line, runner, outbox, worker)


@pytest.mark.parametrize("worker_class", [ScaleWorker, NoStallTransfer])
def test_stall_transfer_moves_quantity_to_the_receiving_scale(tmp_path, worker_class):
    """A's batch (12 kg) entered again by B under a transfer voucher A issued (3 kg): B's scale gets the batch
    with 3 kg, A's scale keeps what it sold and its limit falls to 9 kg (not with the defect no-stall-transfer,
    conformance/proofs/node_faults.py)."""
    line, scale, runner, outbox, wa = _bench(tmp_path, "push-t1", worker_class=worker_class)
    lb, sb, rb, _, wb = _bench(tmp_path, "push-t2", op=OTHER, outbox=outbox, worker_class=worker_class)
    try:
        outbox.add(_entry(OP, 1, TODAY, 12_000))
        wa.round()
        with runner.lock:
            scale.sell(_batch(OP, 1), weight_g=1_500)
        outbox.add(_entry(OTHER, 0, TODAY, 3_000, batch=_batch(OP, 1), tran=_batch(OP, 900)))
        wa.round()
        wb.round()
        a, b = _table(scale, runner)[_batch(OP, 1)], _table(sb, rb)[_batch(OP, 1)]
        assert b["limit_g"] == 3_000 and b["sold_g"] == 0
        assert a["sold_g"] == 1_500
        assert a["limit_g"] == (9_000 if worker_class is ScaleWorker else 12_000)
    finally:
        _close(lb, rb, outbox, wb)
        _close(line, runner, outbox, wa)


def test_a_full_batch_table_stops_pushing_without_a_device_error(tmp_path):
    line, scale, runner, outbox, worker = _bench(tmp_path, "push-2", max_batches=2)
    try:
        outbox.add([it for seq in range(1, 5) for it in _entry(OP, seq, TODAY)])
        worker.round()
        assert set(_table(scale, runner)) == {_batch(OP, 1), _batch(OP, 2)}  # entry order, up to the room
        assert worker.table_full and worker.driver is not None
        worker.round()  # no new attempt, no error
        assert len(_table(scale, runner)) == 2
    finally:
        _close(line, runner, outbox, worker)


def test_defect_no_batch_push_leaves_the_scale_empty(tmp_path):
    line, scale, runner, outbox, worker = _bench(tmp_path, "push-3", worker_class=NoBatchPush)
    try:
        outbox.add(_entry(OP, 1, TODAY))
        worker.round()
        assert _table(scale, runner) == {}
    finally:
        _close(line, runner, outbox, worker)


@given(st.integers(min_value=1, max_value=10**12))
def test_scaled_inverts_the_record_text(n):
    assert scaled(kg_text(n), 1000) == n
    assert scaled(yuan_text(n), 100) == n


@pytest.mark.parametrize("text", ["", "abc", "0", "0.000", "-1.5", "1.2345", None, "NaN", "1e400x"])
def test_scaled_refuses_what_is_not_a_positive_exact_quantity(text):
    assert scaled(text, 1000) is None


def test_config_batches_section(tmp_path):
    path = write_config(tmp_path / "n.toml", NODE, "北园批发市场", "vegetable_wholesale", "http://127.0.0.1:9", "k")
    cfg = load_config(path)
    assert cfg.push_batches and cfg.default_price_fen == 1000
    path.write_text(path.read_text("utf-8") + "\n[batches]\npush = false\ndefault_price = 12.5\n", "utf-8")
    cfg = load_config(path)
    assert not cfg.push_batches and cfg.default_price_fen == 1250
    path.write_text(path.read_text("utf-8").replace("12.5", "0"), "utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "default_price" in e.value.en
