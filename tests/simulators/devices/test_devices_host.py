"""Host programs against simulated devices over real lines (pty, sim://, socket://).

The first test is the issue's "must show": a host using plain pyserial (and
the profile's framer, nothing of the driver) reads a sale record from a
simulated scale, with the same code over a pty and over ``sim://``.
"""

from __future__ import annotations

import threading
import time

import pytest
import serial

from devices_helpers import BATCH, bound_scale
from profiles import load_profile
from profiles.device import Frame, FrameDecoder, get_protocol
from profiles.device import messages as m
from simulators.devices import DeviceNak, DeviceTimeout, ScaleDriver, serve
from simulators.devices.faults import FaultSet
from simulators.serial import LineSettings, bit_errors, byte_loss, open_line

P = get_protocol()
CODES = load_profile().codes


def host_read_first_sale(url: str) -> m.SaleRecord:
    """What a vendor's host program does: open the port, send READ_RECORDS, read the answer."""
    port = serial.serial_for_url(url, baudrate=115200, timeout=0.05)
    try:
        port.write(P.encode(m.ReadRecordsRequest(1, 1), seq=1))
        dec, deadline = FrameDecoder(P.frame), time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for f in dec.feed(port.read(256)):
                if isinstance(f, Frame) and f.seq == 1 and f.cmd == 0x27 | 0x80:
                    return P.decode(f).records[0]
        raise AssertionError("no answer within 3 s")
    finally:
        port.close()


@pytest.mark.parametrize("backend", ["pty", "sim"])
def test_plain_pyserial_host_reads_a_sale(backend):
    scale = bound_scale(faults=FaultSet(["no_events"]))
    sold = scale.sell(BATCH, 1500)
    with open_line(f"host-{backend}", backend=backend, settings=LineSettings(baudrate=115200)) as line:
        with serve(scale, line.device):
            rec = host_read_first_sale(line.host_url)
    assert rec == sold and CODES.is_valid(rec.trace_code, "trace")
    if backend == "sim":
        assert line.host_url.startswith("sim://")


@pytest.mark.parametrize("backend", ["sim", "pty", "socket"])
def test_driver_full_session(backend):
    scale = bound_scale()
    with open_line(f"drv-{backend}", backend=backend, settings=LineSettings(baudrate=115200)) as line:
        with serve(scale, line.device) as runner, ScaleDriver(line.host_url, baudrate=115200) as d:
            assert d.identify().capability_map()["max_g"] == "15000"
            d.load_batch("65010200200010000009", "21111004", 3000, 3500)
            with runner.lock:
                scale.place(1000, settled=True)
            rec = d.sell("65010200200010000009")
            ev = d.events.popleft() if d.events else d.wait_event(2.0)
            assert isinstance(ev, m.SaleEvent) and ev.record[0] == rec
            with pytest.raises(DeviceNak) as e:
                d.sell("65010200200010000009")  # 2 kg more than the 3 kg limit allows
                d.sell("65010200200010000009")
                d.sell("65010200200010000009")
            assert e.value.reason == "LIMIT_EXCEEDED"
            got = d.upload_all()
            assert [r.index for r in got] == list(range(1, len(got) + 1)) and d.status().memory_used == 0
            assert d.stats["timeouts"] == 0


def test_timeout_is_reported_not_hung():
    scale = bound_scale(faults=FaultSet(["mute"]))
    with open_line("mute", settings=LineSettings(baudrate=115200)) as line:
        with (
            serve(scale, line.device),
            ScaleDriver(line.host_url, baudrate=115200, response_timeout_s=0.1, retries=2) as d,
        ):
            t = time.monotonic()
            with pytest.raises(DeviceTimeout) as e:
                d.identify()
            assert e.value.attempts == 3 and time.monotonic() - t < 1.0
            assert d.stats["retransmissions"] == 2 and d.stats["timeouts"] == 1


def test_bad_crc_answers_are_retried():
    scale = bound_scale(faults=FaultSet(["bad_crc=2"]))
    with open_line("badcrc", settings=LineSettings(baudrate=115200)) as line:
        with serve(scale, line.device), ScaleDriver(line.host_url, baudrate=115200, response_timeout_s=0.1) as d:
            for _ in range(6):
                assert d.get_clock().year >= 2000
            assert d.stats["bad_crc"] >= 2 and d.stats["retransmissions"] >= 2


def test_noisy_line_resyncs_and_counts():
    scale = bound_scale(faults=FaultSet(["no_events"]))
    for _ in range(60):
        scale.sell(BATCH, 100)
    faults = [bit_errors(5e-5, seed=7), byte_loss(1e-4, seed=8)]  # roughly 1 answer in 5 damaged
    with open_line("noisy", settings=LineSettings(baudrate=115200), faults=faults) as line:
        with (
            serve(scale, line.device),
            ScaleDriver(line.host_url, baudrate=115200, response_timeout_s=0.15, retries=6) as d,
        ):
            got = d.upload_all(batch=3)
    assert [r.index for r in got] == list(range(1, 61))
    assert scale.status().memory_used == 0
    st = d.stats
    assert st["retransmissions"] > 0 and (st["garbage_bytes"] + st["bad_crc"] + st["bad_etx"]) > 0


def test_garbage_from_device_is_skipped():
    """A host fed line noise between answers still gets each answer and counts the noise."""
    scale = bound_scale()
    with open_line("garbage", settings=LineSettings(baudrate=115200)) as line:
        with serve(scale, line.device) as runner, ScaleDriver(line.host_url, baudrate=115200) as d:
            stop = threading.Event()

            def noise():
                while not stop.wait(0.02):
                    with runner.lock:
                        line.device.write(b"\x02\xff\x13\x10noise\x03")

            t = threading.Thread(target=noise)
            t.start()
            try:
                for _ in range(10):
                    d.status()
            finally:
                stop.set()
                t.join()
            assert d.stats["garbage_bytes"] > 0 and d.stats["timeouts"] == 0


def test_event_right_after_the_answer_is_kept():
    """A device that pushes a SALE_EVENT in the same burst as an answer: the host ACKs the event and keeps it
    (an earlier driver returned the answer and dropped the event it had already acknowledged)."""
    scale = bound_scale(faults=FaultSet(["no_events"]))
    rec = scale.sell(BATCH, 700)
    with open_line("answer-then-event", settings=LineSettings(baudrate=115200), paced=False) as line:  # one burst
        acks = []

        def device():
            dec, deadline = FrameDecoder(P.frame), time.monotonic() + 3.0
            while time.monotonic() < deadline:
                for f in dec.feed(line.device.read(256)):
                    if isinstance(f, Frame) and f.cmd == P.commands["GET_CLOCK"].code:
                        line.device.write(
                            P.encode(m.GetClockResponse(rec.time), f.seq) + P.encode(m.SaleEvent([rec]), 9)
                        )
                    elif isinstance(f, Frame) and f.cmd == P.ack_code:
                        acks.append(f.seq)
                        return

        line.device.timeout = 0.02
        t = threading.Thread(target=device)
        t.start()
        try:
            with ScaleDriver(line.host_url, baudrate=115200) as d:
                assert d.get_clock() == rec.time
                ev = d.wait_event(1.0)
        finally:
            t.join()
    assert isinstance(ev, m.SaleEvent) and ev.record == [rec]
    assert acks == [9]
