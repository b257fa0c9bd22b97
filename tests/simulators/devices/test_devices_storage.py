"""The two scale stores keep one contract: any sequence of operations gives the same answers on both."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.devices.refusal import PowerLost
from simulators.devices.storage import MemoryScaleStore, ScaleStore

BATCHES = ["65010200200010000007", "65010200200010000008", "65010200200010000009"]
T0 = datetime(2025, 3, 10, 6, 0, 0)

op = st.one_of(
    st.tuples(st.just("load"), st.sampled_from(BATCHES), st.integers(1, 50_000), st.integers(1, 9_999)),
    st.tuples(st.just("stop"), st.sampled_from(BATCHES + ["65010200200010009999"])),
    st.tuples(
        st.just("sell"),
        st.sampled_from(BATCHES),
        st.integers(1, 5_000),
        st.one_of(st.none(), st.integers(1, 2)),
        st.booleans(),
    ),
    st.tuples(st.just("ack"), st.integers(0, 40)),
    st.tuples(st.just("read"), st.integers(0, 40), st.integers(-1, 10)),
    st.tuples(st.just("count"), st.integers(0, 40)),
    st.tuples(st.just("by_request"), st.integers(1, 2)),
    st.tuples(st.just("bind"), st.text(max_size=4)),
)


def _apply(store, o, step: int):
    kind = o[0]
    if kind == "load":
        store.load_batch(
            {
                "batch_trace": o[1],
                "commodity": "21111002",
                "commodity_name": "猪前腿肉",
                "limit_g": o[2],
                "unit_price_fen": o[3],
            }
        )
        return store.batches()
    if kind == "stop":
        return store.stop_batch(o[1], "检测不合格"), store.batch(o[1])
    if kind == "sell":
        _, batch, grams, request_id, cut = o
        seq = store.last_trace_seq + 1
        sale = {
            "trace_code": f"{seq:020d}",
            "batch_trace": batch,
            "commodity": "21111002",
            "commodity_name": "猪前腿肉",
            "weight_g": grams,
            "unit_price_fen": 2800,
            "amount_fen": (grams * 2800 + 500) // 1000,
            "time": T0 + timedelta(seconds=step),
            "order_no": f"RS{step:08d}",
            "operator_code": "6501020010001",
            "stall": "A-12",
        }
        try:
            row = store.commit_sale(sale, seq, request_id, before_commit=_cut if cut else None)
        except PowerLost:
            store.power_cut()
            return "cut", store.next_index, store.last_trace_seq, store.batches()
        return row, store.next_index, store.last_trace_seq, store.batch(batch)
    if kind == "ack":
        return store.acknowledge(o[1]), store.unacked_count()
    if kind == "read":
        return store.read_from(o[1], o[2])
    if kind == "count":
        return store.count_from(o[1])
    if kind == "by_request":
        return store.sale_by_request(o[1])
    if kind == "bind":
        store.bind_stall({"stall": o[1]})
        return store.stall()
    raise AssertionError(kind)


def test_a_repeated_request_id_finds_the_oldest_stored_sale():
    ops = [
        ("load", BATCHES[0], 50_000, 100),
        ("sell", BATCHES[0], 10, 1, False),
        ("sell", BATCHES[0], 20, 1, False),
        ("by_request", 1),
        ("ack", 1),
        ("by_request", 1),
    ]
    for store in (ScaleStore(None), MemoryScaleStore()):
        got = [_apply(store, o, i) for i, o in enumerate(ops)]
        assert got[3]["weight_g"] == 10 and got[5]["weight_g"] == 20


def _cut():
    raise PowerLost()


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
def test_memory_store_answers_as_the_sqlite_store(ops):
    sql, mem = ScaleStore(None), MemoryScaleStore()
    try:
        for i, o in enumerate(ops):
            assert _apply(mem, o, i) == _apply(sql, o, i), o
        assert mem.all_sales() == sql.all_sales()
        assert (mem.next_index, mem.last_trace_seq) == (sql.next_index, sql.last_trace_seq)
    finally:
        sql.close()


@pytest.mark.parametrize("make", [lambda: ScaleStore(None), MemoryScaleStore], ids=["sqlite", "memory"])
def test_rows_are_copies(make):
    s = make()
    s.load_batch(
        {"batch_trace": BATCHES[0], "commodity": "21111002", "commodity_name": "x", "limit_g": 10, "unit_price_fen": 1}
    )
    b = s.batch(BATCHES[0])
    b["sold_g"] = 99
    assert s.batch(BATCHES[0])["sold_g"] == 0


@pytest.mark.parametrize("make", [lambda: ScaleStore(None), MemoryScaleStore], ids=["sqlite", "memory"])
def test_firmware_bug_hooks(make):
    s = make()
    s.bind_stall({"stall": "A"})
    s.forget_stall()
    assert s.stall() is None
    s.reset_trace_seq(7)
    assert s.last_trace_seq == 7
