"""The service-card reader: its commands and time limit (PERC-READER-01), Mifare Classic 1K geometry
(PERC-READER-02), its own capability statement (PERC-SCALE-20)."""

from __future__ import annotations

import time

import pytest

from simulators.devices.driver import DeviceNak

from .test_scale_identify import identified, same

POLLS = 40


def nak_of(call) -> str | None:
    try:
        call()
    except DeviceNak as exc:
        return exc.reason
    return None


@pytest.mark.requirement("PERC-SCALE-20")
@pytest.mark.applies(kinds=("card_reader",))
def test_reader_identify_matches_the_capability_statement(reader, capabilities, evidence):
    _ident, observed = identified(reader.drv, "reader", evidence)
    assert "card_family" in observed, "IDENTIFY does not report the card family the reader handles"
    bad = [
        f"{k}: declared {capabilities.capabilities[k]!r}, reports {observed.get(k)!r}"
        for k in ("card_family", "sectors")
        if k in capabilities.capabilities and not same(capabilities.capabilities[k], observed.get(k, ""))
    ]
    assert not bad, "the reader's own capability statement contradicts the vendor's: " + "; ".join(bad)


@pytest.mark.requirement("PERC-READER-01")
@pytest.mark.applies(kinds=("card_reader",))
def test_reader_commands_answered_in_time_with_status_codes(reader, evidence):
    """Poll, authenticate, read and write block are each answered within the time limit on the first attempt;
    a wrong key and an unauthenticated sector are reported as status codes, never as a hang."""
    L = reader.layout
    limit = reader.protocol.timing.response_timeout_s
    reader.card_in_field()
    times = {}

    def timed(name, call):
        t0 = time.monotonic()
        out = call()
        times[name] = round(time.monotonic() - t0, 4)
        return out

    for _ in range(POLLS):  # a host polls for cards continuously
        p = timed("POLL", reader.drv.poll)
        assert p.present, "the reader does not see the card in its field"
    timed("AUTH", lambda: reader.drv.auth(15, L.key_b, 0x61))
    data = timed("READ_BLOCK", lambda: reader.drv.read_block(60))
    timed("WRITE_BLOCK", lambda: reader.drv.write_block(60, data))  # writes back what was there
    wrong = nak_of(lambda: reader.drv.auth(15, bytes(6), 0x60))
    assert wrong == "AUTH_FAILED", f"a wrong key was answered {wrong or 'ACK'}; expected NAK AUTH_FAILED"
    unauth = nak_of(lambda: reader.drv.read_block(60))
    assert unauth == "NOT_AUTHENTICATED", (
        f"reading after a failed authentication was answered {unauth or 'with data'}; expected NAK NOT_AUTHENTICATED"
    )
    if reader.builtin:
        reader.remove()
        none = nak_of(lambda: reader.drv.read_block(4))
        assert none == "NO_CARD", f"with no card in the field, READ_BLOCK was answered {none or 'with data'}"
    st = reader.drv.stats
    evidence.attach_json("timing.json", {"seconds": times, "limit_s": limit, "driver_stats": st})
    slow = {k: v for k, v in times.items() if v > limit}
    assert not slow, f"commands answered later than {limit:g} s: {slow}"
    assert st["retransmissions"] == 0 and st["timeouts"] == 0 and not st["bad_crc"], (
        f"{st['retransmissions']} requests had to be repeated ({st['bad_crc']} damaged answer frames): answer every "
        "command at once in good frames"
    )


@pytest.mark.requirement("PERC-READER-02")
@pytest.mark.applies(kinds=("card_reader",))
def test_mifare_classic_1k_geometry(reader, evidence):
    """A 4-byte UID card of 16 sectors x 4 blocks x 16 bytes: every sector authenticates, every block reads,
    block 3 of each sector is its trailer (key A reads back as zeros); a spare block writes and reads back."""
    L = reader.layout
    reader.card_in_field()
    p = reader.drv.poll()
    assert p.present and len(p.uid) == 4, f"card UID {p.uid.hex()} is not a 4-byte Mifare Classic UID"
    sizes = {}
    for s in range(16):
        try:
            reader.drv.auth(s, L.key_a, 0x60)
            for b in range(4 * s, 4 * s + 4):
                data = reader.drv.read_block(b)
                sizes[b] = len(data)
                assert len(data) == 16, f"block {b} reads {len(data)} bytes, not 16"
                if b % 4 == 3:
                    assert data[:6] == bytes(6), f"block {b} (sector {s} trailer) reads key A back: not a trailer"
        except DeviceNak as exc:
            raise AssertionError(
                f"sector {s} of a Mifare Classic 1K card cannot be read ({exc.reason}): handle all 16 sectors"
            ) from None
    reader.drv.auth(15, L.key_b, 0x61)
    old = reader.drv.read_block(61)
    probe = bytes((reader.seed + i) % 256 for i in range(16))
    reader.drv.write_block(61, probe)
    back = reader.drv.read_block(61)
    reader.drv.write_block(61, old)
    evidence.attach_json("geometry.json", {"uid": p.uid.hex(), "sak": p.sak, "blocks_read": len(sizes)})
    assert back == probe, "block 61 reads back different from what was written"
