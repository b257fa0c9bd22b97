"""PERC-SCALE-04 (摊位号管理): bound to node, operator and stall, kept across restarts."""

from __future__ import annotations

import pytest

from conformance.actions import ActionMissing

from .bench import NODE
from .test_scale_weighing import assert_refused


@pytest.mark.requirement("PERC-SCALE-04")
@pytest.mark.applies(kinds=("scale",))
def test_stall_binding_refused_unbound_carried_and_kept(scale_unbound, evidence):
    """Unbound: no traced sale.  Bound: every record carries the stall and operator code, also after a restart.
    A device found bound is unbound first (action unbind); the restart is actions power-off, power-on."""
    scale = scale_unbound
    batch = scale.new_batch(10 * (scale.unit_g or 1000))
    if scale.drv.status().bound:
        if not scale.can("unbind"):
            raise ActionMissing(
                ["unbind"],
                "设备已绑定，需先解除绑定以验证未绑定时拒绝销售",
                "the device is bound: unbinding it shows the refusal when unbound",
            )
        scale.act("unbind")
        assert not scale.drv.status().bound, "after the stall binding was cleared, STATUS still reports it bound"
    assert_refused(lambda: scale.sell(batch), "NOT_BOUND", "a sale on an unbound scale")
    scale.bind()
    assert scale.drv.status().bound, "STATUS does not report the binding just made"
    rec = scale.sell(batch)
    assert (rec.operator_code, rec.stall) == (scale.operator, scale.stall), (
        f"the record carries operator {rec.operator_code!r} stall {rec.stall!r}; bound were "
        f"{scale.operator!r} {scale.stall!r}"
    )
    assert rec.operator_code.startswith(NODE), "the operator code is not under the bound node"
    scale.power_cycle()
    assert scale.drv.status().bound, "the stall binding was lost at a restart: keep it in non-volatile memory"
    rec2 = scale.sell(batch)
    assert (rec2.operator_code, rec2.stall) == (scale.operator, scale.stall), "after a restart sales lost the stall"
