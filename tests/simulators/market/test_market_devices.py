"""Device mode: sales on simulated scales; the node's host drives each scale over a virtual serial line
(LOAD_BATCH before selling, STOP_TRADE on a stop-trade order, SALE_EVENT + ACK_RECORDS for the records)."""

import io

import pytest

from profiles import load_profile
from profiles.device import messages as msg
from simulators.city import generate_city
from simulators.devices.refusal import Refused
from simulators.market import devices
from simulators.market.model import MarketModel
from simulators.market.rates import Rates

from marketkit import DAY

P = load_profile()
#: every vegetable batch tested, every test failed: stop-trade orders reach stalls that sold from the batch
FAILING_TESTS = {"volume": {"detection_sample_share": 1.0, "detection_pass_rate": 0.0}}


def run(mode, days=1, faults=None, overrides=None, prepare=None):
    """Run tiny; ``prepare(model)`` runs after ``devices.attach`` and before the run (its value is returned)."""
    s = io.StringIO()
    m = MarketModel(
        generate_city("tiny", 1, P),
        P,
        seed=1,
        start=DAY,
        days=days,
        stream=s,
        fault_rates=faults,
        rates=Rates.load(overrides=overrides),
    )
    seen = None
    if mode == "devices":
        devices.attach(m)
        if prepare is not None:
            seen = prepare(m)
    m.run()
    return m, s.getvalue(), seen


def wire_log(m) -> dict:
    """Record every request that reaches a scale from its line: the endpoint decodes a frame and calls
    ``scale.handle`` (the market model's own calls on the scale, ``sell`` and ``place``, do not pass there)."""
    log = {}
    for code, scale in m.scales.scales.items():
        got = log[code] = []

        def handle(req, inner=scale.handle, got=got):
            got.append((m.env.now, req))
            return inner(req)

        scale.handle = handle
    return log


def sale_records(stream: str) -> list[dict]:
    import json

    return [o for o in map(json.loads, stream.splitlines()) if o.get("type") == "scale_sale"]


@pytest.fixture(scope="module")
def device_day():
    m, stream, log = run("devices", prepare=wire_log)
    return m, stream, log


def test_same_seed_same_business_records_in_both_modes(tiny_day, device_day):
    fast_model, fast_led, fast_stream, _ = tiny_day
    m, stream, _ = device_day
    st = m.scales.stats
    assert st["sales"] > 1000 and st["uploaded"] == st["sales"] and st["host_errors"] == 0
    # every traced sale crossed a serial line as a SALE_EVENT frame and was acknowledged
    sent = sum(r.endpoint.stats["events_sent"] for r in m.scales.runners.values())
    acked = sum(r.endpoint.stats["events_acked"] for r in m.scales.runners.values())
    assert sent == acked == st["sales"]
    assert stream == fast_stream
    assert sorted((s["id"], s["kg"], s["parent"]) for s in m.ledger.sales()) == sorted(
        (s["id"], s["kg"], s["parent"]) for s in fast_led.sales()
    )
    assert m.ledger.conservation() == []


def test_scales_hold_what_they_sold_and_hosts_acknowledge(device_day):
    m, _, _ = device_day
    for code, scale in m.scales.scales.items():
        n_sales = sum(1 for s in m.ledger.sales(traced=True) if s["holder"] == code)
        assert scale.store.last_trace_seq == n_sales
        assert scale.store.unacked_count() < n_sales or n_sales == 0  # hourly ACK_RECORDS frees memory
    assert m.scales.lines and all(ln.closed for ln in m.scales.lines)  # lines are torn down after the run


def test_second_scale_sales_never_reach_the_traceability_scale():
    faults = {"second_scale": 1.0, "second_scale_use": 1.0}
    m, stream, _ = run("devices", faults=faults)
    assert m.scales.stats["sales"] == 0 and m.counters["untraceable"] == m.counters["sales"] > 0
    assert '"scale_sale"' not in stream


