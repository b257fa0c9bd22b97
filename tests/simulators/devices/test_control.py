"""The simulated devices' control channel: ``roucai device scale --control`` and ``roucai device act``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.devices.control import ControlServer, ReaderControl, ScaleControl, send_action, ControlError
from simulators.devices.reader import ReaderModel
from simulators.devices.scale import ScaleModel

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def roucai(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", *args], capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT
    )


@pytest.fixture
def scale_process(tmp_path):
    wire, ctl = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "device",
            "scale",
            "--url",
            f"socket://127.0.0.1:{wire}",
            "--control",
            f"socket://127.0.0.1:{ctl}",
            "--blank",
            "--db",
            str(tmp_path / "s.db"),
            "--storage-records",
            "12000",
            "--for",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", ctl), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.1)
    yield f"socket://127.0.0.1:{wire}", f"socket://127.0.0.1:{ctl}"
    proc.terminate()
    proc.wait(10)


def test_act_drives_a_scale_in_another_process_with_proper_exit_codes(scale_process):
    wire, ctl = scale_process
    r = roucai("device", "act", ctl, "put-load", "1236")
    assert r.returncode == 0 and "1236" in r.stdout, r.stderr
    w = roucai("--json", "device", "drive", wire, "weigh")
    assert w.returncode == 0 and '"net_g": 1236' in w.stdout, w.stdout + w.stderr
    ident = roucai("--json", "device", "drive", wire, "identify")
    assert '"storage_records"' in ident.stdout and "12000" in ident.stdout  # --storage-records
    assert roucai("device", "act", ctl, "put-load", "grams=500").returncode == 0
    r = roucai("--lang", "en", "device", "act", ctl, "put-load")  # missing parameter
    assert r.returncode == 2 and "grams" in r.stderr and "Traceback" not in r.stderr
    r = roucai("device", "act", ctl, "no-such-action")
    assert r.returncode == 2 and "未知的操作" in r.stderr
    r = roucai("device", "act", ctl, "put-load", "lots")
    assert r.returncode == 2, r.stderr
    assert roucai("device", "act", ctl, "remove-load").returncode == 0
    r = roucai("--lang", "en", "device", "act", ctl, "press-tare")  # an empty pan, no tare: refused
    assert r.returncode == 1 and "refused" in r.stderr
    r = roucai("device", "act", f"socket://127.0.0.1:{free_port()}", "remove-load", "--timeout", "2")
    assert r.returncode == 3 and "Traceback" not in r.stderr
    r = roucai("--json", "device", "act", ctl, "read-receipt", "1")
    assert r.returncode == 0 and json.loads(r.stdout)["result"] == []


def test_bad_control_options_are_usage_errors(tmp_path):
    r = roucai(
        "device",
        "scale",
        "--url",
        f"socket://127.0.0.1:{free_port()}",
        "--control",
        "socket://10.0.0.1:7",
        "--for",
        "1",
    )
    assert r.returncode == 2 and "--control" in r.stderr
    r = roucai("device", "scale", "--url", f"socket://127.0.0.1:{free_port()}", "--storage-records", "0", "--for", "1")
    assert r.returncode == 2 and "--storage-records" in r.stderr
    assert roucai("device", "act").returncode == 2
    lst = roucai("--json", "device", "act", "--list")
    assert lst.returncode == 0 and "fill-store" in {a["action"] for a in json.loads(lst.stdout)}


def test_the_channel_refuses_malformed_requests_and_keeps_serving():
    model = ScaleModel(None, seed=2)
    srv = ControlServer(ScaleControl(model)).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=5) as s:
            f = s.makefile("rwb")
            for bad in (b"not json\n", b'{"params": {}}\n', b'{"action": 3}\n'):
                f.write(bad)
                f.flush()
                assert json.loads(f.readline())["code"] == "bad-request"
        with pytest.raises(ControlError) as e:
            send_action(srv.url, "put-load", {"grams": "-5"})
        assert e.value.code == "bad-params"
        with pytest.raises(ControlError) as e:
            send_action(srv.url, "pull-card-mid-write")  # a reader's action
        assert e.value.code == "unknown-action"
        out = send_action(srv.url, "fill-store", {"batch": "0" * 20, "count": "3"})
        assert out == {"stored": 0, "refusal": "NOT_BOUND"}
    finally:
        srv.stop()


def test_fill_store_makes_the_sales_and_keeps_the_paper():
    from profiles import load_profile

    codes = load_profile().codes
    model = ScaleModel(None, seed=3, capacity=50)
    op = codes.operator_code("650102001", 7)
    model.bind_stall("650102001", op, "A-01")
    batch = codes.trace_code(codes.operator_code("650102002", 1), 4242)
    model.load_batch(batch, "21111002", "猪肉", 1_000_000, 2800)
    ctl = ScaleControl(model)
    paper = model.paper
    assert ctl.perform("fill-store", {"batch": batch, "count": "60"}) == {"stored": 50, "refusal": "MEMORY_FULL"}
    assert model.store.unacked_count() == 50 and model.paper == paper


def test_reader_control_taps_an_issued_card():
    model = ReaderModel(seed=1)
    ctl = ReaderControl(model)
    ctl.perform("tap-card", {"operator": "6501020010001", "uid": "a1b2c3d4"})
    assert model.poll().present and model.poll().uid == bytes.fromhex("a1b2c3d4")
    ctl.perform("remove-card")
    assert not model.poll().present
    ctl.perform("tap-copied-card", {"uid": "01020304"})  # the last card's data on another UID
    assert model.poll().uid == bytes((1, 2, 3, 4))
    with pytest.raises(ControlError):
        ReaderControl(ReaderModel(seed=2)).perform("tap-copied-card", {"uid": "01020304"})  # nothing to copy
