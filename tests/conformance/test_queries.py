"""The suites' query helpers survive a platform that drops a connection, and report one that keeps dropping it."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from conformance.queries import DROPPED, trace, trace_page

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n"
    b'Connection: close\r\n\r\n{"status": "found"}'
)


class FlakyServer:
    """A raw TCP server on 127.0.0.1 that resets the first ``drops`` connections (RST) and answers the rest."""

    def __init__(self, drops: int):
        self.drops = drops
        self.accepted = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                except OSError:
                    continue
                if self.accepted <= self.drops:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    conn.sendall(ANSWER)

    def close(self):
        self.sock.close()


@pytest.fixture
def http():
    with httpx.Client(timeout=5, trust_env=False) as c:
        yield c


@pytest.mark.parametrize("query", [trace, trace_page])
@pytest.mark.parametrize("drops,expected", [(1, 200), (10, DROPPED)], ids=["dropped-once", "keeps-dropping"])
def test_a_dropped_connection_is_retried_once_then_reported(http, query, drops, expected):
    """Dropped once: retried on a fresh connection and answered.  Dropped again: status ``DROPPED`` and a text
    naming the transport error, not an exception (the calling test records a finding)."""
    srv = FlakyServer(drops=drops)
    try:
        status, body = query(http, srv.url, "1" * 20)
    finally:
        srv.close()
    assert status == expected and srv.accepted == 2
    assert ("found" if expected == 200 else "connection dropped") in str(body)
