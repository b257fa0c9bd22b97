"""kill -9 in the middle of a stream of uploads, restart, reconcile: zero records lost, zero duplicated.

* the node (a subprocess) is killed while it uploads; its durable outbox and the scale's
  unacknowledged memory carry everything over the restart;
* the platform (a subprocess) is killed while the node uploads; the node keeps what was not
  acknowledged and resends it after the platform is back (on the same port and database).

Reconciliation compares the platform's stored records (canonical JSON, one per stored row) with
the records put in, and the node's outbox rows with the records put in.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest

from simulators.devices import ScaleModel, serve
from simulators.serial import LineSettings, open_line

from nodekit import (
    ROUCAI,
    RT_ENTRY,
    Proc,
    admin,
    canon,
    db_rows,
    entry_records,
    free_port,
    platform_bodies,
    post_envelopes,
    register_test_operators,
    start_platform_proc,
    wait_until,
    write_config,
)

NODE, NAME, OP = "650103002", "昊嘉农贸市场", "6501030020001"
BATCH = "65010400200030000052"
pytestmark = pytest.mark.slow


def _platform(tmp):
    db = str(tmp / "platform.db")
    admin(db, "register-node", NODE, "--name", NAME, "--type", "farmers_market")
    key = admin(db, "issue-key", NODE)["key"]
    register_test_operators(db, NODE)
    return db, key


def _node(tmp, url, key, devices=(), name="node"):
    cfg = write_config(
        tmp / f"{name}.toml",
        NODE,
        NAME,
        "farmers_market",
        url,
        key,
        operators=[(OP, "王杨")],
        devices=devices,
        upload={"max_count": 10, "batch_wait_s": 0.0, "backoff_max_s": 0.3},
        stop_poll_s=5,
    )
    return cfg, str(cfg.with_suffix(".db"))


def _start_node(cfg):
    proc = Proc([ROUCAI, "serve", "node", "--config", str(cfg)])
    return proc, f"http://127.0.0.1:{proc.event('listening')['port']}"


def _drained(node_url):
    def check():
        try:
            c = httpx.get(node_url + "/api/v1/outbox", timeout=5, trust_env=False).json()["counts"]
        except httpx.HTTPError:
            return None
        return c["pending"] == 0 and c["sent"] == 0 and c

    return check


def _reconcile(db, outbox, expected: list[str]):
    stored = platform_bodies(db, NODE)
    dup = [b for b, n in Counter(stored).items() if n > 1]
    assert not dup, f"{len(dup)} records stored more than once"
    assert set(stored) == set(expected), (
        f"lost {len(set(expected) - set(stored))}, unexpected {len(set(stored) - set(expected))}"
    )
    assert len(stored) == len(expected)
    rows = db_rows(outbox, "SELECT body, state FROM outbox")
    assert len(rows) == len(expected) and {s for _, s in rows} == {"acknowledged"}
    assert sorted(canon(json.loads(b)) for b, _ in rows) == sorted(expected)


def test_node_killed_mid_upload_loses_and_duplicates_nothing(tmp_path, profile):
    db, key = _platform(tmp_path)
    plat, url = start_platform_proc(db)
    line = open_line(
        "kill-node-scale", backend="pty", settings=LineSettings(baudrate=115200), link=str(tmp_path / "scale")
    )
    scale = ScaleModel(tmp_path / "scale.db", seed=3, trace_seq_start=9_100_001)
    scale.load_batch(BATCH, "01210002", "山药", 500_000, 630)
    runner = serve(scale, line.device).start()
    node = None
    try:
        cfg, outbox = _node(
            tmp_path,
            url,
            key,
            devices=[
                {"id": "SC1", "url": line.host_url, "baud": 115200, "poll_s": 0.05, "operator": OP, "stall": "B01"}
            ],
        )
        node, node_url = _start_node(cfg)
        wait_until(
            lambda: httpx.get(node_url + "/healthz", trust_env=False).json()["devices"][0]["connected"],
            20,
            what="scale connected",
        )
        sales = []
        with runner.lock:
            sales += [scale.sell(BATCH, weight_g=200 + i) for i in range(40)]
        entries = entry_records(profile, 2000, NODE)
        post_envelopes(node_url + "/api/v1/exchange", profile, NODE, key, RT_ENTRY, entries)
        # kill -9 once the platform holds some but not all of the records
        total = len(entries) + len(sales)
        wait_until(lambda: len(platform_bodies(db, NODE)) >= 300, 30, 0.005, what="upload under way")
        node.kill9()
        at_kill = len(platform_bodies(db, NODE))
        states = dict(db_rows(outbox, "SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        assert at_kill < total, "the kill came after the upload had finished"
        with runner.lock:
            sales += [scale.sell(BATCH, weight_g=700 + i) for i in range(10)]  # sold while the node was down
        node, node_url = _start_node(cfg)
        started = node.event("node_starting")
        assert started["recovered"] == states.get("sent", 0)
        wait_until(_drained(node_url), 60, 0.1, what="outbox drained after restart")
        wait_until(lambda: scale.store.unacked_count() == 0, 10, what="scale acknowledged")
        summ = profile.records.types["retail_market_tran_info_summ"]
        stored_sales = {
            json.loads(b)["sale_tran_id"]
            for (b,) in db_rows(db, "SELECT body FROM records WHERE node_id = ? AND rtype = ?", (NODE, summ.name))
        }
        assert stored_sales == {s.trace_code for s in sales}
        outbox_sales = [
            json.loads(b) for (b,) in db_rows(outbox, "SELECT body FROM outbox WHERE rtype = ?", (summ.name,))
        ]
        _reconcile(db, outbox, [canon(r) for r in entries] + [canon(r) for r in outbox_sales])
        verdicts = dict(db_rows(outbox, "SELECT verdict, COUNT(*) FROM outbox GROUP BY verdict"))
        print(f"\nkilled at {at_kill}/{len(entries) + 40} stored; outbox at kill {states}; verdicts {verdicts}")
        assert node.terminate() == 3  # stopped by SIGTERM: interrupted, exit 3 (README)
    finally:
        if node is not None and node.p.poll() is None:
            node.kill9()
        runner.stop()
        line.close()
        plat.terminate()


def test_platform_killed_mid_stream_node_resends_the_rest(tmp_path, profile):
    db, key = _platform(tmp_path)
    port = free_port()
    plat, url = start_platform_proc(db, port)
    node = None
    try:
        cfg, outbox = _node(tmp_path, url, key)
        node, node_url = _start_node(cfg)
        entries = entry_records(profile, 2000, NODE, seed=7)
        post_envelopes(node_url + "/api/v1/exchange", profile, NODE, key, RT_ENTRY, entries)
        wait_until(lambda: len(platform_bodies(db, NODE)) >= 300, 30, 0.005, what="upload under way")
        plat.kill9()
        acked_before = {
            canon(json.loads(b)) for (b,) in db_rows(outbox, "SELECT body FROM outbox WHERE state = 'acknowledged'")
        }
        at_kill = len(platform_bodies(db, NODE))
        assert at_kill < len(entries), "the kill came after the upload had finished"
        time.sleep(0.5)  # the node meets a dead platform and backs off
        failures = [e for e in node.lines if e.get("event") == "upload_failed"]
        assert failures, "the node did not notice the outage"
        plat, url2 = start_platform_proc(db, port)
        assert url2 == url
        wait_until(_drained(node_url), 60, 0.1, what="outbox drained after the platform came back")
        stored = set(platform_bodies(db, NODE))
        assert acked_before <= stored, "a record the platform acknowledged is missing after its restart"
        _reconcile(db, outbox, [canon(r) for r in entries])
        print(f"\nplatform killed at {at_kill}/{len(entries)} stored; node saw {len(failures)} failed attempts")
        assert node.terminate() == 3  # stopped by SIGTERM: interrupted, exit 3 (README)
    finally:
        if node is not None and node.p.poll() is None:
            node.kill9()
        plat.terminate()
