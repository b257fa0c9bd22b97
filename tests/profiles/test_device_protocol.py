"""The profile's device protocol: framer, CRC, payload layouts, message table, card layout."""

from __future__ import annotations

import string
from dataclasses import fields
from datetime import datetime

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.device import (
    Frame,
    FrameDecoder,
    FrameFault,
    FrameSpec,
    PayloadError,
    UnknownCommand,
    crc16,
    get_protocol,
)
from profiles.device import messages as m
from profiles.device.card_layout import CardBatch, CardHolder, CardWatch, load_card_layout
from profiles.device.fields import Layout
from profiles.device.messages import REGISTRY, STRUCTS, class_name

P = get_protocol()
SPEC = P.frame
CODES = load_profile().codes


# -- CRC and frame vectors ------------------------------------------------------------


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE catalogue check value


def test_known_frame_bytes():
    # STX | LEN=0002 | SEQ=01 | CMD=20 | CRC | ETX
    body = bytes.fromhex("00020120")
    assert P.encode(m.IdentifyRequest(), 1) == b"\x02" + body + crc16(body).to_bytes(2, "big") + b"\x03"
    assert P.encode(m.Ack(0x22), 5)[4] == 0x06 and P.encode(m.Nak(0x22, 0x01), 5)[4] == 0x15


def test_response_code_has_flag():
    f = FrameDecoder(SPEC).feed(P.encode(m.GetClockResponse(datetime(2024, 5, 18, 8, 0, 1)), 9))[0]
    assert f.cmd == 0x21 | 0x80
    assert P.decode(f) == m.GetClockResponse(datetime(2024, 5, 18, 8, 0, 1))


# -- table consistency ----------------------------------------------------------------


def test_every_toml_message_has_classes():
    for wire, cmd in P.commands.items():
        role = "request" if cmd.direction == "host" else "event"
        assert REGISTRY[(wire, role)] is cmd.request_cls
        assert cmd.request_cls.__name__ == class_name(wire, role)
        if cmd.response is not None:
            assert tuple(f.name for f in fields(cmd.response_cls)) == cmd.response.names


def test_class_name_conversion():
    assert class_name("READ_RECORDS", "request") == "ReadRecordsRequest"
    assert class_name("SALE_EVENT", "event") == "SaleEvent"


def test_protocol_refuses_drifted_class():
    data = load_profile().data("device_protocol")
    bad = dict(data, messages=dict(data["messages"]))
    bad["messages"]["GET_CLOCK"] = dict(bad["messages"]["GET_CLOCK"], response=[{"name": "when", "type": "datetime"}])
    from profiles.device.protocol import Protocol

    with pytest.raises(ValueError, match="fields"):
        Protocol(bad)


def test_nak_codes_and_command_codes_unique():
    assert len({n.code for n in P.naks.values()}) == len(P.naks)
    assert len(P.by_code) == len(P.commands)


def test_protocol_registry():
    from profiles.device import available_protocols

    assert "roucai-dp/1" in available_protocols()
    with pytest.raises(KeyError):
        get_protocol("no-such-protocol")


# -- generic value strategies from the TOML layouts -----------------------------------------

_GB = st.text(
    alphabet=st.sampled_from(list("猪牛羊肉菜萝卜白摊位张李市场") + list(string.ascii_letters + string.digits + "-_ ")),
    max_size=20,
)


def _field_strategy(ftype: str):
    t, _, arg = ftype.partition(":")
    if t == "u8":
        return st.integers(0, 255)
    if t == "u16":
        return st.integers(0, 65535)
    if t == "u32":
        return st.integers(0, 2**32 - 1)
    if t == "i32":
        return st.integers(-(2**31), 2**31 - 1)
    if t == "bool":
        return st.booleans()
    if t == "ascii":
        return st.text(alphabet=string.digits + string.ascii_letters, max_size=int(arg))
    if t == "gb18030":
        return st.text(alphabet="张李王建国丽ab", max_size=int(arg) // 2)
    if t == "bytes":
        return st.binary(min_size=int(arg), max_size=int(arg))
    if t == "blob":
        return st.binary(max_size=40)
    if t == "text":
        return _GB.map(lambda s: s.strip())
    if t == "datetime":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
            lambda d: d.replace(microsecond=0)
        )
    if t == "list":
        lay = P.struct_layouts[arg]
        return st.lists(_layout_strategy(lay, STRUCTS[arg]), max_size=3)
    raise AssertionError(ftype)


