"""Issue 13 finding 5 (slow-loris): 200 connections holding partial headers and 20 holding partial bodies do not
stop the platform from serving others quickly, and the server closes them at its header / body deadlines."""

import socket
import time

import httpx
import pytest

from simulators.platform import slowloris, webguard
from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import ThreadedPlatform

pytestmark = pytest.mark.slow
DEADLINE = 2.0


@pytest.fixture
def quick(tmp_path, monkeypatch):
    """A platform whose header and body deadlines are 2 s (the defaults are longer)."""
    monkeypatch.setattr(slowloris, "HEADER_TIMEOUT_S", DEADLINE)
    monkeypatch.setattr(webguard, "BODY_TIMEOUT_S", DEADLINE)
    cfg = PlatformConfig(db=str(tmp_path / "p.db"), port=0, log_level="warning")
    with ThreadedPlatform(cfg) as tp:
        yield tp


def _closed_by_server(s: socket.socket, wait: float) -> bool:
    """True when the server closed (or answered and closed) the connection within ``wait`` seconds."""
    s.settimeout(wait)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_slow_connections_are_cut_and_others_still_served(quick):
    host, port = quick.url.removeprefix("http://").split(":")
    slow = []
    try:
        for i in range(200):
            s = socket.create_connection((host, int(port)))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + str(i).encode())
            slow.append(s)
        for i in range(20):
            s = socket.create_connection((host, int(port)))
            s.sendall(b"POST /api/v1/stoptrade/1/ack HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
            slow.append(s)
        t0 = time.perf_counter()
        r = httpx.get(quick.url + "/api/v1/time", timeout=5)
        assert r.status_code == 200 and time.perf_counter() - t0 < 1.0
        time.sleep(DEADLINE + 0.5)
        open_ = [i for i, s in enumerate(slow) if not _closed_by_server(s, 1.5)]
        assert open_ == [], f"{len(open_)} slow connections still held after the deadline"
        t0 = time.perf_counter()
        assert httpx.get(quick.url + "/healthz", timeout=5).status_code == 200
        assert time.perf_counter() - t0 < 1.0
    finally:
        for s in slow:
            s.close()


def test_endless_headers_are_cut_off(quick):
    host, port = quick.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    sent = 0
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        while sent < 16 * 1024 * 1024:
            s.sendall(line)
            sent += len(line)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        s.close()
    assert sent < 4 * 1024 * 1024, f"the server read {sent} bytes of headers"
    assert httpx.get(quick.url + "/healthz", timeout=5).status_code == 200
