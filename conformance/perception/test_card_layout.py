"""The service card through the reader: layout (PERC-CARD-01), torn writes and bad blocks (-02), keys and UID
binding (-03), codes (-04), clones (-05), batches written at wholesale (-07), 卡单同行 (-08), main and
secondary cards (-09).

On the built-in target the harness issues cards with the profile's layout and test keys and can present,
pull and clone them; on a reader device a declared test card (``test_card``) must lie on the reader, and the
tests that need a card moved are not applicable.  Writes go only to the layout's own sectors (base copies,
batch ring) and leave a valid card.
"""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import replace

import pytest

from conformance.actions import ActionMissing

from profiles.device.card_layout import CardBatch, CardWatch
from simulators.devices.card import MifareCard
from simulators.devices.driver import DeviceNak


def rule_findings(reading, rule: str) -> list:
    return [f for f in reading.findings if f.rule == rule]


@pytest.mark.requirement("PERC-CARD-01")
@pytest.mark.applies(kinds=("card_reader",))
def test_card_layout(reader, profile, evidence):
    """The card read through the reader has the profile's layout: application id, card type 01, kind 01/02,
    operator code, issuing node, holder; a card without the application id is not a service card."""
    reader.card_in_field()
    r = reader.drv.read_card(profile.codes)
    evidence.attach_json(
        "card.json",
        {
            "uid": r.uid.hex(),
            "holder": r.holder and vars(r.holder),
            "version": r.version,
            "findings": [f.en for f in r.findings],
        },
    )
    bad = rule_findings(r, "PERC-CARD-01")
    assert r.holder is not None and not bad, (
        f"the card does not follow the layout: {[f.en for f in bad] or 'no base record'}"
    )
    assert r.holder.card_type == 1 and r.holder.kind in (1, 2)
    if reader.builtin:
        blank = MifareCard(bytes((9, 8, 7, 6)), {b: reader.layout.trailer() for b in range(3, 64, 4)})
        reader.present(blank)
        r2 = reader.drv.read_card(profile.codes)
        assert rule_findings(r2, "PERC-CARD-01") and not r2.ok, "a card without the application id read as valid"


@pytest.mark.requirement("PERC-CARD-04", "CODE-CARD-01")
@pytest.mark.applies(kinds=("card_reader",))
def test_codes_on_the_card_are_valid(reader, profile, evidence):
    reader.card_in_field()
    r = reader.drv.read_card(profile.codes)
    bad = rule_findings(r, "PERC-CARD-04")
    evidence.attach_json("findings.json", [f"{f.field}: {f.en}" for f in r.findings])
    assert not bad, "codes on the card are invalid: " + "; ".join(f"{f.field}={f.value}: {f.en}" for f in bad)
    uid = r.uid.hex().upper()
    uid_bad = profile.identifiers.findings(uid, "card_uid")
    evidence.note(f"卡UID {uid}", f"card UID {uid}")
    assert not uid_bad, f"card UID {uid} as reported by the reader: " + "; ".join(f.en for f in uid_bad)


@pytest.mark.requirement("PERC-CARD-02")
@pytest.mark.applies(kinds=("card_reader",))
def test_torn_write_and_corrupt_block_detected(reader, profile, evidence):
    """The card is pulled mid-write: the reader reports it (CARD_LOST), the older copy of the record still reads
    valid and the torn copy is detected; a corrupt block is reported, never read as data."""
    reader.require_builtin("需要在写卡过程中拿走卡片", "needs the card pulled out in the middle of a write")
    card = reader.present(reader.issue_card())
    before = reader.drv.read_card(profile.codes)
    with reader.runner.lock:
        reader.model.faults.add("card_pulled=8")
    try:
        reader.drv.write_holder(before, replace(before.holder, holder_name="李四"))
        raise AssertionError(
            "the card left the field in the middle of a write and the reader answered success: report CARD_LOST"
        )
    except DeviceNak as exc:
        assert exc.reason == "CARD_LOST", (
            f"the card left the field in the middle of a write; the reader "
            f"answered {exc.reason} (after acknowledging the torn block?): report "
            "CARD_LOST for the torn write"
        )
    reader.present(card)
    after = reader.drv.read_card(profile.codes)
    torn = rule_findings(after, "PERC-CARD-02")
    evidence.attach_json(
        "torn.json",
        {
            "before_version": before.version,
            "after_version": after.version,
            "copies": after.base_copies,
            "findings": [f.en for f in after.findings],
        },
    )
    assert after.holder == before.holder and after.version == before.version, (
        "after a torn write the card does not read as the last complete record"
    )
    assert torn, "the torn copy of the record was not detected"
    card2 = reader.present(reader.issue_card(2))
    r = reader.drv.read_card(profile.codes)
    lot = profile.codes.trace_code(profile.codes.operator_code("650102002", 1), 7)
    reader.drv.add_batch(r, CardBatch(lot, "21111002", 12_000, 2600, 20240518))
    blk = reader.layout.data_blocks(reader.layout.batch_sectors[0])[1]
    with reader.runner.lock:
        card2.corrupt(blk, random.Random(reader.seed))  # the card ages: bits flip in the batch record
    r = reader.drv.read_card(profile.codes)
    assert rule_findings(r, "PERC-CARD-02") and not r.batches, "a corrupt batch record was read as data"


