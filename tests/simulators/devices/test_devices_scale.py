"""The scale model: weighing, batches, 限量控制, stop-trade, storage policy, faults."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from devices_helpers import BATCH, BATCH2, NODE, OPERATOR, bound_scale
from profiles import load_profile
from simulators.devices.faults import FaultError, FaultSet
from simulators.devices.refusal import PowerLost, Refused
from simulators.devices.scale import ScaleModel
from simulators.devices.storage import MemoryScaleStore
from simulators.devices.weighing import Metrology, WeighingUnit

CODES = load_profile().codes
DATA = load_profile().data("device_protocol")


def refused(fn, *a, **kw) -> str:
    with pytest.raises(Refused) as e:
        fn(*a, **kw)
    return e.value.reason


@pytest.fixture(params=["sqlite", "memory"])
def store(request):
    """Each storage contract test runs on both stores: SQLite (in memory) and the plain-Python one."""
    return None if request.param == "sqlite" else MemoryScaleStore()


# -- weighing ------------------------------------------------------------------------------


def _unit(model="counter", seed=0, t=None):
    clock = t or [100.0]
    return WeighingUnit(Metrology.from_profile(DATA, model), random.Random(seed), lambda: clock[0]), clock


def test_dual_range_divisions_and_rounding():
    w, _ = _unit()
    w.place(1234.0, settled=True)
    r = w.read()
    assert r.division_g == 2 and r.gross_g % 2 == 0 and abs(r.gross_g - 1234) <= 4 and r.stable
    w.place(8000.4, settled=True)
    r = w.read()
    assert r.division_g == 5 and r.gross_g % 5 == 0 and abs(r.gross_g - 8000) <= 10


def test_platform_scale_divisions():
    w, _ = _unit("platform")
    w.place(100_000, settled=True)
    r = w.read()
    assert r.division_g == 50 and r.gross_g % 50 == 0


def test_overload_and_minimum():
    w, _ = _unit()
    w.place(15_000 + 9 * 5 + 20, settled=True)
    assert w.read().overload
    w.place(15_030, settled=True)  # above Max, below Max + 9e: shown, not saleable
    r = w.read()
    assert not r.overload and not w.saleable(r)
    w.place(30, settled=True)  # below Min = 20 e1 = 40 g
    assert not w.saleable(w.read())


def test_unstable_until_settled():
    w, t = _unit()
    w.place(500)
    assert not w.read().stable and not w.tare()
    t[0] += 0.8
    assert w.read().stable


def test_tare_subtracts():
    w, _ = _unit()
    w.place(200, settled=True)
    assert w.tare()
    w.place(1200, settled=True)
    r = w.read()
    assert abs(r.tare_g - 200) <= 4 and r.net_g == r.gross_g - r.tare_g and abs(r.net_g - 1000) <= 8


def test_noise_is_seeded():
    w1, _ = _unit(seed=5)
    w2, _ = _unit(seed=5)
    w3, _ = _unit(seed=6)
    for w in (w1, w2, w3):
        w.place(777.3)
    a, b, c = ([w.read().gross_g for _ in range(20)] for w in (w1, w2, w3))
    assert a == b and a != c and len(set(a)) > 1  # noisy while unstable, same seed same noise


# -- selling ------------------------------------------------------------------------------


def test_sale_issues_sequential_valid_trace_codes(store):
    s = bound_scale(store)
    recs = [s.sell(BATCH, 500) for _ in range(5)]
    assert [r.trace_code for r in recs] == [CODES.trace_code(OPERATOR, i) for i in range(1, 6)]
    assert all(CODES.is_valid(r.trace_code, "trace") for r in recs)
    assert [r.index for r in recs] == [1, 2, 3, 4, 5]
    r = recs[0]
    assert r.amount_fen == (r.weight_g * 2800 + 500) // 1000 and r.stall == "A-12"
    assert r.commodity_name == "猪前腿肉"


def test_trace_seq_start_for_disjoint_ranges(store):
    s = bound_scale(store, trace_seq_start=5_000_001)
    assert s.sell(BATCH, 500).trace_code == CODES.trace_code(OPERATOR, 5_000_001)


def test_limit_control_refuses_oversell(store):
    s = bound_scale(store)
    s.sell(BATCH, 6000)
    assert refused(s.sell, BATCH, 4100) == "LIMIT_EXCEEDED"
    s.sell(BATCH, 3990)  # what is left (noise ≤ 2 divisions)
    st = {b.batch_trace: b for b in s.status().batches}
    assert st[BATCH].sold_g <= 10_000


def test_several_batches_independent(store):
    s = bound_scale(store)
    s.sell(BATCH2, 4900)
    assert refused(s.sell, BATCH2, 500) == "LIMIT_EXCEEDED"
    assert s.sell(BATCH, 500).batch_trace == BATCH


def test_stop_trade_blocks_only_that_batch(store):
    s = bound_scale(store)
    s.stop_trade(BATCH, "检测不合格")
    assert refused(s.sell, BATCH, 500) == "TRADE_STOPPED"
    s.sell(BATCH2, 500)
    assert refused(s.stop_trade, "65010200200010009999") == "UNKNOWN_BATCH"


def test_refusals_before_setup(store):
    s = ScaleModel(store)
    assert refused(s.sell, BATCH, 500) == "NOT_BOUND"
    s.bind_stall(NODE, OPERATOR, "A-1")
    assert refused(s.sell, BATCH, 500) == "UNKNOWN_BATCH"
    assert refused(s.bind_stall, NODE, "6501020020001", "A") == "BAD_CODE"  # operator not under node
    assert refused(s.load_batch, "123", "21111002", "", 100, 100) == "BAD_CODE"
    assert refused(s.load_batch, BATCH, "21111002", "", 0, 100) == "BAD_PAYLOAD"


def test_batch_table_full(store):
    s = bound_scale(store, max_batches=2)
    assert refused(s.load_batch, "65010200200010000009", "21111002", "", 100, 100) == "BATCH_TABLE_FULL"
    s.load_batch(BATCH, "21111002", "", 20_000, 2900)  # reloading a known batch is fine
    assert {b.batch_trace: b.limit_g for b in s.status().batches}[BATCH] == 20_000


def test_weight_invalid_refused(store):
    s = bound_scale(store)
    s.place(20, settled=True)
    assert refused(s.sell, BATCH) == "WEIGHT_INVALID"
    s.place(1000)  # not yet stable
    assert refused(s.sell, BATCH) == "WEIGHT_INVALID"


# -- storage policy -----------------------------------------------------------------------


def test_memory_full_refuses_and_ack_frees(store):
    s = bound_scale(store, capacity=3)
    for _ in range(3):
        s.sell(BATCH, 100)
    assert refused(s.sell, BATCH, 100) == "MEMORY_FULL"
    assert s.status().memory_free == 0
    assert s.read_records(1, 10).records[0].index == 1  # nothing was overwritten
    assert s.ack_records(2).freed == 2
    assert s.sell(BATCH, 100).index == 4
    assert [r.index for r in s.read_records(1, 10).records] == [3, 4]


def test_ack_of_future_index_refused(store):
    s = bound_scale(store)
    s.sell(BATCH, 100)
    assert refused(s.ack_records, 2) == "BAD_INDEX"
    assert refused(s.read_records, 5, 1) == "BAD_INDEX"


def test_read_records_resumable_and_bounded(store):
    s = bound_scale(store)
    for _ in range(30):
        s.sell(BATCH, 100)
    got, idx = [], 1
    while True:
        r = s.read_records(idx, 255)
        got += r.records
        idx = r.next_index
        if not r.records:
            break
    assert [x.index for x in got] == list(range(1, 31))
    first = s.read_records(1, 255)
    assert 0 < len(first.records) < 30 and first.remaining == 30 - len(first.records)  # bounded by frame size


def test_request_id_idempotent(store):
    s = bound_scale(store)
    a = s.sell(BATCH, 500, request_id=77)
    b = s.sell(BATCH, 900, request_id=77)
    assert a == b and s.status().memory_used == 1


# -- faults -------------------------------------------------------------------------------


def test_unknown_fault_and_bad_value():
    with pytest.raises(FaultError):
        FaultSet(["nope"])
    with pytest.raises(FaultError):
        FaultSet(["bad_crc=x"])
    with pytest.raises(FaultError):
        FaultSet(["card_pulled"], device="scale")


def test_paper_out_and_low(store):
    s = bound_scale(store, faults=FaultSet(["paper_out"]))
    assert s.status().paper == 2 and refused(s.sell, BATCH, 100) == "PAPER_OUT"
    s = bound_scale(store, faults=FaultSet(["paper_low=2"]))
    assert s.status().paper == 1
    s.sell(BATCH, 100)
    s.sell(BATCH, 100)
    assert refused(s.sell, BATCH, 100) == "PAPER_OUT"


def test_ink_out_prints_blank(store):
    s = bound_scale(store, faults=FaultSet(["ink_out"]))
    s.sell(BATCH, 100)
    assert s.receipts[-1].blank and s.receipts[-1].text().strip() == "" and s.status().ink == 1


def test_dup_seq_firmware_bug_duplicates_trace_codes(store):
    from conformance.proofs.device_firmware import ReusesTraceCodes

    s = bound_scale(store, model_class=ReusesTraceCodes)
    codes = [s.sell(BATCH, 100).trace_code for _ in range(4)]
    assert len(set(codes)) == 2


def test_missing_fields_firmware_bug(store):
    from conformance.proofs.device_firmware import StoresRecordsWithoutCodes

    s = bound_scale(store, model_class=StoresRecordsWithoutCodes)
    r = s.sell(BATCH, 100)
    assert r.batch_trace == "" and r.commodity == ""
    assert {b.batch_trace: b.sold_g for b in s.status().batches}[BATCH] == r.weight_g


def test_clock_drift_ppm():
    t = [0.0]
    s = ScaleModel(None, time_source=lambda: t[0], faults=FaultSet(["clock_drift=500"]))
    s.set_clock(datetime(2024, 5, 18, 6, 0, 0))
    t[0] = 86_400.0
    assert s.clock.now() - datetime(2024, 5, 19, 6, 0, 0) == timedelta(seconds=43.2)
    assert refused(s.set_clock, datetime(1999, 1, 1)) == "CLOCK_INVALID"


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_power_loss_fault_loses_only_the_sale_in_progress(tmp_path, kind):
    s = bound_scale(tmp_path / "s.db" if kind == "file" else MemoryScaleStore(), faults=FaultSet(["power_loss=3"]))
    a, b = s.sell(BATCH, 100), s.sell(BATCH, 200)
    with pytest.raises(PowerLost):
        s.sell(BATCH, 300)
    assert not s.powered
    with pytest.raises(PowerLost):
        s.sell(BATCH, 300)
    s.restart()
    recs = s.read_records(1, 10).records
    assert recs == [a, b]
    c = s.sell(BATCH, 300)
    assert c.index == 3 and c.trace_code == CODES.trace_code(OPERATOR, 3)
    assert {x.batch_trace: x.sold_g for x in s.status().batches}[BATCH] == a.weight_g + b.weight_g + c.weight_g


def test_identify_capabilities():
    s = bound_scale()
    caps = s.identify().capability_map()
    assert caps["max_g"] == "15000" and caps["e1_g"] == "2" and caps["storage_full_policy"] == "refuse-sales"
    assert ScaleModel(None, model="platform").identify().capability_map()["max_g"] == "150000"


def test_tamper_and_battery_in_status():
    s = bound_scale(faults=FaultSet(["tamper", "battery_low"]))
    st = s.status()
    assert st.tamper and st.power == 2 and st.bound


def test_keep_no_receipts_still_uses_paper(store):
    """keep_receipts=0 (a market simulation's scales): each sale still takes a receipt's paper and runs out,
    nothing is kept; the default keeps the last receipts, one per sale."""
    s = bound_scale(store, keep_receipts=0, paper_receipts=2)
    s.sell(BATCH, 500)
    s.sell(BATCH, 500)
    assert s.paper == 0 and len(s.receipts) == 0
    assert refused(s.sell, BATCH, 500) == "PAPER_OUT"
    kept = bound_scale(store if store is None else type(store)(), paper_receipts=5)
    rec = kept.sell(BATCH, 500)
    assert kept.paper == 4 and [r.lines[0].trace_code for r in kept.receipts] == [rec.trace_code]
