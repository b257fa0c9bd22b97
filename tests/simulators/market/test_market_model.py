"""The market day on the tiny city: determinism, truth, conservation, shapes, faults."""

import dataclasses
import datetime as dt
import json
from collections import Counter

import pytest

from profiles import load_profile
from simulators.city import generate_city
from simulators.market.errors import MarketConfigError
from simulators.market.faults import SWITCHES
from simulators.market.model import MarketModel

from marketkit import DAY, run_tiny

P = load_profile()
NO_FAULTS = {**{s: 0.0 for s in SWITCHES}, "second_scale_use": 0.0}


def lines(text):
    return [json.loads(x) for x in text.splitlines()]


def test_same_seed_gives_byte_identical_stream_and_ledger(tiny_day):
    _, _, stream, ledger_text = tiny_day
    _, _, stream2, ledger_text2 = run_tiny(keep_ledger_text=True)
    assert stream == stream2 and ledger_text == ledger_text2
    assert len(stream) > 100_000
    _, _, other, _ = run_tiny(seed=2)
    assert other != stream


def test_stream_is_time_ordered_and_every_catalogue_record_validates(tiny_day):
    _, _, stream, _ = tiny_day
    objs = lines(stream)
    ts = [o["t"] for o in objs]
    assert ts == sorted(ts)
    types = Counter()
    for o in objs:
        if o["k"] != "record":
            continue
        types[o["type"]] += 1
        assert o["upload"] and o["upload"][0] >= o["t"]
        if o["type"] == "scale_sale":
            assert P.codes.is_valid(o["data"]["trace_code"], "trace")
            continue
        assert P.records.validate(o["type"], o["data"]) == [], o
    expected = {
        "animal_in_info",
        "quarantine_info",
        "meat_out_info_base",
        "meat_out_info_detail",
        "market_in_info_base",
        "market_in_info_detail",
        "qmarket_detection_info",
        "market_tran_info_base",
        "market_tran_info_detail",
        "retail_market_in_info_base",
        "retail_market_in_info_detail",
        "retail_market_tran_info_summ",
        "super_market_in_info_base",
        "super_market_in_info_detail",
        "team_buy_acceptance_info",
        "scale_sale",
    }
    assert expected <= set(types), expected - set(types)


def test_every_retail_sale_resolves_to_an_intake_or_a_vegetable_origin(tiny_day):
    _, led, _, _ = tiny_day
    sales = list(led.sales())
    assert len(sales) > 1000
    for s in sales:
        chain = led.chain(s["id"])
        assert chain[0]["id"] == s["id"] and chain[-1]["kind"] == "origin"
        kinds = [e.get("kind") for e in chain[1:]]
        if P.commodities[s["goods_code"]].kind == "meat":
            assert kinds[-3:] == ["carcass", "intake", "origin"]
        else:
            assert kinds[-2:] == ["veg_batch", "origin"]
        assert all(k == "line" for k in kinds[: -3 if "intake" in kinds else -2])


def test_inventory_is_conserved_at_every_lot_and_node(tiny_day):
    m, led, _, _ = tiny_day
    assert led.conservation() == []
    for lot in m.lots.values():  # the model's own accounting agrees
        assert lot.remaining >= 0
        if lot.parent is not None and lot.goods_code:
            assert abs(lot.received - lot.moved - lot.withdrawn - lot.spoiled - lot.remaining) < 1e-6
    # no node sells more than it received, per commodity
    tot = led.totals()
    for nodes in tot["days"].values():
        for node, goods in nodes.items():
            if led.node_type(node) == "slaughterhouse":
                continue  # it makes meat from animals (intake counted in heads, not per commodity)
            for g, cell in goods.items():
                assert cell["out"] <= cell["in"] + 1e-6, (node, g, cell)