@pytest.mark.requirement("PERC-CARD-03")
@pytest.mark.applies(kinds=("card_reader",))
def test_keys_required_and_data_bound_to_the_uid(reader, profile, evidence):
    """A wrong key is refused and changes nothing; data copied onto a card with another UID fails the MAC."""
    L = reader.layout
    reader.card_in_field()
    base = L.data_blocks(L.base_sectors[0])[0]
    reader.drv.auth(L.base_sectors[0], L.key_a, 0x60)
    original = reader.drv.read_block(base)
    try:
        reader.drv.auth(L.base_sectors[0], bytes.fromhex("FFFFFFFFFFFF"), 0x61)
        wrong_refused = False
    except DeviceNak as exc:
        wrong_refused = exc.reason == "AUTH_FAILED"
    assert wrong_refused, "authentication with a wrong key B was accepted: check the key"
    try:
        reader.drv.write_block(base, bytes(16))
        written = True
    except DeviceNak:
        written = False
    assert not written, "a write after a failed authentication was accepted"
    reader.drv.auth(L.base_sectors[0], L.key_a, 0x60)
    assert reader.drv.read_block(base) == original, "the refused write changed the card"
    if reader.builtin:
        card = reader.issue_card(3)
        copy = MifareCard(bytes((1, 2, 3, 4)), {})
        copy.mem[16:] = card.mem[16:]  # everything but the manufacturer block, onto another UID
        copy.mem[0:16] = L.manufacturer_block(copy.uid)
        reader.present(copy)
    elif reader.actions.available("tap-copied-card"):
        reader.actions.perform("tap-copied-card", uid="01020304")
    else:
        raise ActionMissing(["tap-copied-card"], "验证 UID 绑定", "to show the data is bound to the UID")
    r = reader.drv.read_card(profile.codes)
    evidence.attach_json("copy.json", [f.en for f in r.findings])
    assert rule_findings(r, "PERC-CARD-03") and not r.ok, "data copied onto a card with another UID read as valid"


@pytest.mark.requirement("PERC-CARD-05")
@pytest.mark.applies(kinds=("card_reader",))
def test_cloned_card_detected(reader, profile, evidence):
    """A clone (same UID, the data as it was before the last write) is recognised by the host's card watch."""
    reader.require_builtin("需要把克隆卡放到读卡器上", "needs a cloned card presented to the reader")
    watch = CardWatch()
    card = reader.present(reader.issue_card(4))
    r = reader.drv.read_card(profile.codes)
    assert not watch.observe(r)
    reader.drv.add_batch(
        r,
        CardBatch(
            profile.codes.trace_code(profile.codes.operator_code("650102002", 1), 9), "21111002", 8_000, 2600, 20240518
        ),
    )
    r2 = reader.drv.read_card(profile.codes)
    assert not watch.observe(r2) and r2.batch_seqs, "the batch just written is not on the card"
    reader.remove()
    with reader.runner.lock:
        reader.model.faults.add("cloned_uid")
    reader.present(card)
    r3 = reader.drv.read_card(profile.codes)
    found = watch.observe(r3)
    evidence.attach_json("clone.json", {"uid": r3.uid.hex(), "findings": [f.en for f in found]})
    assert any(f.rule == "PERC-CARD-05" for f in found), "a cloned card (same UID, older data) was not recognised"


