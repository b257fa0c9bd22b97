"""PERC-SCALE-01 (计量) and PERC-SCALE-02 (capacity, division, overload) on the scale's WEIGH and SELL."""

from __future__ import annotations

import pytest

from conformance.actions import ActionMissing
from simulators.devices.driver import DeviceNak


def assert_refused(call, reason: str, what: str) -> None:
    try:
        rec = call()
    except DeviceNak as exc:
        assert exc.reason == reason, f"{what}: refused, but with {exc.reason} instead of {reason}"
        return
    raise AssertionError(
        f"{what}: the scale completed the sale (trace code {rec.trace_code}); it must refuse it ({reason})"
    )


@pytest.mark.requirement("PERC-SCALE-01")
@pytest.mark.applies(kinds=("scale",))
def test_weighs_net_after_tare(scale, evidence):
    """A stable load is reported to its division; after a tare the net is gross minus tare (actions put-load,
    or a declared test load for the first part)."""
    load = 1234 if scale.can("put-load") else scale.unit_g
    if load is None:
        raise ActionMissing(["put-load"], "秤盘上需要已知负载", "a known load on the platter")
    scale.place(load)
    r = scale.drv.weigh()
    evidence.append_jsonl("readings.jsonl", {"load_g": load, **r.to_dict()})
    assert r.stable, f"a settled {load} g load reads unstable: the indicator must settle"
    assert r.net_g % r.division_g == 0, f"net {r.net_g} g is not a multiple of the division {r.division_g} g"
    assert abs(r.net_g - load) <= 2 * r.division_g, (
        f"{load} g on the platter reads {r.net_g} g: more than 2 divisions ({r.division_g} g) off; calibrate"
    )
    scale.place(300)
    scale.drv.tare()
    try:
        scale.place(300 + 1000)
        r = scale.drv.weigh()
    finally:  # the device stays in use: leave no tare behind
        clear_tare(scale, evidence)
    evidence.append_jsonl("readings.jsonl", {"load_g": 1300, "container_g": 300, **r.to_dict()})
    assert r.tare_g == 300 or abs(r.tare_g - 300) <= r.division_g, f"tare reads {r.tare_g} g for a 300 g container"
    assert r.net_g == r.gross_g - r.tare_g, f"net {r.net_g} g != gross {r.gross_g} g - tare {r.tare_g} g"
    assert abs(r.net_g - 1000) <= 2 * r.division_g, f"1000 g net in a 300 g container reads {r.net_g} g net"


def clear_tare(scale, evidence) -> None:
    """Empty the pan and press TARE (an empty pan clears the tare); noted if the device keeps it."""
    scale.place(0)
    try:
        scale.drv.tare()
    except DeviceNak as exc:
        evidence.note(f"空秤盘去皮被拒绝（{exc.reason}），皮重可能残留", f"TARE on an empty pan refused ({exc.reason})")


@pytest.mark.requirement("PERC-SCALE-01")
@pytest.mark.applies(kinds=("scale",))
def test_no_sale_on_an_unstable_reading(scale, evidence):
    """A load just put on (still moving) cannot be sold; once settled it can (actions unstable-load, put-load)."""
    scale.need_sell()
    batch = scale.new_batch(10_000)
    before = scale.drv.status().next_index
    scale.place(800, settled=False)
    assert not scale.drv.weigh().stable, "a load just placed already reads stable (settling not modelled?)"
    assert_refused(
        lambda: scale.drv.sell(batch, scale.next_request_id()), "WEIGHT_INVALID", "sale on an unstable reading"
    )
    assert scale.drv.status().next_index == before, "a refused sale left a record behind"
    rec = scale.sell(batch, 800)
    assert abs(rec.weight_g - 800) <= 4, f"the settled sale recorded {rec.weight_g} g for 800 g"


@pytest.mark.requirement("PERC-SCALE-02")
@pytest.mark.applies(kinds=("scale",))
def test_capacity_division_and_overload(scale, capabilities, evidence):
    """Divisions follow the declared ranges (e1 up to the switch point, e2 above); beyond Max + 9e the
    scale shows overload and refuses to sell; below Min it refuses too."""
    caps = scale.drv.identify().capability_map()
    max_g, e1, e2 = int(caps["max_g"]), int(caps["e1_g"]), int(caps["e2_g"])
    switch = int(caps.get("switch_g", max_g))
    min_g = int(caps.get("min_g", 20 * e1))
    for k, v in (("max_g", max_g), ("e1_g", e1), ("e2_g", e2)):
        if k in capabilities.capabilities:
            assert int(capabilities.capabilities[k]) == v, f"{k}: declared {capabilities.capabilities[k]}, reported {v}"
    scale.need_sell()
    batch = scale.new_batch(10 * max_g)
    readings = {}
    for load in (switch // 2, (switch + max_g) // 2, max_g):
        scale.place(load)
        r = scale.drv.weigh()
        readings[load] = r.to_dict()
        want = e1 if load <= switch else e2
        assert r.division_g == want, f"{load} g reads with division {r.division_g} g; the range says {want} g"
        assert not r.overload, f"{load} g (within Max {max_g} g) reads as overload"
    over = max_g + 9 * e2 + 5 * e2
    scale.place(over, action="overload")
    r = scale.drv.weigh()
    readings[over] = r.to_dict()
    evidence.attach_json("readings.json", readings)
    assert r.overload, f"{over} g (beyond Max + 9e = {max_g + 9 * e2} g) does not read as overload"
    assert_refused(lambda: scale.drv.sell(batch, scale.next_request_id()), "WEIGHT_INVALID", f"sale at {over} g")
    scale.place(min_g // 2, action="below-min")
    assert_refused(
        lambda: scale.drv.sell(batch, scale.next_request_id()),
        "WEIGHT_INVALID",
        f"sale at {min_g // 2} g (below Min {min_g} g)",
    )
    evidence.note(
        "置零范围无法通过 roucai-dp/1 验证（协议没有置零命令）",
        "the zero-setting range cannot be shown over roucai-dp/1 (the protocol has no ZERO command)",
    )
