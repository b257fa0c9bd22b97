"""PERC-SCALE-05 (多批次), -06 (限量控制), -07 (数据下发): batches loaded by the node."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from simulators.devices.driver import DeviceNak

from .test_scale_weighing import assert_refused

PROFILE_MIN_BATCHES = 8


@pytest.mark.requirement("PERC-SCALE-05")
@pytest.mark.applies(kinds=("scale",), needs=("multi_batch",))
def test_holds_the_declared_number_of_batches(scale, capabilities, evidence):
    """As many batches as declared (at least the profile's 8) are held at once, and sold separately."""
    n = int(capabilities.capabilities.get("max_batches") or scale.drv.identify().capability_map()["max_batches"])
    assert n >= PROFILE_MIN_BATCHES, f"the scale declares {n} concurrent batches; the profile requires at least 8"
    loaded = []
    for i in range(n):
        try:
            loaded.append(scale.new_batch(5 * (scale.unit_g or 1000), price_fen=2000 + 100 * i, avoid=tuple(loaded)))
        except DeviceNak as exc:
            raise AssertionError(
                f"loading batch {i + 1} of the {n} declared was refused ({exc.reason}): the scale "
                "must hold every declared batch at once"
            ) from None
    held = {b.batch_trace: b for b in scale.drv.status().batches}
    evidence.attach_json("batches.json", {"loaded": loaded, "held": sorted(held)})
    missing = [b for b in loaded if b not in held]
    assert not missing, f"{len(missing)} of {n} loaded batches are not held any more: {missing[:3]}"
    if scale.builtin or scale.declared("sell_command"):
        a, b = loaded[0], loaded[-1]
        sold_before = {k: held[k].sold_g for k in (a, b)}
        ra, rb = scale.sell(a), scale.sell(b)
        assert (ra.batch_trace, rb.batch_trace) == (a, b), "a sale line does not name the batch it was sold from"
        after = {x.batch_trace: x.sold_g for x in scale.drv.status().batches}
        assert after[a] - sold_before[a] == ra.weight_g and after[b] - sold_before[b] == rb.weight_g, (
            "each batch's sold quantity must grow by exactly its own sales"
        )


@pytest.mark.requirement("PERC-SCALE-06")
@pytest.mark.applies(kinds=("scale",), needs=("quantity_limit",))
def test_never_sells_past_the_quantity_limit(scale, evidence):
    """With room for 2.5 sales left, two sell and the third is refused (LIMIT_EXCEEDED), changing nothing."""
    unit = scale.unit_g or 1000
    batch = scale.new_batch(int(unit * 2.5))
    scale.sell(batch)
    scale.sell(batch)
    before = {b.batch_trace: b for b in scale.drv.status().batches}[batch]
    index_before = scale.drv.status().next_index
    assert_refused(lambda: scale.sell(batch), "LIMIT_EXCEEDED", "a sale beyond the batch's quantity limit")
    after = scale.drv.status()
    b = {x.batch_trace: x for x in after.batches}[batch]
    evidence.attach_json("batch.json", {"before": asdict(before), "after": asdict(b)})
    assert b.sold_g == before.sold_g and after.next_index == index_before, (
        "the refused sale changed what was sold or stored"
    )
    assert b.sold_g <= b.limit_g, f"sold {b.sold_g} g of a {b.limit_g} g batch"


@pytest.mark.requirement("PERC-SCALE-07")
@pytest.mark.applies(kinds=("scale",))
def test_batch_download_validates_codes(scale, profile, evidence):
    """A batch with an invalid trace code or commodity code is refused with a reason; a valid one sells at once."""
    bad_trace, bad_commodity = "00000000000000000000", "99999999"
    assert not profile.codes.is_valid(bad_trace, "trace") and not profile.codes.is_valid(bad_commodity, "commodity")
    good = scale.batch_code(900)
    for trace, com, what in (
        (bad_trace, "21111002", "an invalid batch trace code"),
        (good, bad_commodity, "an invalid commodity code"),
    ):
        try:
            scale.drv.load_batch(trace, com, 5000, 2800)
        except DeviceNak as exc:
            assert exc.reason in ("BAD_CODE", "BAD_PAYLOAD"), f"{what}: refused with {exc.reason}, expected BAD_CODE"
            evidence.note(f"{what}：拒绝（{exc.reason}）", f"{what}: refused ({exc.reason})")
            continue
        raise AssertionError(f"the scale accepted a batch with {what} ({trace}/{com}): validate codes on LOAD_BATCH")
    held = [b.batch_trace for b in scale.drv.status().batches]
    assert bad_trace not in held, "the invalid batch is in the batch table"
    batch = scale.new_batch(5 * (scale.unit_g or 1000))
    if scale.builtin or scale.declared("sell_command"):
        assert scale.sell(batch).batch_trace == batch, "a freshly loaded batch did not sell at once"