def write_batches(reader, profile, batches) -> object:
    r = reader.drv.read_card(profile.codes)
    for b in batches:
        reader.drv.add_batch(r, b)
        r = reader.drv.read_card(profile.codes)
    return r


@pytest.mark.requirement("PERC-CARD-07")
@pytest.mark.applies(kinds=("card_reader",))
def test_wholesale_batches_written_and_read_back(reader, profile, evidence):
    """Lots written at wholesale (trace code, commodity, weight, price, date) read back, newest first."""
    reader.card_in_field()
    codes = profile.codes
    up = codes.operator_code("650102002", 1 + reader.seed % 900)
    lots = [
        CardBatch(codes.trace_code(up, 500 + reader.seed % 1000 + i), com, w, p, 20240518)
        for i, (com, w, p) in enumerate(
            (("21111002", 25_000, 2600), ("21111004", 8_000, 3300), ("21111002", 12_500, 2550))
        )
    ]
    r = write_batches(reader, profile, lots)
    evidence.attach_json("card_batches.json", [vars(b) for b in r.batches])
    assert r.batches[:3] == lots[::-1], (
        f"the lots read back from the card differ from the lots written: {[b.batch_trace for b in r.batches[:3]]}"
    )


@pytest.mark.requirement("PERC-CARD-08")
@pytest.mark.applies(kinds=("card_reader",))
def test_card_and_voucher_travel_together(reader, profile, evidence, tmp_path):
    """A wholesale voucher from the reference scale, its lines written to the buyer's card through the reader:
    every trace code on the voucher is on the card, with the same weight and price."""
    from simulators.devices.scale import ScaleModel
    from .bench import NODE

    codes = profile.codes
    scale = ScaleModel(None, seed=reader.seed)
    scale.bind_stall(NODE, codes.operator_code(NODE, 7), "P-01", "北园春农产品批发市场", "王五")
    batch = codes.trace_code(codes.operator_code("650102002", 1), 4242)
    scale.load_batch(batch, "21111002", "", 100_000, 2400)
    voucher = [scale.sell(batch, w) for w in (12_000, 8_500)]
    reader.card_in_field()
    day = int(_dt.date.today().strftime("%Y%m%d"))
    r = write_batches(
        reader, profile, [CardBatch(v.trace_code, v.commodity, v.weight_g, v.unit_price_fen, day) for v in voucher]
    )
    on_card = {b.batch_trace: b for b in r.batches}
    evidence.attach_json("voucher_and_card.json", {"voucher": [v.trace_code for v in voucher], "card": list(on_card)})
    for v in voucher:
        b = on_card.get(v.trace_code)
        assert b is not None, f"voucher trace code {v.trace_code} is not on the buyer's card"
        assert (b.weight_g, b.unit_price_fen) == (v.weight_g, v.unit_price_fen), (
            f"the card records {b.weight_g} g at {b.unit_price_fen} fen/kg for {v.trace_code}; the voucher "
            f"{v.weight_g} g at {v.unit_price_fen}"
        )


@pytest.mark.requirement("PERC-CARD-09")
@pytest.mark.applies(kinds=("card_reader",))
def test_main_and_secondary_cards(reader, profile, evidence):
    """A main (01) and a secondary (02) card of one operator read with the same operator code, kinds 01 and 02."""
    reader.require_builtin("需要依次放置主卡与副卡", "needs a main and a secondary card presented in turn")
    main, sec = reader.issue_card(5, kind=1), reader.issue_card(5, kind=2)
    got = []
    for c in (main, sec):
        reader.present(c)
        got.append(reader.drv.read_card(profile.codes))
    evidence.attach_json("cards.json", [{"uid": g.uid.hex(), "holder": vars(g.holder)} for g in got])
    assert all(g.ok for g in got), "a main or secondary card does not read as valid"
    assert got[0].holder.operator_code == got[1].holder.operator_code, (
        "main and secondary cards carry different operators"
    )
    assert (got[0].holder.kind, got[1].holder.kind) == (1, 2), "card kinds are not 01 (main) and 02 (secondary)"
    evidence.note(
        "副卡挂失不影响主卡属节点/平台的登记功能，不在设备测试中",
        "revoking a secondary card without the main one is the node's/platform's registry, not a device test",
    )
