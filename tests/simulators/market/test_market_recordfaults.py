"""Record-level faults (simulators/market/recordfaults.py): off by default, each one visible in the records the
nodes upload and named in the ledger with its problem kind and subject; one switch never moves another's draws."""

import datetime as dt
import io
import json
from collections import Counter, defaultdict

import pytest

from simulators.market import run_market
from simulators.market.rates import Rates
from simulators.market.recordfaults import RECORD_SWITCHES

R = Rates.load()
DAY = dt.date(2025, 3, 10)
MISTAKES = {
    **R.faults,
    "price_outlier": 0.1,
    "duplicate_trace_code": 0.3,
    "chain_break": 0.1,
    "stock_imbalance": 0.1,
    "silent_scale": 0.1,
    "certificate_overuse": 1.0,
}  # the tiny city has 2 intakes in 2 days
HIGH = {**MISTAKES, "silent_node": 0.2}


def lines(rates):
    sink = io.StringIO()
    run_market("tiny", seed=1, start=DAY, days=2, fault_rates=rates, ledger_sink=sink)
    return [json.loads(x) for x in sink.getvalue().splitlines()]


@pytest.fixture(scope="module")
def faulty():
    return lines(HIGH)


def test_default_rates_are_zero_and_the_header_does_not_name_them():
    assert all(R.faults[s] == 0 for s in RECORD_SWITCHES)
    assert set(R.fault_sets["regulator"]) == set(RECORD_SWITCHES) and all(R.fault_sets["regulator"].values())
    objs = lines(None)
    assert not any(o["k"] == "fault" and o.get("kind") for o in objs)
    assert not set(RECORD_SWITCHES) & set(objs[0]["faults"])


def test_every_fault_is_in_the_ledger_with_kind_subject_and_day(faulty):
    got = Counter(o["name"] for o in faulty if o["k"] == "fault" and o.get("kind"))
    assert set(got) == set(RECORD_SWITCHES) - {"trade_after_stop"}, got  # tiny: no failed test in 2 days
    for o in faulty:
        if o["k"] == "fault" and o.get("kind"):
            assert o["subject"] and len(o["day"]) == 8 and o["day"].startswith("202503")


def test_each_fault_is_what_the_node_uploads(faulty):
    recs = [o for o in faulty if o["k"] == "record"]
    sales = {o["id"]: o for o in faulty if o["k"] == "sale"}
    issued = {
        r["data"].get(f)
        for r in recs
        for f in ("tran_id", "sale_tran_id")
        if r["type"] in ("market_tran_info_detail", "market_tran_info_base", "retail_market_tran_info_summ")
    }
    by_code = defaultdict(list)
    for r in recs:
        if r["type"] == "retail_market_tran_info_summ":
            by_code[r["data"]["sale_tran_id"]].append(r)
    for f in (o for o in faulty if o["k"] == "fault" and o.get("kind")):
        if f["name"] == "silent_node":
            day = [r for r in recs if r["node"] == f["node"] and r["ts"][:10].replace("-", "") == f["day"]]
            assert day and all(r["upload"] == [] for r in day)
        elif f["name"] == "price_outlier":
            [r] = [
                r
                for r in recs
                if r["type"] == "retail_market_tran_info_summ"
                and f"{r['node']}:{r['data']['sale_tran_id']}" == f["subject"]
                and r["data"]["price"] == f["recorded"]
            ]
            ratio = float(f["recorded"]) / float(f["price"])
            assert ratio >= 3.9 or ratio <= 1 / 3.9
        elif f["name"] == "duplicate_trace_code":
            assert len({r["data"]["retailer_id"] for r in by_code[f["subject"]]}) >= 2
        elif f["name"] == "chain_break":
            wrong = f["subject"].split(":")[1]
            assert wrong not in issued and wrong not in sales
            assert any(r["data"].get("batch_id") == wrong for r in recs if r["type"].startswith("retail_market_in"))
        elif f["name"] == "silent_scale":
            mine = [
                r
                for r in recs
                if r["type"] == "retail_market_tran_info_summ"
                and r["node"] == f["node"]
                and r["data"]["position_id"] == f["stall"]
                and r["ts"][:10].replace("-", "") == f["day"]
            ]
            assert mine and all(r["upload"] == [] for r in mine)
        elif f["name"] == "stock_imbalance":
            assert float(f["recorded"]) < 0.51 * float(f["kg"])
        elif f["name"] == "certificate_overuse":
            [r] = [
                r
                for r in recs
                if r["type"] == "animal_in_info" and f"{r['node']}:{r['data']['quarantine_id']}" == f["subject"]
            ]
            assert r["data"]["quarantine_num"] == f["recorded"] and 1 <= int(f["recorded"]) <= 0.3 * f["heads"]
            tags = int(r["data"]["ear_tag_end"]) - int(r["data"]["ear_tag_start"]) + 1  # the truth stays in the tags
            assert tags == f["heads"]


