"""The slow-connection probe of PLAT-SEC-09 over TLS (a platform reached over HTTPS, e.g. under changchun): real
TLS servers on 127.0.0.1 with a self-signed certificate the probe trusts.  A server that holds incomplete requests
keeps every connection open (the probe must not take TLS's own no-data-yet conditions for a close); a server with
a 1 s read deadline is seen closing each of them."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from conformance.platform.test_security_slow import IDLE_HEADERS, PARTIAL_BODIES, TRICKLE_HEADERS, SlowClients
from simulators.tls import self_signed

N = IDLE_HEADERS + TRICKLE_HEADERS + PARTIAL_BODIES


class TlsServer:
    """Accepts TLS connections on 127.0.0.1; reads what comes, and closes each ``deadline_s`` after the handshake
    (``None``: never, until stopped)."""

    def __init__(self, cert, key, deadline_s: float | None):
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.deadline_s = deadline_s
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[ssl.SSLSocket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(5)
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        self.conns.append(conn)
        end = time.monotonic() + (self.deadline_s if self.deadline_s is not None else 3600)
        conn.settimeout(0.2)
        while not self.stop.is_set() and time.monotonic() < end:  # bounded: the deadline, or the stop
            try:
                if not conn.recv(65536):
                    break
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except OSError:
                break
        conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def tls_pair(tmp_path):
    return self_signed(tmp_path / "tls")


@pytest.mark.parametrize("deadline_s", [None, 1.0])
def test_the_probe_holds_tls_connections_until_the_server_closes_them(tls_pair, deadline_s):
    cert, key = tls_pair
    server = TlsServer(cert, key, deadline_s)
    client = ssl.create_default_context(cafile=str(cert))
    slow = SlowClients("127.0.0.1", server.port, "/upload", client)
    try:
        slow.open()
        assert len(slow.socks) == N and not slow.closed_after, slow.closed_after  # every handshake completed
        slow.wait_closed(4.0)
    finally:
        slow.close()
        server.close()
    if deadline_s is None:
        assert not slow.closed_after, f"a held TLS connection was taken for closed: {slow.closed_after}"
    else:
        assert len(slow.closed_after) == N and all(s < 4.0 for s in slow.closed_after.values()), slow.closed_after


def test_an_untrusted_certificate_is_an_error_not_a_closed_connection(tls_pair):
    """A probe that does not trust the certificate raises (the test's verdict is error): a refused handshake must
    never count as the platform closing a slow connection, which would pass the test vacuously."""
    cert, key = tls_pair
    server = TlsServer(cert, key, None)
    slow = SlowClients("127.0.0.1", server.port, "/upload", ssl.create_default_context())
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            slow.open()
    finally:
        slow.close()
        server.close()
    assert not slow.closed_after