def _layout_strategy(layout: Layout, cls):
    return st.fixed_dictionaries({f.name: _field_strategy(f.type) for f in layout.fields}).map(lambda d: cls(**d))


_BY_CLASS = {}
for _wire, _cmd in P.commands.items():
    _BY_CLASS[_cmd.request_cls.__name__] = _layout_strategy(_cmd.request, _cmd.request_cls)
    if _cmd.response is not None:
        _BY_CLASS[_cmd.response_cls.__name__] = _layout_strategy(_cmd.response, _cmd.response_cls)
_BY_CLASS["Ack"] = st.builds(m.Ack, st.integers(0, 255))
_BY_CLASS["Nak"] = st.builds(m.Nak, st.integers(0, 255), st.integers(0, 255))
ANY_MESSAGE = st.one_of(list(_BY_CLASS.values()))


@pytest.mark.parametrize("cls_name", sorted(_BY_CLASS))
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seq=st.integers(0, 255))
def test_round_trip_every_message(cls_name, data, seq):
    msg = data.draw(_BY_CLASS[cls_name])
    frame = P.encode(msg, seq)
    out = FrameDecoder(SPEC).feed(frame)
    assert len(out) == 1 and isinstance(out[0], Frame) and out[0].seq == seq
    assert P.decode(out[0]) == msg


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decoder_never_raises_on_garbage(data):
    dec = FrameDecoder(SPEC)
    for item in dec.feed(data) + dec.flush():
        assert isinstance(item, (Frame, FrameFault))
    assert dec.stats["garbage_bytes"] <= len(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), ANY_MESSAGE, st.integers(0, 255))
def test_resync_after_garbage(garbage, msg, seq):
    good = P.encode(msg, seq)
    dec = FrameDecoder(SPEC)
    got = [f for f in dec.feed(garbage + good) + dec.flush() if isinstance(f, Frame)]
    assert got and got[-1] == Frame(seq, good[4], good[5:-3])
    if garbage:
        assert dec.errors > 0 or got[:-1]


@settings(max_examples=200, deadline=None)
@given(st.lists(ANY_MESSAGE, min_size=1, max_size=4), st.data())
def test_chunked_feed_equals_whole(msgs, data):
    stream = b"".join(P.encode(x, i) for i, x in enumerate(msgs))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    dec = FrameDecoder(SPEC)
    out, prev = [], 0
    for c in cuts + [len(stream)]:
        out += dec.feed(stream[prev:c])
        prev = c
    assert [P.decode(f) for f in out] == msgs


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(P.by_code)), st.booleans(), st.binary(max_size=120))
def test_payload_decode_only_raises_payload_error(code, response, payload):
    cmd = code | 0x80 if response else code
    try:
        msg = P.decode(Frame(1, cmd, payload))
    except (PayloadError, UnknownCommand):
        return
    assert isinstance(msg, m.Message)


def test_bit_flip_is_caught_by_crc():
    frame = bytearray(P.encode(m.ReadRecordsRequest(5, 10), 3))
    frame[7] ^= 0x10
    out = FrameDecoder(SPEC).feed(bytes(frame))
    assert out == [FrameFault("bad_crc", 3, 0x27)]


def test_truncated_frame_flushes_as_fault():
    dec = FrameDecoder(SPEC)
    assert dec.feed(P.encode(m.StatusRequest(), 4)[:-2]) == []
    assert dec.flush()[0] == FrameFault("truncated", 4, 0x26)
    assert dec.stats["truncated"] == 1 and dec.pending == 0


def test_oversize_and_bad_values_refused_on_encode():
    with pytest.raises(ValueError):
        FrameSpec().encode(0, 0, bytes(5000))
    with pytest.raises(PayloadError):
        P.encode(m.SetClockRequest("tomorrow"), 1)
    with pytest.raises(PayloadError):
        P.encode(m.BindStallRequest("650102001", "６５", "A", "", ""), 1)  # full-width: not ASCII
    with pytest.raises(PayloadError):
        P.encode(m.StopTradeRequest("1" * 20, "长" * 200), 1)  # text > 255 bytes


def test_text_is_gb18030_on_the_wire():
    raw = P.encode(m.StopTradeRequest("1" * 20, "检测不合格"), 1)
    assert "检测不合格".encode("gb18030") in raw


