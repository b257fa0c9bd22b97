"""loadtests.reconcile: stored vs acknowledged vs truth, record by record, and lost worker statistics."""

from __future__ import annotations

import json
import sqlite3

import pytest

from loadtests.reconcile import check_stats, reconcile, record_level

CELL = "650103002|20250106|retail_market_tran_info_summ"


@pytest.fixture
def plan(tmp_path):
    recs = [{"a": "1"}, {"a": "2"}, {"a": "3"}]
    b = {
        "i": 0,
        "at": 1.0,
        "day": 0,
        "node": "650103002",
        "rtype": "retail_market_tran_info_summ",
        "date": "20250106",
        "records": recs,
        "ids": ["k1", "k2", "k3"],
        "codes": [],
    }
    (tmp_path / "batches.jsonl").write_text(json.dumps(b) + "\n")
    (tmp_path / "truth.json").write_text(
        json.dumps({"cells": {CELL: [3, 3000]}, "unique": 3, "sends": 3, "collisions": 0})
    )
    (tmp_path / "meta.json").write_text(json.dumps({"version": 2, "days": 1}))
    return tmp_path


def part(acc=3, dup=0, unsent=0, k=0, parts=1, requests=None):
    return {
        "part": k,
        "parts": parts,
        "acks": {CELL: [acc, dup, 0]},
        "unsent": unsent,
        "in_flight": 0,
        "lost": 0,
        "refused": 0,
        "requests": requests or {"upload": [1, 0]},
    }


def test_everything_stored_and_acknowledged_reconciles(plan):
    r = reconcile(plan, [part()], {CELL: [3, 3000]})
    assert r["ok"] and r["complete"] and r["totals"]["stored"] == r["totals"]["acknowledged"] == 3


def test_an_acknowledged_record_missing_is_loss(plan):
    r = reconcile(plan, [part()], {CELL: [2, 2000]})
    assert not r["ok"] and r["lost"] == [{"cell": CELL, "acknowledged": 3, "stored": 2}]
    assert "1 acknowledged records are not stored" in r["reason"][1]


def test_stored_without_acknowledgement_and_weight_differences(plan):
    r = reconcile(plan, [part(acc=2)], {CELL: [3, 3000]})
    assert not r["ok"] and r["unacknowledged"][0]["stored"] == 3
    r = reconcile(plan, [part()], {CELL: [3, 2999]})
    assert not r["ok"] and r["weight_mismatch"][0]["stored_g"] == 2999


def test_unsent_work_is_never_a_pass(plan):
    r = reconcile(plan, [part(acc=2, unsent=1)], {CELL: [2, 2000]})
    assert not r["ok"] and not r["complete"] and "not sent" in r["reason"][1]


def test_a_missing_part_summary_is_named(plan):
    r = reconcile(plan, [part(k=0, parts=2)], {CELL: [3, 3000]})
    assert not r["ok"] and r["missing_parts"] == [1]


def test_record_level_against_a_database(plan, tmp_path):
    db = tmp_path / "p.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE records (node_id, rtype, rkey, body)")
    rows = [("650103002", "retail_market_tran_info_summ", f"k{i}", json.dumps({"a": str(i)})) for i in (1, 2, 3)]
    con.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", rows)
    con.commit()
    assert record_level(plan, db)["ok"]
    con.execute("UPDATE records SET body = ? WHERE rkey = 'k2'", (json.dumps({"a": "9"}),))
    con.execute("DELETE FROM records WHERE rkey = 'k3'")
    con.execute("INSERT INTO records VALUES ('650103002', 'retail_market_tran_info_summ', 'k9', '{}')")
    con.commit()
    con.close()
    r = record_level(plan, db)
    assert not r["ok"] and (r["missing"], r["extra"], r["changed"]) == (1, 1, 1)


def test_lost_worker_statistics_are_detected():
    stats = [{"name": "POST /api/v1/exchange", "num_requests": 90}]
    parts = [part(k=0, parts=2, requests={"upload": [50, 0]}), part(k=1, parts=2, requests={"upload": [50, 0]})]
    r = check_stats(stats, parts, 2)
    assert not r["ok"] and r["lost_requests"] == 10 and "lost worker statistics" in r["reason"][1]
    r = check_stats([{"name": "POST /api/v1/exchange", "num_requests": 50}], parts[:1], 2)
    assert not r["ok"] and "[1]" in r["reason"][1]
    assert check_stats([{"name": "POST /api/v1/exchange", "num_requests": 100}], parts, 2)["ok"]
