"""PERC-SCALE-19: a stop-trade instruction blocks a batch's sales (others unaffected), across a restart."""

from __future__ import annotations

import pytest

from .test_scale_weighing import assert_refused


@pytest.mark.requirement("PERC-SCALE-19")
@pytest.mark.applies(kinds=("scale",), needs=("stop_trade",))
def test_stop_trade_blocks_the_batch_only_and_survives_restart(scale, evidence):
    unit = scale.unit_g or 1000
    stopped = scale.new_batch(20 * unit)
    other = scale.new_batch(20 * unit, avoid=(stopped,))
    scale.sell(stopped)
    scale.drv.stop_trade(stopped, "检测不合格")
    before = scale.drv.status().next_index
    assert_refused(lambda: scale.sell(stopped), "TRADE_STOPPED", "a sale of a batch whose trade was stopped")
    assert scale.drv.status().next_index == before, "the refused sale of a stopped batch left a record"
    assert scale.sell(other).batch_trace == other, "another batch no longer sells after a stop-trade"
    held = {b.batch_trace: b for b in scale.drv.status().batches}
    assert held[stopped].stopped, "STATUS does not show the batch as stopped"
    scale.power_cycle()  # actions power-off, power-on
    assert_refused(lambda: scale.sell(stopped), "TRADE_STOPPED", "after a restart, a sale of the stopped batch")
    assert scale.sell(other).batch_trace == other, "after a restart, the other batch no longer sells"
