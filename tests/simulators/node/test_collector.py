"""Scale workers in-process on a sim:// line: records leave the scale only after the platform answered;
an unplugged cable is survived; a stop-trade for a batch loaded later is still enforced."""

from __future__ import annotations

import pytest

from simulators.devices import ScaleModel, serve
from simulators.devices.refusal import Refused
from simulators.node.config import load_config
from simulators.node.runtime import NodeRuntime
from simulators.serial import LineSettings, open_line, unplug

from nodekit import ThreadPlatform, wait_until, write_config

NODE, OP = "650103002", "6501030020001"
BATCH = "65010400200030000052"
NODES = {NODE: ("昊嘉农贸市场", "farmers_market")}


def _setup(tmp_path, name, url, key, faults=None):
    line = open_line(name, settings=LineSettings(baudrate=115200), faults=faults)
    scale = ScaleModel(tmp_path / f"{name}.db", seed=1, trace_seq_start=9_200_001)
    scale.load_batch(BATCH, "01210002", "山药", 100_000, 630)
    runner = serve(scale, line.device).start()
    cfg = load_config(
        write_config(
            tmp_path / f"{name}.toml",
            NODE,
            "昊嘉农贸市场",
            "farmers_market",
            url,
            key,
            operators=[(OP, "王杨")],
            devices=[
                {
                    "id": "S1",
                    "url": line.host_url,
                    "baud": 115200,
                    "poll_s": 0.05,
                    "operator": OP,
                    "stall": "B01",
                    "response_timeout_s": 0.2,
                }
            ],
        )
    )
    return line, scale, runner, cfg


def test_scale_keeps_records_until_the_platform_answers(tmp_path):
    p = ThreadPlatform(tmp_path, NODES)
    port, key = p.port, p.keys[NODE]
    p.stop()  # the platform is down when the sales happen
    line, scale, runner, cfg = _setup(tmp_path, "coll-1", p.url, key)
    p2 = None
    try:
        with NodeRuntime(cfg) as node:
            wait_until(lambda: node.workers[0].status["connected"], 10, what="scale connected")
            with runner.lock:
                sold = [scale.sell(BATCH, weight_g=300 + i) for i in range(3)]
            wait_until(
                lambda: node.outbox.counts()["pending"] + node.outbox.counts()["sent"] == 3,
                10,
                what="records in the outbox",
            )
            assert scale.store.unacked_count() == 3  # not acknowledged to the scale while the platform is down
            p2 = ThreadPlatform(tmp_path, NODES, port=port)
            wait_until(lambda: scale.store.unacked_count() == 0, 20, what="acknowledged to the scale")
            assert node.outbox.counts()["acknowledged"] == 3
            with p2.svc.store.read() as tx:
                codes = {r[0] for r in tx.all("SELECT own_code FROM records WHERE node_id = ?", (NODE,))}
            assert codes == {s.trace_code for s in sold}
    finally:
        runner.stop()
        line.close()
        if p2:
            p2.stop()


def test_unplugged_cable_and_stop_trade_for_a_batch_loaded_later(tmp_path):
    p = ThreadPlatform(tmp_path, NODES)
    line, scale, runner, cfg = _setup(tmp_path, "coll-2", p.url, p.keys[NODE], faults=[unplug(at=0.8, duration=0.6)])
    try:
        with NodeRuntime(cfg) as node:
            wait_until(lambda: node.workers[0].status["connected"], 10, what="scale connected")
            wait_until(lambda: not node.workers[0].status["connected"], 10, what="the unplug noticed")
            wait_until(lambda: node.workers[0].status["connected"], 20, what="reconnected after the unplug")
            with runner.lock:
                sale = scale.sell(BATCH, weight_g=500)
            wait_until(lambda: scale.store.unacked_count() == 0, 20, what="sale uploaded after reconnect")
            # an instruction for a batch the scale does not hold yet: remembered, enforced once loaded
            later = "65010400200030000099"
            node.outbox.remember_stop(1, later, "检测不合格")
            with runner.lock:
                scale.load_batch(later, "01202002", "小白菜", 10_000, 366)

            def stopped():
                with runner.lock:
                    return next(b for b in scale.status().batches if b.batch_trace == later).stopped

            wait_until(stopped, 10, what="the later batch stopped")
            with runner.lock:
                with pytest.raises(Refused):
                    scale.sell(later, weight_g=300)
                assert scale.sell(BATCH, weight_g=300).trace_code != sale.trace_code
    finally:
        runner.stop()
        line.close()
        p.stop()
