"""Service card (Mifare-1K-like chip + the profile's layout) and the reader over a line."""

from __future__ import annotations

import random

import pytest

from profiles import load_profile
from profiles.device.card_layout import CardBatch, CardHolder, CardWatch, load_card_layout
from simulators.devices import DeviceNak, ReaderDriver, serve
from simulators.devices.card import KEY_A, KEY_B, CardError, CardLost, MifareCard, access_conditions
from simulators.devices.faults import FaultSet
from simulators.devices.reader import ReaderModel
from simulators.serial import LineSettings, open_line

L = load_card_layout()
CODES = load_profile().codes
UID = bytes.fromhex("0a0b0c0d")
HOLDER = CardHolder("6501020010001", "650102001", "张建国")
BATCH = CardBatch("65010200200010000007", "21111002", 25_000, 2600, 20240518)


def card() -> MifareCard:
    return MifareCard.issued(L, UID, HOLDER)


# -- the chip -------------------------------------------------------------------------------


def test_access_bits_decode():
    assert access_conditions(bytes.fromhex("FF0780")) == [(0, 0, 0)] * 3 + [(0, 0, 1)]  # transport
    assert access_conditions(bytes.fromhex("787788")) == [(1, 0, 0)] * 3 + [(0, 1, 1)]  # the profile's
    assert access_conditions(bytes.fromhex("787789")) is None  # copies disagree


def test_key_a_reads_key_b_writes():
    c = card()
    c.authenticate(1, KEY_A, L.key_a)
    assert c.read(4)[:2] == b"RC"
    with pytest.raises(CardError, match="ACCESS_DENIED"):
        c.write(4, bytes(16))
    c.authenticate(1, KEY_B, L.key_b)
    c.write(5, bytes(range(16)))
    assert c.read(5) == bytes(range(16))


def test_trailer_hides_keys_and_block0_read_only():
    c = card()
    c.authenticate(0, KEY_B, L.key_b)
    t = c.read(3)
    assert t[:6] == bytes(6) and t[6:9] == L.access_bits and t[10:] == bytes(6)
    with pytest.raises(CardError, match="ACCESS_DENIED"):
        c.write(0, bytes(16))
    assert c.read(0)[:4] == UID


def test_auth_needed_and_wrong_key():
    c = card()
    with pytest.raises(CardError, match="NOT_AUTHENTICATED"):
        c.read(4)
    with pytest.raises(CardError, match="AUTH_FAILED"):
        c.authenticate(1, KEY_A, bytes(6))
    c.authenticate(1, KEY_A, L.key_a)
    with pytest.raises(CardError, match="NOT_AUTHENTICATED"):
        c.read(8)  # another sector


def test_torn_write_keeps_prefix():
    c = card()
    c.authenticate(1, KEY_B, L.key_b)
    before = c.block(5)
    with pytest.raises(CardLost):
        c.write(5, b"\xaa" * 16, tear_after=6)
    assert c.block(5) == b"\xaa" * 6 + before[6:]


# -- reader + driver over a line ----------------------------------------------------------------


def _session(model, fn, name):
    with open_line(name, settings=LineSettings(baudrate=115200)) as line:
        with (
            serve(model, line.device) as runner,
            ReaderDriver(line.host_url, baudrate=115200, response_timeout_s=0.2) as d,
        ):
            return fn(d, runner)


def test_read_and_write_card_through_reader():
    model = ReaderModel()
    c = model.present(card())

    def go(d, runner):
        assert d.identify().device_kind == "reader"
        r = d.read_card(CODES)
        assert r.ok and r.holder == HOLDER and r.batches == []
        d.add_batch(r, BATCH)
        d.write_holder(d.read_card(), CardHolder("6501020010001", "650102001", "张建国", kind=2))
        return d.read_card(CODES)

    r = _session(model, go, "rd-ok")
    assert r.ok and r.batches == [BATCH] and r.holder.kind == 2 and r.version == 2
    assert L.read(c.blocks(), UID).batches == [BATCH]


def test_no_card():
    def go(d, runner):
        assert not d.poll().present
        with pytest.raises(DeviceNak) as e:
            d.read_block(4)
        return e.value.reason

    assert _session(ReaderModel(), go, "rd-none") == "NO_CARD"


def test_card_pulled_mid_write_is_detected_and_older_copy_survives():
    model = ReaderModel(faults=FaultSet(["card_pulled=5"], "reader"))
    c = model.present(card())

    def go(d, runner):
        r = d.read_card()
        with pytest.raises(DeviceNak) as e:
            d.write_holder(r, CardHolder("6501020010001", "650102001", "李四"))
        assert e.value.reason == "CARD_LOST" and not d.poll().present
        with runner.lock:
            model.present(c)  # the customer taps again
        return d.read_card(CODES)

    r = _session(model, go, "rd-torn")
    assert r.holder == HOLDER and r.version == 1  # the old copy wins
    assert [f.rule for f in r.findings] == ["PERC-CARD-02"]  # the torn copy is reported


def test_wrong_key_refused():
    model = ReaderModel(faults=FaultSet(["wrong_key"], "reader"))
    model.present(card())

    def go(d, runner):
        with pytest.raises(DeviceNak) as e:
            d.read_card()
        return e.value.reason

    assert _session(model, go, "rd-key") == "AUTH_FAILED"


def test_corrupt_block_is_a_finding_not_a_crash():
    model = ReaderModel(faults=FaultSet(["corrupt_block=4"], "reader"), seed=3)
    model.present(card())
    r = _session(model, lambda d, _: d.read_card(CODES), "rd-corrupt")
    assert r.holder is None and not r.ok
    assert {f.rule for f in r.findings} == {"PERC-CARD-02"}


def test_cloned_uid_caught_by_the_host_watch():
    model = ReaderModel(faults=FaultSet(["cloned_uid"], "reader"))
    original = model.present(card())
    watch = CardWatch()

    def go(d, runner):
        r = d.read_card()
        d.add_batch(r, BATCH)
        r2 = d.read_card()
        assert watch.observe(r2) == []
        with runner.lock:
            model.remove()
            model.present(original)  # the fault puts the stale clone in the field
        r3 = d.read_card()
        return r3, watch.observe(r3)

    r3, found = _session(model, go, "rd-clone")
    assert r3.ok  # the clone's data is self-consistent …
    assert [f.rule for f in found] == ["PERC-CARD-05"]  # … only the host's memory catches it


def test_card_events_pushed():
    model = ReaderModel()

    def go(d, runner):
        with runner.lock:
            model.present(card())
        ev = d.wait_event(1.0)
        return ev

    ev = _session(model, go, "rd-ev")
    assert ev is not None and ev.event == 1 and ev.uid == UID


def test_random_block_writes_never_crash_the_reader():
    rng = random.Random(1)
    model = ReaderModel()
    model.present(card())

    def go(d, runner):
        for _ in range(30):
            blk = rng.randrange(0, 70)
            try:
                d.auth(min(blk // 4, 15), rng.choice([L.key_a, L.key_b, bytes(6)]), rng.choice([0x60, 0x61, 0x00]))
                d.write_block(blk, bytes(rng.randrange(256) for _ in range(16)))
            except DeviceNak:
                pass
        return d.identify()

    assert _session(model, go, "rd-rand").device_kind == "reader"
