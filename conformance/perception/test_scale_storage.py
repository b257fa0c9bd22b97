"""Offline storage: capacity (PERC-SCALE-14), policy when full (-15), freed only after acknowledgement
(-16), power loss without loss or duplicate (-17).

Physical steps are operator actions (profiles/reference/actions.toml): ``fill-store`` (or SELL over the wire
where ``storage_fill`` is declared), ``power-off`` / ``power-on`` and ``power-cut-mid-sale``.  The built-in
scale performs them itself; a device performs those its capability statement declares, and a test whose
action is not declared is not-tested, naming it.  The storage tests leave the device as they found it: what
they filled is acknowledged afterwards.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from conformance.actions import ActionMissing
from simulators.devices.driver import DeviceNak

from .bench import DeviceSilent
from .test_scale_weighing import assert_refused

PROFILE_MIN_RECORDS = 10_000


def declared_capacity(scale, capabilities) -> int:
    val = capabilities.capabilities.get("storage_records")
    return int(val if val is not None else scale.drv.identify().capability_map()["storage_records"])


def fill(scale, capabilities, evidence) -> tuple[int, object, str | None]:
    """Fill the storage to the declared capacity; returns (capacity, status when full, batch).

    Without a way to fill it (action fill-store, or ``storage_fill``) the test is not-tested, after the
    capacity STATUS reports was checked."""
    cap = declared_capacity(scale, capabilities)
    assert cap >= PROFILE_MIN_RECORDS, f"declared capacity {cap} records is below the profile minimum of 10,000"
    st = scale.drv.status()
    assert st.memory_used + st.memory_free == cap, (
        f"STATUS says {st.memory_used} used + {st.memory_free} free = {st.memory_used + st.memory_free} records; "
        f"the declared capacity is {cap}"
    )
    batch = scale.new_batch(cap * 1000)
    stored, refusal = scale.fill_storage(batch, cap - st.memory_used)
    full = scale.drv.status()
    evidence.attach_json(
        "fill.json",
        {
            "declared": cap,
            "was_used": st.memory_used,
            "stored": stored,
            "refusal": refusal,
            "status_when_full": asdict(full) | {"batches": None},
        },
    )
    assert refusal is None, (
        f"the scale refused sale {st.memory_used + stored + 1} of its declared {cap} records "
        f"({refusal}): it must store as many unacknowledged records as it declares"
    )
    return cap, full, batch


@pytest.mark.requirement("PERC-SCALE-14")
@pytest.mark.applies(kinds=("scale",), needs=("offline_storage",))
@pytest.mark.conformance_timeout(120)
def test_offline_capacity_as_declared_and_all_readable(scale_in_memory, capabilities, evidence):
    """Offline, the scale keeps its declared number of unacknowledged records (≥ 10,000); they can be read out."""
    scale = scale_in_memory
    cap, full, _ = fill(scale, capabilities, evidence)
    try:
        assert full.memory_used == cap, f"full storage reports {full.memory_used} records used, declared {cap}"
        first = scale.drv.read_records(1, 10)
        assert first.records, "nothing can be read back from a full storage"
        start = first.records[0].index
        assert first.remaining + len(first.records) == cap, (
            f"reading from the start: {len(first.records)} records + {first.remaining} remaining != {cap} stored"
        )
        got = scale.read_all(start, chunk=255, limit=cap + 1)
        check_all_read(got, start, cap, full.next_index, evidence)
    finally:
        acknowledge_all(scale)
    if scale.builtin:
        evidence.note(
            "内置秤此项使用内存存储（验证条数，不验证耐久性；耐久性见 PERC-SCALE-17）",
            "the built-in scale uses its in-memory store here (counts, not durability: see PERC-SCALE-17)",
        )


@pytest.mark.requirement("PERC-SCALE-15")
@pytest.mark.applies(kinds=("scale",), needs=("offline_storage",))
@pytest.mark.conformance_timeout(120)
def test_when_full_sales_are_refused_and_nothing_overwritten(scale_in_memory, capabilities, evidence):
    """Full: the next traced sale is refused (MEMORY_FULL), STATUS shows no free memory, the oldest
    unacknowledged record is still there unchanged."""
    scale = scale_in_memory
    scale.need_sell()
    cap, full, batch = fill(scale, capabilities, evidence)
    try:
        oldest = scale.drv.read_records(1, 1).records[0]
        assert full.memory_free == 0, f"full storage reports {full.memory_free} records free: report storage full"
        if scale.can("put-load"):
            scale.place(500)
        assert_refused(
            lambda: scale.drv.sell(batch, scale.next_request_id()), "MEMORY_FULL", "a sale with full storage"
        )
        again = scale.drv.read_records(1, 1).records
        assert again and again[0] == oldest, (
            f"the oldest unacknowledged record (index {oldest.index}) was overwritten or deleted: never drop "
            "records the node has not acknowledged"
        )
        assert scale.drv.status().memory_used == cap, "the number of stored records changed after the refusal"
    finally:
        acknowledge_all(scale)


def check_all_read(got: list, start: int, cap: int, next_index: int, evidence) -> None:
    """Every one of the ``cap`` stored records was read out: ``cap`` records, indices ``start`` .. next - 1,
    each once, in order (PERC-SCALE-14 "all can be read out")."""
    idx = [r.index for r in got]
    evidence.attach_json(
        "read_all.json", {"stored": cap, "read": len(got), "first": idx[:1], "last": idx[-1:], "next_index": next_index}
    )
    dup = len(idx) - len(set(idx))
    assert not dup, f"reading the full storage out returned {dup} records twice"
    assert len(got) == cap, (
        f"{len(got)} of the {cap} stored records could be read out "
        f"(indices {idx[:1]}..{idx[-1:]}): every stored record must be readable"
    )
    assert idx == list(range(start, start + cap)) and start + cap == next_index, (
        f"the records read out are not indices {start}..{next_index - 1} in order: first gap at "
        f"{next((a for a, b in zip(range(start, start + cap), idx) if a != b), None)}"
    )
    evidence.note(
        f"存满 {cap} 条，全部读出（序号 {start}–{start + cap - 1}）",
        f"filled {cap} records and read every one out (indices {start}-{start + cap - 1})",
    )


def acknowledge_all(scale) -> None:
    """Acknowledge every stored record (as the node would), so the device is usable by the next test."""
    nxt = scale.drv.status().next_index
    if nxt > 1:
        scale.drv.ack_records(nxt - 1)


@pytest.mark.requirement("PERC-SCALE-16")
@pytest.mark.applies(kinds=("scale",))
def test_records_freed_only_after_acknowledgement(scale, evidence):
    """Reading does not free memory; reading again gives the same records; an acknowledgement up to an
    index frees exactly those, and reading resumes at the first unacknowledged one."""
    batch = scale.new_batch(20 * (scale.unit_g or 1000))
    first = scale.drv.status().next_index
    if first > 1:
        scale.drv.ack_records(first - 1)  # a clean start: earlier records of this device acknowledged
        evidence.note(
            f"先确认了此前的 {first - 1} 号及之前记录", f"acknowledged earlier records up to {first - 1} first"
        )
    sold = [scale.sell(batch) for _ in range(5)]
    used = scale.drv.status().memory_used
    assert used == 5, f"5 unacknowledged sales, STATUS says {used} used"
    read1 = scale.read_all(first)
    assert scale.drv.status().memory_used == 5, "reading the records freed memory before any acknowledgement"
    read2 = scale.read_all(first)
    assert read1 == read2 == sold, "reading the same index twice gives different records (reads must be resumable)"
    freed = scale.drv.ack_records(sold[2].index)
    st = scale.drv.status()
    evidence.attach_json("ack.json", {"freed": asdict(freed), "memory_used_after": st.memory_used})
    assert st.memory_used == 2, f"after acknowledging 3 of 5 records, {st.memory_used} remain stored (expected 2)"
    rest = scale.read_all(first)
    assert [r.index for r in rest] == [s.index for s in sold[3:]], (
        "reading after the acknowledgement does not resume at the first unacknowledged record"
    )


@pytest.mark.requirement("PERC-SCALE-16")
@pytest.mark.applies(kinds=("scale",))
def test_reading_at_and_past_the_end(scale, evidence):
    """Reading from the index the scale gives to continue from, with nothing new stored (what a node asks an idle
    scale all day), answers no records, none remaining and the same index to continue from; an index past it,
    one the scale never assigned, is refused BAD_INDEX (the profile's NAK for an invalid record index; storage
    indices are monotonic and never reused)."""
    batch = scale.new_batch(20 * (scale.unit_g or 1000))
    sold = [scale.sell(batch) for _ in range(2)]
    end = scale.drv.status().next_index
    got = scale.read_all(sold[0].index)
    assert got == sold, "READ_RECORDS from the first new sale does not give back the two sales just made"
    answers, refusals = {}, {}
    for idx in (end, end + 1, end + 1000):
        try:
            r = scale.drv.read_records(idx, 10)
        except DeviceNak as exc:
            refusals[idx] = exc.reason
        else:
            answers[idx] = {"next_index": r.next_index, "remaining": r.remaining, "records": len(r.records)}
    evidence.attach_json("read_at_end.json", {"next_index": end, "answers": answers, "refusals": refusals})
    scale.drv.ack_records(end - 1)  # leave the device as found: these sales acknowledged
    assert end not in refusals, (
        f"READ_RECORDS at the index to continue from ({end}, nothing new stored) was refused {refusals.get(end)}; "
        "it must answer no records. Fix: refuse only an index past the next storage index"
    )
    assert answers[end] == {"next_index": end, "remaining": 0, "records": 0}, (
        f"READ_RECORDS at the index to continue from ({end}, nothing new stored) answered {answers[end]}; "
        f"expected no records, none remaining and next_index {end}"
    )
    past = {i: refusals.get(i) or answers[i] for i in (end + 1, end + 1000)}
    assert all(v == "BAD_INDEX" for v in past.values()), (
        f"READ_RECORDS past the next storage index {end}: {past}; each must be refused BAD_INDEX"
    )


def assert_exactly_once(scale, first: int, answered: list, evidence) -> None:
    got = scale.read_all(first)
    evidence.attach_json(
        "after_power_cut.json", {"answered": [asdict(r) for r in answered], "stored": [asdict(r) for r in got]}
    )
    codes = [r.trace_code for r in got]
    dups = sorted({c for c in codes if codes.count(c) > 1})
    assert not dups, f"after the power cut, trace codes {dups[:3]} are stored twice: the sequence went back"
    stored = {r.index: r for r in got}
    missing = [a.index for a in answered if stored.get(a.index) != a]
    assert not missing, (
        f"committed sales {missing} are missing or changed after the power cut: nothing committed may be lost"
    )
    extra = sorted(set(stored) - {a.index for a in answered})
    assert not extra, f"records {extra} appeared that no sale committed"
    seqs = [int(r.trace_code[-7:]) for r in got]
    assert all(x < y for x, y in zip(seqs, seqs[1:])), "the trace sequence went back across the power cut"


@pytest.mark.requirement("PERC-SCALE-17")
@pytest.mark.applies(kinds=("scale",))
def test_power_cut_in_the_middle_of_a_sale(scale, evidence):
    """Power fails inside a sale (before its commit): after restart, every sale answered before is there exactly
    once, the interrupted one is not, and retrying it with the same request id sells it once (actions
    power-cut-mid-sale, power-on)."""
    missing = [a for a in ("power-cut-mid-sale", "power-on") if not scale.can(a)]
    if missing:
        raise ActionMissing(missing, "销售进行中断电", "a power cut inside a sale")
    batch = scale.new_batch(50 * (scale.unit_g or 1000))
    first = scale.drv.status().next_index
    answered = [scale.sell(batch) for _ in range(5)]
    scale.act("power-cut-mid-sale")
    rid = scale.next_request_id()
    retries, scale.drv.retries = scale.drv.retries, 0
    try:
        with pytest.raises(DeviceSilent):
            scale.sell(batch, request_id=rid)
    finally:
        scale.drv.retries = retries
    scale.power_on()
    answered.append(scale.sell(batch, request_id=rid))
    answered += [scale.sell(batch) for _ in range(2)]
    assert_exactly_once(scale, first, answered, evidence)


@pytest.mark.requirement("PERC-SCALE-17")
@pytest.mark.applies(kinds=("scale",))
def test_power_cut_between_sales_loses_and_repeats_nothing(scale, evidence):
    """Power fails right after a committed sale: after restart it is there once; the host repeating the same
    request id gets the same record back, not a second sale; new sales continue the sequence."""
    batch = scale.new_batch(50 * (scale.unit_g or 1000))
    first = scale.drv.status().next_index
    answered = [scale.sell(batch) for _ in range(3)]
    last_rid = scale.next_request_id()
    answered.append(scale.sell(batch, request_id=last_rid))
    scale.power_cycle()
    repeat = scale.sell(batch, request_id=last_rid)
    assert repeat == answered[-1], (
        "repeating a committed sale's request id after the power cut sold again "
        f"(index {repeat.index}) instead of returning sale {answered[-1].index}"
    )
    answered += [scale.sell(batch) for _ in range(2)]
    assert_exactly_once(scale, first, answered, evidence)