def test_every_batch_a_scale_sold_from_arrived_as_a_load_batch_frame_first(device_day):
    m, stream, log = device_day
    st = m.scales.stats
    loads = {code: [(t, q) for t, q in got if isinstance(q, msg.LoadBatchRequest)] for code, got in log.items()}
    n_loads = sum(map(len, loads.values()))
    assert n_loads == st["loads"] > 0 and st["host_errors"] == 0 and st["naks"] == {}
    assert n_loads < st["sales"] / 10  # a load per lot and day price, not per sale
    # every request the hosts sent crossed a line (no retries on a clean line) and reached the scale
    assert (
        sum(r.endpoint.stats["requests"] for r in m.scales.runners.values())
        == st["transactions"]
        == sum(map(len, log.values()))
    )
    sales = sale_records(stream)  # a record's t has 3 decimals
    assert len(sales) == st["sales"]
    for rec in sales:
        d = rec["data"]
        price_fen = int(round(float(d["price"]) * 100))
        assert any(
            q.batch_trace == d["batch_id"] and q.unit_price_fen == price_fen and t <= rec["t"] + 0.001
            for t, q in loads[d["retailer_id"]]
        ), rec
    for code, got in loads.items():  # the limit is the lot's quantity
        for _, q in got:
            assert (
                q.limit_g == round(m.lots[q.batch_trace].received * 1000)
                and q.commodity == m.lots[q.batch_trace].goods_code
            )


@pytest.fixture(scope="module")
def stop_runs():
    fast = run("fast", overrides=FAILING_TESTS)
    dev = run("devices", overrides=FAILING_TESTS, prepare=wire_log)
    return fast, dev


def test_stop_trade_reaches_the_scales_that_hold_the_batch_and_they_refuse_it(stop_runs):
    (fast, fast_stream, _), (m, stream, log) = stop_runs
    st = m.scales.stats
    stops = {
        (code, q.batch_trace): q for code, got in log.items() for _, q in got if isinstance(q, msg.StopTradeRequest)
    }
    assert stops and len(stops) == st["stops"] and st["host_errors"] == 0
    # every stopped lot a stall's scale had been loaded with was stopped over the wire, and no other
    loaded = {(code, q.batch_trace) for code, got in log.items() for _, q in got if isinstance(q, msg.LoadBatchRequest)}
    stopped = {(lot.holder, ref) for ref, lot in m.lots.items() if lot.stopped}
    assert set(stops) == loaded & stopped
    for (code, batch), q in stops.items():
        scale = m.scales.scales[code]
        assert scale.store.batch(batch)["stopped"] and q.reason == devices.STOP_REASON
        with pytest.raises(Refused) as exc:
            scale.sell(batch, weight_g=500)
        assert exc.value.reason == "TRADE_STOPPED"
        assert fast.lots[batch].stopped  # the fast mode stopped the same lot
    # the same decisions in both modes: the same records, the same sales
    assert stream == fast_stream
    assert sorted((s["id"], s["kg"]) for s in m.ledger.sales()) == sorted(
        (s["id"], s["kg"]) for s in fast.ledger.sales()
    )


def test_a_load_the_scale_refuses_is_counted_and_its_sales_are_refused():
    def one_batch(m):
        for scale in m.scales.scales.values():
            scale.max_batches = 1  # a scale whose batch table holds one batch

    m, stream, _ = run("devices", prepare=one_batch)
    st = m.scales.stats
    assert st["naks"].get("BATCH_TABLE_FULL", 0) > 0 and st["host_errors"] == sum(st["naks"].values())
    assert st["refused"] > 0 and st["uploaded"] == st["sales"] == len(sale_records(stream))
    for code, scale in m.scales.scales.items():  # at most the first batch is on each scale
        assert len(scale.store.batches()) <= 1
        assert {r["data"]["batch_id"] for r in sale_records(stream) if r["data"]["retailer_id"] == code} <= {
            b["batch_trace"] for b in scale.store.batches()
        }