def test_code_findings_on_messages():
    rec = m.SaleRecord(
        1,
        "6501020010001000000X",
        "",
        "21111002",
        "猪前腿肉",
        1000,
        2000,
        2000,
        datetime(2024, 1, 1),
        "x",
        "6501020010001",
        "A",
    )
    fs = P.code_findings(m.SaleEvent([rec]), CODES)
    assert any(f.field.startswith("SALE_EVENT.record[0].trace_code") for f in fs)
    assert any(f.field.startswith("SALE_EVENT.record[0].batch_trace") for f in fs)
    assert all(f.rule.startswith("CODE-") for f in fs)
    ok = m.SaleRecord(
        1,
        "65010200100010000001",
        "65010200100020000007",
        "21111002",
        "猪前腿肉",
        1000,
        2000,
        2000,
        datetime(2024, 1, 1),
        "x",
        "6501020010001",
        "A",
    )
    assert P.code_findings(m.SaleEvent([ok]), CODES) == []


def test_trace_decoder_describes_frames():
    d = P.trace_decoder()(P.encode(m.ReadRecordsRequest(1, 5), 2))
    assert d["message"] == "READ_RECORDS" and d["fields"] == {"from_index": 1, "max_count": 5}
    assert P.trace_decoder()(b"\x00\x01") is None


# -- card layout ------------------------------------------------------------------------

L = load_card_layout()
UID = bytes.fromhex("a1b2c3d4")
HOLDER = CardHolder("6501020010001", "650102001", "张建国")


def test_issue_and_read_back():
    r = L.read(L.issue(UID, HOLDER), UID, CODES)
    assert r.ok and r.holder == HOLDER and r.version == 1 and r.findings == []


def test_base_copy_torn_write_falls_back_to_older_copy():
    img = L.issue(UID, HOLDER)
    r = L.read(img, UID)
    plan = L.plan_base_write(r, CardHolder("6501020010001", "650102001", "李四"))
    blk, data = plan[1]
    img[plan[0][0]] = plan[0][1]
    img[blk] = data[:7] + bytes(9)  # torn in the middle of the second block
    r2 = L.read(img, UID)
    assert r2.holder == HOLDER and r2.version == 1
    assert [f.rule for f in r2.findings] == ["PERC-CARD-02"]


def test_mac_catches_data_copied_to_other_uid():
    img = L.issue(UID, HOLDER)
    r = L.read(img, bytes.fromhex("01020304"))
    assert not r.ok and "PERC-CARD-03" in {f.rule for f in r.findings}


def test_batch_ring_keeps_newest():
    img = L.issue(UID, HOLDER)
    n = len(L.batch_sectors)
    for i in range(n + 5):
        r = L.read(img, UID)
        for blk, data in L.plan_batch_write(
            r, CardBatch(CODES.trace_code("6501020010002", i + 1), "21111002", 1000 + i, 2600, 20240518)
        ):
            img[blk] = data
    r = L.read(img, UID, CODES)
    assert len(r.batches) == n and r.ok
    assert [b.weight_g for b in r.batches] == [1000 + i for i in range(n + 4, 4, -1)]


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.integers(0, 63), st.binary(min_size=16, max_size=16), max_size=20),
    st.binary(min_size=4, max_size=4),
)
def test_card_read_never_raises(blocks, uid):
    img = L.issue(UID, HOLDER)
    img.update(blocks)
    r = L.read(img, uid, CODES)
    assert isinstance(r.findings, list)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="张李王建国丽古热阿买提", min_size=1, max_size=7), st.sampled_from([1, 2]))
def test_holder_round_trip(name, kind):
    h = CardHolder("6501020010001", "650102001", name, kind)
    assert L.read(L.issue(UID, h), UID).holder == h


def test_card_watch_flags_clone():
    w = CardWatch()
    img = L.issue(UID, HOLDER)
    old = L.read(img, UID)
    for blk, data in L.plan_base_write(old, HOLDER):
        img[blk] = data
    new = L.read(img, UID)
    assert w.observe(new) == []
    assert [f.rule for f in w.observe(old)] == ["PERC-CARD-05"]


def test_reference_page_is_rendered_from_the_data():
    from pathlib import Path
    from profiles.device.doc import render

    page = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
    assert page.read_text("utf-8") == render(), "run: python -m profiles.device.doc > docs/device-protocol.md"


