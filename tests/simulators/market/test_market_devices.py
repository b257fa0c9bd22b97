"""Device mode: sales on simulated scales, records as SALE_EVENT frames over virtual serial lines."""
import io

import pytest

from profiles import load_profile
from simulators.city import generate_city
from simulators.market import devices
from simulators.market.model import MarketModel

from marketkit import DAY

P = load_profile()


def run(mode, days=1, faults=None):
    s = io.StringIO()
    m = MarketModel(generate_city("tiny", 1, P), P, seed=1, start=DAY, days=days, stream=s, fault_rates=faults)
    if mode == "devices":
        devices.attach(m)
    m.run()
    return m, s.getvalue()


@pytest.fixture(scope="module")
def device_day():
    return run("devices")


def test_same_seed_same_business_records_in_both_modes(tiny_day, device_day):
    fast_model, fast_led, fast_stream, _ = tiny_day
    m, stream = device_day
    st = m.scales.stats
    assert st["sales"] > 1000 and st["uploaded"] == st["sales"] and st["host_errors"] == 0
    # every traced sale crossed a serial line as a SALE_EVENT frame and was acknowledged
    sent = sum(r.endpoint.stats["events_sent"] for r in m.scales.runners.values())
    acked = sum(r.endpoint.stats["events_acked"] for r in m.scales.runners.values())
    assert sent == acked == st["sales"]
    assert stream == fast_stream
    assert sorted((s["id"], s["kg"], s["parent"]) for s in m.ledger.sales()) == \
        sorted((s["id"], s["kg"], s["parent"]) for s in fast_led.sales())
    assert m.ledger.conservation() == []


def test_scales_hold_what_they_sold_and_hosts_acknowledge(device_day):
    m, _ = device_day
    for code, scale in m.scales.scales.items():
        n_sales = sum(1 for s in m.ledger.sales(traced=True) if s["holder"] == code)
        assert scale.store.last_trace_seq == n_sales
        assert scale.store.unacked_count() < n_sales or n_sales == 0   # hourly ACK_RECORDS frees memory
    assert m.scales.lines and all(ln.closed for ln in m.scales.lines)  # lines are torn down after the run


def test_second_scale_sales_never_reach_the_traceability_scale():
    faults = {"second_scale": 1.0, "second_scale_use": 1.0}
    m, stream = run("devices", faults=faults)
    assert m.scales.stats["sales"] == 0 and m.counters["untraceable"] == m.counters["sales"] > 0
    assert '"scale_sale"' not in stream
