"""The device side of the wire, byte for byte: answers, NAK reasons, replays, pushed events."""

from __future__ import annotations

from devices_helpers import BATCH, bound_scale
from profiles.device import Frame, FrameDecoder, get_protocol
from profiles.device import messages as m
from simulators.devices.endpoint import DeviceEndpoint
from simulators.devices.faults import FaultSet

P = get_protocol()


def decode(data: bytes):
    return [P.decode(f) for f in FrameDecoder(P.frame).feed(data) if isinstance(f, Frame)]


def ep(**kw):
    return DeviceEndpoint(P, bound_scale(**kw))


def test_request_gets_response():
    e = ep()
    [resp] = decode(e.receive(P.encode(m.IdentifyRequest(), 1), 0.0))
    assert isinstance(resp, m.IdentifyResponse) and resp.device_kind == "scale"
    assert decode(e.receive(P.encode(m.TareRequest(), 2), 0.0)) == [m.Nak(0x2A, 0x19)]  # nothing on the platter


def test_ack_for_commands_without_data():
    e = ep()
    assert decode(e.receive(P.encode(m.StopTradeRequest(BATCH, "x"), 3), 0.0)) == [m.Ack(0x25)]


def test_bad_crc_naks_and_keeps_serving():
    e = ep()
    f = bytearray(P.encode(m.StatusRequest(), 7))
    f[-2] ^= 0xFF
    assert decode(e.receive(bytes(f), 0.0)) == [m.Nak(0x26, P.nak_by_name["BAD_CRC"].code)]
    [ok] = decode(e.receive(P.encode(m.StatusRequest(), 8), 0.1))
    assert isinstance(ok, m.StatusResponse)


def test_truncated_frame_nak_after_idle_gap():
    e = ep()
    assert e.receive(P.encode(m.StatusRequest(), 9)[:-3], 1.0) == b""
    assert e.poll(1.05) == b""  # within the inter-byte timeout
    assert e.next_deadline(1.05) == 1.0 + P.timing.inter_byte_timeout_s
    assert decode(e.poll(1.2)) == [m.Nak(0x26, P.nak_by_name["TRUNCATED"].code)]


def test_unknown_command_and_bad_payload():
    e = ep()
    assert decode(e.receive(P.frame.encode(1, 0x7E, b""), 0)) == [m.Nak(0x7E, P.nak_by_name["UNKNOWN_CMD"].code)]
    assert decode(e.receive(P.frame.encode(2, 0x27, b"\x00"), 0)) == [m.Nak(0x27, P.nak_by_name["BAD_PAYLOAD"].code)]
    assert decode(e.receive(P.encode(m.PollRequest(), 3), 0)) == [m.Nak(0x60, P.nak_by_name["UNKNOWN_CMD"].code)]


def test_garbage_between_frames_is_skipped():
    e = ep()
    out = decode(e.receive(b"\xff\x00junk" + P.encode(m.GetClockRequest(), 4) + b"\x02\x02", 0))
    assert len(out) == 1 and isinstance(out[0], m.GetClockResponse)
    assert e.decoder.stats["garbage_bytes"] >= 6


def test_retransmitted_request_is_replayed_not_executed_twice():
    e = ep()
    req = P.encode(m.SellRequest(BATCH), 11)
    e.device.place(500, settled=True)
    a = e.receive(req, 0.0)
    b = e.receive(req, 0.6)
    assert a[5:] == b[5:] or decode(a)[-1] == decode(b)[0]
    assert e.device.status().memory_used == 1 and e.stats["replays"] == 1


def test_sale_event_pushed_retransmitted_then_dropped():
    e = ep()
    e.device.sell(BATCH, 500)
    [ev] = decode(e.poll(0.0))
    assert isinstance(ev, m.SaleEvent) and ev.record[0].weight_g > 0
    assert e.poll(0.1) == b""
    sends = 1
    t = 0.0
    while True:
        t += P.timing.event_ack_timeout_s
        out = e.poll(t)
        if not out:
            break
        assert isinstance(decode(out)[0], m.SaleEvent)
        sends += 1
    assert sends == 1 + P.timing.event_retries and e.stats["events_dropped"] == 1
    assert e.device.read_records(1, 5).records == ev.record  # still stored for polling


def test_event_ack_stops_retransmission():
    e = ep()
    e.device.sell(BATCH, 500)
    frame = e.poll(0.0)
    seq = frame[3]
    e.receive(P.ack(seq, 0x40), 0.1)
    assert e.poll(5.0) == b"" and e.stats["events_acked"] == 1


def test_mute_and_bad_crc_faults():
    e = ep(faults=FaultSet(["mute"]))
    assert e.receive(P.encode(m.IdentifyRequest(), 1), 0) == b""
    e = ep(faults=FaultSet(["bad_crc=2"]))
    first = e.receive(P.encode(m.GetClockRequest(), 1), 0)
    second = e.receive(P.encode(m.GetClockRequest(), 2), 0)
    assert decode(first) and decode(second) == []
    assert FrameDecoder(P.frame).feed(second)[0].kind == "bad_crc"


def test_powered_off_device_is_silent(tmp_path):
    e = DeviceEndpoint(P, bound_scale(tmp_path / "s.db"))
    e.device.power_cut()
    assert e.receive(P.encode(m.IdentifyRequest(), 1), 0) == b""
    e.device.restart()
    e.power_reset()
    assert decode(e.receive(P.encode(m.IdentifyRequest(), 1), 0))