def _every_layout():
    out = [(f"struct {n}", lay) for n, lay in sorted(P.struct_layouts.items())]
    for wire, cmd in sorted(P.commands.items()):
        out.append((f"{wire} request", cmd.request))
        if cmd.response is not None:
            out.append((f"{wire} response", cmd.response))
    out += [("card base", load_card_layout().base_layout), ("card batch", load_card_layout().batch_layout)]
    return out


def _field_by_field(layout, buf):
    values, pos = {}, 0
    for name, _, dec in layout._codecs:
        values[name], pos = dec(buf, pos)
    return values, pos


def _outcome(fn, *a):
    try:
        return ("ok", fn(*a))
    except PayloadError as e:
        return ("error", e.field, e.en)


def _mutated(data, layout):
    """A valid encoding of ``layout`` with a few bytes changed (digits, spaces, NUL, 0xFF, high bytes)."""
    values = data.draw(st.fixed_dictionaries({f.name: _field_strategy(f.type) for f in layout.fields}))
    buf = bytearray(layout.encode(values))
    for _ in range(data.draw(st.integers(0, 3))):
        if buf:
            buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.sampled_from(b"0 9\x00\xff\x80A"))
    return bytes(buf[: data.draw(st.integers(0, len(buf)))]) if data.draw(st.booleans()) and buf else bytes(buf)


@pytest.mark.parametrize("what,layout", _every_layout(), ids=[w for w, _ in _every_layout()])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_struct_runs_decode_as_field_by_field(what, layout, data):
    """``decode_from`` (the generated decoder, the field decoders where it gives up) gives exactly the values or
    the error the field decoders give."""
    payload = data.draw(
        st.one_of(st.binary(max_size=120), st.builds(lambda: None).flatmap(lambda _: st.just(_mutated(data, layout))))
    )
    assert _outcome(layout.decode_from, payload, 0) == _outcome(_field_by_field, layout, payload)


def _raised(fn, *a):
    """Like :func:`_outcome`, for any exception (the field encoders also let ``TypeError`` through)."""
    try:
        return ("ok", fn(*a))
    except Exception as e:
        return ("error", type(e), getattr(e, "field", None), str(e))


def _encode_field_by_field(layout, values):
    out = bytearray()
    for (_, enc, _), v in zip(layout._codecs, values):
        enc(v, out)
    return bytes(out)


#: values no field type accepts everywhere: wrong types, out of range, too long, not encodable
_ODD_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**33), 2**33),
    st.floats(allow_nan=False),
    st.text(alphabet="ab9 é张\0", max_size=300),
    st.binary(max_size=300),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.lists(st.none(), max_size=2),
)


@pytest.mark.parametrize("what,layout", _every_layout(), ids=[w for w, _ in _every_layout()])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_compiled_encoder_is_the_field_encoders(what, layout, data):
    """The generated encoder returns exactly the field encoders' bytes, on valid values always; on values the
    field encoders refuse it never returns, so ``Layout.encode`` raises their precise error."""
    odd = [data.draw(st.booleans()) and data.draw(st.booleans()) for _ in layout.fields]
    values = [data.draw(_ODD_VALUE if o else _field_strategy(f.type)) for f, o in zip(layout.fields, odd)]
    slow = _raised(_encode_field_by_field, layout, values)
    try:
        fast = ("ok", layout._fast_encode(values))
    except Exception:
        fast = None
    if fast is not None:
        assert fast == slow
    if not any(odd):
        assert fast == slow, "valid values must take the generated path"
    assert _raised(layout.encode, {f.name: v for f, v in zip(layout.fields, values)}) == slow


@pytest.mark.parametrize("what,layout", _every_layout(), ids=[w for w, _ in _every_layout()])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_compiled_decoder_is_the_field_decoders(what, layout, data):
    """The generated decoder returns exactly the field decoders' values (same dict order) whenever it
    returns, and it does return on every valid encoding (else the speed-up would silently be gone)."""
    valid = layout.encode(data.draw(st.fixed_dictionaries({f.name: _field_strategy(f.type) for f in layout.fields})))
    every_cut = [valid[:k] for k in range(len(valid))]
    for payload in [valid, _mutated(data, layout), data.draw(st.binary(max_size=120)), *every_cut]:
        slow = _outcome(_field_by_field, layout, payload)
        try:
            fast = layout._fast_decode(payload, 0)
        except Exception:
            assert payload != valid, "a valid encoding must take the generated path"
            continue
        assert slow[0] == "ok" and list(fast[0].items()) == list(slow[1][0].items()) and fast[1] == slow[1][1]
