"""HTTP-level security of the reference platform (issue 13 findings 4, 8, 11, 12): body limits on every
endpoint (chunked included), 4xx for bad parameters, ``Allow`` on 405, 500s in the access log, no huge echoes."""

import logging
import select
import socket
import time

import pytest

from platformkit import W
from simulators.platform import logs
from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import ThreadedPlatform
from simulators.platform.nodeauth import sign

LIMIT = 64 * 1024


@pytest.fixture
def small(tmp_path):
    """A platform whose body limit is 64 KiB."""
    cfg = PlatformConfig(db=str(tmp_path / "p.db"), port=0, log_level="warning", max_body=LIMIT)
    with ThreadedPlatform(cfg) as tp:
        yield tp


def _chunked(url: str, method: str, path: str, total: int, extra: str = "") -> tuple[bytes, int]:
    """Send a chunked body of up to ``total`` bytes; stop as soon as the server answers.
    Returns (first bytes of the answer, bytes of body sent)."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        s.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{extra}"
            "Content-Type: application/json\r\n\r\n".encode()
        )
        chunk = b"%x\r\n" % 16384 + b"a" * 16384 + b"\r\n"
        sent = 0
        while sent < total:
            if select.select([s], [], [], 0)[0]:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 16384
        else:
            s.sendall(b"0\r\n\r\n")
        s.settimeout(10)
        try:
            return s.recv(4096), sent
        except ConnectionResetError:
            return b"", sent
    finally:
        s.close()


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("GET", "/api/v1/stoptrade", b"413"),
        ("POST", "/api/v1/stoptrade/1/ack", b"413"),
        ("GET", "/api/v1/nodes", b"401"),  # unsigned: refused without reading the body (regulator_gate.py)
    ],
)  # reads no body: answers at once
def test_chunked_body_over_the_limit_is_refused_early(small, method, path, status):
    head, sent = _chunked(small.url, method, path, 32 * 1024 * 1024)
    assert head.startswith(b"HTTP/1.1 " + status), head[:200]
    assert sent <= LIMIT + 4 * 1024 * 1024, f"the server read {sent} bytes before answering"


def test_declared_length_over_the_limit_is_refused_unread(small):
    import httpx

    r = httpx.post(small.url + "/api/v1/stoptrade/1/ack", content=b"x" * (LIMIT + 1), timeout=10)
    assert r.status_code == 413 and r.json()["error"]["en"].startswith("request body over the limit")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/kpis/quarter?quarter=0000Q1",
        "/api/v1/kpis/scales?quarter=0000Q1",
        "/api/v1/kpis/quarter?quarter=2025Q5",
        "/api/v1/kpis/quarter?quarter=",
        "/api/v1/kpis/scales?date=00000101",
        "/api/v1/kpis?date=00000101",
        "/api/v1/stats/daily?date=20251399",
        "/api/v1/stats/totals?date=00000000",
    ],
)
def test_bad_period_is_a_400_not_a_500(platform, path):
    r = platform.client.get(path)
    assert r.status_code == 400, (path, r.status_code, r.text[:200])
    assert r.json()["error"]["zh"] and r.json()["error"]["en"]


def test_last_representable_quarter_is_answered(platform):
    r = platform.client.get("/api/v1/kpis/quarter", params={"quarter": "9999Q4"})
    assert r.status_code == 200, r.text[:200]
    r = platform.client.get("/api/v1/kpis/scales", params={"quarter": "9999Q4"})
    assert r.status_code == 200, r.text[:200]


def test_huge_instruction_id_is_a_4xx(platform):
    path = "/api/v1/stoptrade/99999999999999999999999/ack"
    h = sign(platform.svc.profile.envelope, platform.keys[W], W, "POST", path)
    r = platform.client.post(path, headers=h)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])


def test_405_names_the_allowed_methods(platform):
    r = platform.client.delete("/api/v1/nodes")
    assert r.status_code == 405 and r.headers.get("allow") == "GET"
    r = platform.client.get("/api/v1/exchange")
    assert r.status_code == 405 and r.headers.get("allow") == "POST"


def test_a_request_ending_in_500_is_in_the_access_log(platform, monkeypatch):
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append((getattr(record, "event", None), getattr(record, "fields", {})))

    lg = logging.getLogger(logs.LOGGER)
    h, old = Keep(level=logging.INFO), lg.level
    lg.addHandler(h)
    lg.setLevel(logging.INFO)

    def boom(*a, **k):  # a fault injected from outside: the statistics store fails
        raise RuntimeError("injected")

    monkeypatch.setattr(platform.svc.stats, "totals", boom)
    try:
        r = platform.client.get("/api/v1/stats/totals", params={"date": "20250101"})
        assert r.status_code == 500
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e == "http" for e, _ in lines):
            time.sleep(0.02)
    finally:
        lg.removeHandler(h)
        lg.setLevel(old)
    http = [f for e, f in lines if e == "http"]
    assert http and http[0]["status"] == 500 and http[0]["path"] == "/api/v1/stats/totals"


def test_refusal_does_not_echo_a_huge_node_id(platform):
    big = "6" * (4 * 1024 * 1024)
    body = (
        f"<DataExchangeReq><NodeId>{big}</NodeId><RequestTime>20250101000000000</RequestTime>"
        "<VerifyCode>00000000000000000000000000000000</VerifyCode><Index>A03003</Index><Count>0</Count>"
        "<DataDate>20250101</DataDate><Address></Address></DataExchangeReq>"
    ).encode()
    r = platform.client.post("/api/v1/exchange", content=body, headers={"Content-Type": "application/xml"})
    assert r.status_code in (400, 401, 413)
    assert len(r.content) < 4096, len(r.content)


def test_json_refusal_does_not_echo_a_long_node_id(platform):
    import json

    body = json.dumps(
        {
            "DataExchangeReq": {
                "NodeId": "6" * 3000,
                "RequestTime": "20250101000000000",
                "VerifyCode": "0" * 32,
                "Index": "A03003",
                "Count": "0",
                "DataDate": "20250101",
                "Address": {},
            }
        }
    ).encode()
    r = platform.client.post("/api/v1/exchange", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert len(r.content) < 2048 and "6" * 100 not in r.text, r.text[:300]
