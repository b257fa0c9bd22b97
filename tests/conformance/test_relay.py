"""The serial relay on its own (conformance/proofs/relay.py), against a simulated scale in another process.

Transparent when clean (same answers as the scale gives directly, nothing changed), a partial frame passed on
so the scale judges the truncation itself, a changed frame re-encoded with a good CRC, and usage errors
refused with a bilingual message.
"""

from __future__ import annotations

import socket
import time

import pytest
import serial
from test_perception_suite import DeviceProcess

from conformance.proofs.device_defects import load_catalogue
from conformance.proofs.relay import Relay, RelayError
from profiles.device import get_protocol
from profiles.device import messages as m
from simulators.devices.driver import ScaleDriver

PROTO = get_protocol()


@pytest.fixture
def scale(tmp_path):
    dev = DeviceProcess(tmp_path)
    yield dev
    dev.stop()


def _driver(url: str) -> tuple[ScaleDriver, serial.Serial]:
    port = serial.serial_for_url(url, timeout=0.01)
    return ScaleDriver(port, protocol=PROTO), port


def test_clean_relay_answers_as_the_scale_does(scale):
    direct, port = _driver(scale.url)
    want = direct.identify()
    port.close()
    time.sleep(0.3)  # the scale serves one host at a time
    relay = Relay("socket://127.0.0.1:0", scale.url).start()
    try:
        drv, port = _driver(relay.host_url)
        assert drv.identify() == want
        assert drv.status().bound in (True, False)
        port.close()
    finally:
        relay.stop()
    assert relay.stats["device->host"]["frames"] >= 2 and relay.stats["device->host"]["changed"] == 0
    assert relay.stats["host->device"]["changed"] == 0 and relay.error is None


def test_partial_frame_reaches_the_scale_which_naks_it(scale):
    relay = Relay("socket://127.0.0.1:0", scale.url).start()
    try:
        port = relay.host_url.rsplit(":", 1)[1]
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=2)
        frame = PROTO.encode(m.StatusRequest(), seq=9)
        s.sendall(b"\xff\x00noise" + frame[:5])  # noise, then half a frame; the line goes quiet
        dec, got, deadline = PROTO.decoder(), [], time.monotonic() + 3
        s.settimeout(0.2)
        while not got and time.monotonic() < deadline:
            try:
                got = [PROTO.decode(f) for f in dec.feed(s.recv(256)) if hasattr(f, "payload")]
            except TimeoutError:
                pass
        s.close()
    finally:
        relay.stop()
    assert got and isinstance(got[0], m.Nak) and PROTO.naks[got[0].reason].name == "TRUNCATED", got


def test_defect_reencodes_with_a_good_crc(scale):
    defect = load_catalogue()["identify-overstates-batches"]
    relay = Relay("socket://127.0.0.1:0", scale.url, defect, seed=1).start()
    try:
        drv, port = _driver(relay.host_url)
        caps = drv.identify().capability_map()
        stats = dict(drv.stats)
        port.close()
    finally:
        relay.stop()
    assert caps["max_batches"] == "16"
    assert stats.get("bad_crc", 0) == 0 and stats.get("retransmissions", 0) == 0, stats
    assert relay.stats["device->host"]["changed"] == 1


@pytest.mark.parametrize(
    "listen, to",
    [
        ("tcp://127.0.0.1:1", "socket://127.0.0.1:2"),
        ("socket://10.0.0.1:7000", "socket://127.0.0.1:2"),
        ("socket://127.0.0.1:0", "/nonexistent/tty"),
    ],
)
def test_usage_errors_are_bilingual(listen, to):
    with pytest.raises(RelayError) as exc:
        Relay(listen, to)
    assert exc.value.zh and exc.value.en and exc.value.zh != exc.value.en


def test_host_side_on_a_pty(scale, tmp_path):
    """``--listen pty``: the harness opens the relay's pseudo-terminal (here through a symlink) like a COM port."""
    link = tmp_path / "scale-behind-relay"
    relay = Relay("pty", scale.url, link=str(link)).start()
    try:
        drv, port = _driver(str(link))
        assert drv.identify().device_kind == "scale"
        port.close()
    finally:
        relay.stop()
    assert not link.exists() and relay.stats["device->host"]["frames"] >= 1
