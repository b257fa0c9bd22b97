"""Wire trace: JSON lines, both directions, decoded frames, decoder failures recorded."""

from __future__ import annotations

import json

import pytest
import serial

from simulators.serial import WireTrace, bit_errors, open_line

pytestmark = pytest.mark.usefixtures("no_leaks")


def decoder(data: bytes):
    if data.startswith(b"\x02") and data.endswith(b"\x03"):
        return {"cmd": data[1:-1].decode()}
    if data == b"boom":
        raise RuntimeError("decoder bug")
    return None


def test_trace_file_has_open_record_and_every_chunk(tmp_path):
    path = tmp_path / "wire.jsonl"
    trace = WireTrace(path, decoder=decoder)
    with open_line("tr", trace=trace, paced=False) as line:
        with serial.serial_for_url(line.host_url, timeout=0.5) as h:
            h.write(b"\x02ID\x03")
            line.device.timeout = 0.5
            assert line.device.read(4) == b"\x02ID\x03"
            line.device.write(b"raw")
            line.device.write(b"boom")
            h.read(7)
    trace.close()
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    assert recs[0]["event"] == "open" and recs[0]["line"] == "tr" and recs[0]["settings"]["baudrate"] == 9600
    assert recs[1]["dir"] == "host->device" and recs[1]["hex"] == "02 49 44 03"
    assert recs[1]["frame"] == {"cmd": "ID"} and recs[1]["n"] == 4
    assert recs[2]["dir"] == "device->host" and "frame" not in recs[2]
    assert recs[3]["frame_error"].startswith("RuntimeError")
    assert all(r["t"] >= 0 for r in recs[1:])


def test_trace_shows_sent_and_received_when_a_fault_changes_bytes():
    trace = WireTrace()
    with open_line("trf", trace=trace, paced=False, faults=[bit_errors(0.5, seed=1)]) as line:
        line.device.write(b"\x00" * 8)
    rec = trace.records[1]
    assert rec["sent_hex"] == "00 " * 7 + "00"
    assert rec["hex"] != rec["sent_hex"] and rec["faults"] == ["bit_errors"]