def test_one_switch_does_not_move_anothers_draws():
    only = lines({**R.faults, "chain_break": 0.1})
    pick = lambda objs: [(o["subject"], o["day"]) for o in objs if o["k"] == "fault" and o["name"] == "chain_break"]
    assert pick(only) == pick(lines(MISTAKES)) and pick(only)


def test_a_silent_node_shows_no_mistakes_of_that_day(faulty):
    silent = {(o["node"], o["day"]) for o in faulty if o["k"] == "fault" and o["name"] == "silent_node"}
    assert silent
    assert not [
        o
        for o in faulty
        if o["k"] == "fault" and o.get("kind") not in (None, "silent-node") and (o["node"], o["day"]) in silent
    ]


def stopped_run(rate: float):
    """Tiny, 3 days, every sampled vegetable batch failing its test (stop-trade orders every day)."""
    sink = io.StringIO()
    rates = Rates.load(overrides={"volume": {"detection_pass_rate": 0.0}})
    run_market(
        "tiny",
        seed=1,
        start=DAY,
        days=3,
        fault_rates={**R.faults, "trade_after_stop": rate},
        ledger_sink=sink,
        rates=rates,
    )
    return [json.loads(x) for x in sink.getvalue().splitlines()]


def _later_sales(objs, node: str, code: str, day: str) -> list[dict]:
    return [
        o
        for o in objs
        if o["k"] == "record"
        and o["node"] == node
        and o["type"] == "retail_market_tran_info_summ"
        and o["data"]["batch_id"] == code
        and o["ts"][:10].replace("-", "") > day
    ]


def test_a_holder_ignoring_a_stop_sells_the_lot_on_later_days_and_the_ledger_says_so():
    objs = stopped_run(1.0)
    faults = [o for o in objs if o["k"] == "fault" and o.get("kind") == "trade-after-stop"]
    assert faults and all(o["name"] == "trade_after_stop" and o["tested"] for o in faults)
    withdrawn = {o["lot"] for o in objs if o["k"] == "event" and o["name"] == "withdraw"}
    tested = {o["data"]["batch_id"] for o in objs if o["k"] == "record" and o["type"] == "qmarket_detection_info"}
    sold_on = 0
    for f in faults:
        node, code = f["subject"].split(":", 1)
        assert code not in withdrawn and f["tested"] in tested
        sold_on += bool(_later_sales(objs, node, code, f["day"]))
    assert sold_on > 0  # at least one ignored lot was sold on a later day
    # rate 0: the same orders are obeyed, no lot reached by a stop is sold on a later day
    clean = stopped_run(0.0)
    stopped = {o["lot"]: o for o in clean if o["k"] == "event" and o["name"] == "withdraw"}
    assert stopped and not any(o["k"] == "fault" and o.get("kind") == "trade-after-stop" for o in clean)
    for f in faults:
        node, code = f["subject"].split(":", 1)
        assert not _later_sales(clean, node, code, f["day"])