def test_records_agree_with_the_truth(tiny_day):
    """Sale records carry the codes the ledger knows; summaries add up to the traced sales."""
    _, led, stream, _ = tiny_day
    objs = [o for o in lines(stream) if o["k"] == "record"]
    sale_recs = [o["data"] for o in objs if o["type"] == "scale_sale"]
    traced = {s["id"]: s for s in led.sales(traced=True)}
    assert {r["trace_code"] for r in sale_recs} == set(traced)
    for r in sale_recs:
        assert r["batch_id"] == traced[r["trace_code"]]["parent"]
    summ = Counter()
    for o in objs:
        if o["type"] == "retail_market_tran_info_summ":
            summ[(o["data"]["retailer_id"], o["data"]["batch_id"])] += float(o["data"]["weight"])
    truth = Counter()
    for s in traced.values():
        if led.node_type(s["node"]) == "farmers_market":
            truth[(s["holder"], s["parent"])] += s["kg"]
    assert summ.keys() == truth.keys()
    assert all(abs(summ[k] - truth[k]) < 0.002 for k in truth)


def test_hourly_profile_has_the_expected_peaks(tiny_day):
    _, led, _, _ = tiny_day
    hourly = led.hourly_by_node_type()
    sales_hourly = Counter()
    for s in led.sales():
        if led.node_type(s["node"]) == "farmers_market":
            sales_hourly[int(s["t"] // 3600)] += 1
    fm = [sales_hourly[h] for h in range(24)]
    morning = max(range(5, 13), key=fm.__getitem__)
    evening = max(range(14, 21), key=fm.__getitem__)
    assert 7 <= morning <= 9 and 16 <= evening <= 18
    assert fm[evening] > 2 * fm[13] and fm[morning] > fm[evening]
    assert sum(fm[0:5]) == 0 and sum(fm[21:24]) == 0
    sm = hourly["supermarket"]
    assert 9 <= max(range(24), key=sm.__getitem__) <= 20
    slaughter = [0] * 24
    for o in led.entries.values():
        if o.get("kind") == "intake":
            slaughter[int(o["t"] // 3600)] += 1
    assert sum(slaughter[0:4]) == sum(slaughter)  # night intake
    vw = hourly["veg_wholesale"]
    assert max(range(24), key=vw.__getitem__) <= 6 and sum(vw[12:24]) == 0  # pre-dawn wholesale


def test_no_faults_means_full_usage_and_upload_rates():
    _, led, _, _ = run_tiny(faults=NO_FAULTS)
    k = led.kpis()
    assert k["scale_usage"]["overall"] == 1.0 and k["scale_usage"]["untraceable"] == 0
    assert k["upload_rate"]["overall"] == 1.0 and led.faults == []


def test_second_scale_makes_untraceable_sales_and_lowers_usage():
    m, led, stream, _ = run_tiny(faults={**NO_FAULTS, "second_scale": 1.0, "second_scale_use": 0.5})
    k = led.kpis()["scale_usage"]
    assert 0.4 < k["overall"] < 0.6 and k["untraceable"] > 0
    un = [s for s in led.sales(traced=False)]
    assert un and all(s["id"].startswith("U") for s in un)
    codes = {o["data"].get("trace_code") for o in lines(stream) if o["k"] == "record"}
    assert not any(s["id"] in codes for s in un)  # no record exists for them
    assert all(led.chain_ends(s["id"]) == "origin" for s in un)  # but the truth knows their chain
    assert led.conservation() == []


def test_outages_late_and_duplicate_uploads_and_drift_show_in_upload_times():
    m, led, stream, _ = run_tiny(
        faults={**NO_FAULTS, "network_outage": 1.0, "late_upload": 0.2, "duplicate_upload": 0.2, "clock_drift": 1.0}
    )
    outages = {f["node"]: (f["start"], f["end"]) for f in led.faults if f["name"] == "network_outage"}
    assert len(outages) == len(m.topo.nodes)
    recs = [o for o in lines(stream) if o["k"] == "record"]
    for o in recs:
        s, e = outages[o["node"]]
        if s <= o["t"] < e:
            assert o["upload"][0] >= e
    assert any(len(o["upload"]) == 2 for o in recs)
    assert all("clock_offset_s" in o for o in recs)
    assert led.kpis()["upload_rate"]["overall"] < 1.0


def test_failed_detection_stops_trade_downstream():
    m, led, stream, _ = run_tiny(
        faults=NO_FAULTS, overrides={"volume": {"detection_sample_share": 1.0, "detection_pass_rate": 0.0}}
    )
    stops = [e for e in led.events if e["name"] == "stop_trade"]
    assert stops
    assert any(e["k"] == "event" and e["name"] == "stop_trade" for e in lines(stream))
    for st in stops:
        sub, todo = set(), [st["batch"]]
        while todo:
            x = todo.pop()
            sub.add(x)
            todo.extend(k for k in led.children.get(x, []) if led.entries[k]["k"] == "lot")
        holders = {(h["node"], h["holder"]) for h in st["holders"]}
        for x in sub:  # every downstream holder is told
            e = led.entries[x]
            assert (e["node"], e["holder"]) in holders or e.get("sink")
        for s in led.sales():  # nothing from the batch is sold after the order
            if s["parent"] in sub:
                assert s["t"] <= st["t"]
    assert led.conservation() == []


def test_several_days_carry_stock_over_and_stay_conserved():
    m, led, stream, _ = run_tiny(days=3, start=dt.date(2025, 3, 14))
    days = {s["day"] for s in led.sales()}
    assert days == {0, 1, 2}
    assert led.conservation() == []
    assert all(led.chain_ends(s["id"]) == "origin" for s in led.sales())
    weekday = sum(1 for s in led.sales() if s["day"] == 0)
    saturday = sum(1 for s in led.sales() if s["day"] == 1)
    assert saturday > weekday  # weekend factor 1.15


def test_festival_eve_sells_more_than_an_ordinary_day():
    _, ordinary, _, _ = run_tiny(start=dt.date(2025, 1, 13), faults=NO_FAULTS)
    _, eve, _, _ = run_tiny(start=dt.date(2025, 1, 27), faults=NO_FAULTS)  # 2 days before Spring Festival
    kg = lambda led: sum(s["kg"] for s in led.sales())
    assert kg(eve) > 1.3 * kg(ordinary)


def test_impossible_cities_are_refused_before_the_run():
    city = generate_city("tiny", 1, P)
    no_slaughter = dataclasses.replace(city, nodes=[n for n in city.nodes if not n.type.startswith("slaughter")])
    with pytest.raises(MarketConfigError) as exc:
        MarketModel(no_slaughter, P, seed=1, start=DAY)
    assert "slaughterhouse" in exc.value.en
    no_veg = dataclasses.replace(city, nodes=[n for n in city.nodes if n.type != "vegetable_wholesale"])
    with pytest.raises(MarketConfigError):
        MarketModel(no_veg, P, seed=1, start=DAY)
    no_bases = dataclasses.replace(city, origins=[o for o in city.origins if o.type != "vegetable_base"])
    with pytest.raises(MarketConfigError):
        MarketModel(no_bases, P, seed=1, start=DAY)
    with pytest.raises(MarketConfigError):
        MarketModel(city, P, seed=1, start=DAY, days=0)


def test_realtime_environment_runs_with_a_speed_factor():
    import time
    import simpy.rt

    prof = P
    env = simpy.rt.RealtimeEnvironment(factor=1.0 / 200000, strict=False)
    m = MarketModel(generate_city("tiny", 1, prof), prof, seed=1, start=DAY, env=env, fault_rates=NO_FAULTS)
    t = time.monotonic()
    led = m.run()
    wall = time.monotonic() - t
    assert 86400 / 200000 <= wall < 10
    _, fast, _, _ = run_tiny(faults=NO_FAULTS)
    assert led.kpis() == fast.kpis()
