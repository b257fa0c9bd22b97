"""Security against an anonymous client: slow connections do not stop service (PLAT-SEC-09).

50 raw TCP connections (the profile's count: enough to see the platform still serve, far below any machine's
limits) are opened to the platform and left incomplete, the way slow-loris clients do (over TLS, trusting what the
run trusts, when the platform is reached over HTTPS: the handshake completes, then the request stalls):

* 20 send part of a request's headers, then nothing;
* 15 send part of the headers, then one more header line every 2 s (an idle timeout alone never fires);
* 15 send complete upload headers announcing 64 KiB and only 1 KiB of body, then nothing.

While they are held, the health check and an ordinary signed upload must be answered within 5 s.  Then every one
of the 50 connections must be closed by the platform (or answered, e.g. 408) within 60 s of being opened: the
reading deadline of common servers (nginx's client_header_timeout and client_body_timeout default to 60 s).
"""

from __future__ import annotations

import selectors
import socket
import ssl
import time
from urllib.parse import urlsplit

import httpx
import pytest

from simulators.tls import client_verify

PLATFORM = ("city_platform",)
IDLE_HEADERS, TRICKLE_HEADERS, PARTIAL_BODIES = 20, 15, 15
ANSWER_WITHIN_S = 5.0
CLOSED_WITHIN_S = 60.0
TRICKLE_EVERY_S = 2.0
RTYPE = "retail_market_in_info_base"


class SlowClients:
    """The held connections; :meth:`wait_closed` trickles and watches them until the platform closes each."""

    def __init__(self, host: str, port: int, upload_path: str, tls: ssl.SSLContext | None = None):
        self.host, self.port, self.path, self.tls = host, port, upload_path, tls
        self.socks: dict[socket.socket, str] = {}
        self.closed_after: dict[str, float] = {}
        self.opened = 0.0

    def open(self) -> None:
        head = f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/xml\r\n"
        self.opened = time.monotonic()
        plan = (
            [("idle headers", head.encode())] * IDLE_HEADERS
            + [("trickled headers", head.encode())] * TRICKLE_HEADERS
            + [("partial body", (head + "Content-Length: 65536\r\n\r\n").encode() + b"<" * 1024)] * PARTIAL_BODIES
        )
        for i, (kind, data) in enumerate(plan):
            try:
                s = socket.create_connection((self.host, self.port), timeout=5)
                if self.tls is not None:
                    s = self.tls.wrap_socket(s, server_hostname=self.host)
                s.sendall(data)
            except ssl.SSLCertVerificationError:  # the run does not trust the platform: a set-up problem, raised
                raise
            except OSError:  # refused or reset at once (a per-client connection limit): closed, not held
                self.closed_after[f"{kind} #{i}"] = 0.0
                continue
            s.setblocking(False)
            self.socks[s] = f"{kind} #{i}"

    def wait_closed(self, limit_s: float) -> None:
        """Until every connection is closed by the peer or ``limit_s`` after opening (bounded loop)."""
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        next_trickle = time.monotonic() + TRICKLE_EVERY_S
        n = 0
        while set(self.socks.values()) - set(self.closed_after) and time.monotonic() - self.opened < limit_s:
            for key, _ev in sel.select(timeout=0.5):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue  # (TLS: a record not complete yet, or a post-handshake message: no data)
                except OSError:
                    data = b""
                if not data:  # closed (an answer such as 408 may come first: read on until EOF)
                    self.closed_after[self.socks[s]] = round(time.monotonic() - self.opened, 1)
                    sel.unregister(s)
            if time.monotonic() >= next_trickle:
                n += 1
                for s, name in self.socks.items():
                    if name.startswith("trickled") and name not in self.closed_after:
                        try:
                            s.send(f"X-Slow-{n}: {n}\r\n".encode())
                        except OSError:
                            pass
                next_trickle += TRICKLE_EVERY_S
        sel.close()

    def close(self) -> None:
        for s in self.socks:
            s.close()


def _tls(scheme: str) -> ssl.SSLContext | None:
    """The client context for an ``https`` platform, trusting what the run's HTTP clients trust (``--ca``, or no
    check under ``--insecure``); ``None`` for plain HTTP."""
    if scheme != "https":
        return None
    verify = client_verify()
    if isinstance(verify, ssl.SSLContext):
        return verify
    ctx = ssl.create_default_context()
    if verify is False:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def _answered(what: str, fn) -> tuple[str | None, float]:
    t0 = time.monotonic()
    try:
        problem = fn()
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}"
    secs = time.monotonic() - t0
    if problem is None and secs > ANSWER_WITHIN_S:
        problem = f"answered after {secs:.1f} s"
    return (f"{what}: {problem}" if problem else None), secs


@pytest.mark.requirement("PLAT-SEC-09")
@pytest.mark.applies(kinds=PLATFORM)
@pytest.mark.conformance_timeout(CLOSED_WITHIN_S + 30)
def test_slow_connections_do_not_stop_service(records, uploader, http, platform, capabilities, evidence):
    """50 slow connections (idle partial headers, trickled partial headers, partial bodies) are held; meanwhile
    the health check and an ordinary upload are answered within 5 s; every slow connection is closed by the
    platform within 60 s."""
    u = urlsplit(platform.url)
    slow = SlowClients(u.hostname, u.port or (443 if u.scheme == "https" else 80), platform.upload_path, _tls(u.scheme))
    health = str(capabilities.capabilities.get("health_path", "/healthz"))
    problems, timings = [], {}
    try:
        slow.open()
        time.sleep(1.0)
        d = records.fresh_day()

        def health_ok():
            r = http.get(platform.url + health)
            return None if r.status_code == 200 else f"HTTP {r.status_code}"

        def upload_ok():
            a = uploader.upload(
                records.node_for(RTYPE), RTYPE, [records.make(RTYPE, d)], header={"DataDate": d.strftime("%Y%m%d")}
            )
            return None if a.verdicts == ["accepted"] else str(a)[:200]

        for what, fn in (("health check", health_ok), ("ordinary upload", upload_ok)):
            problem, timings[what] = _answered(what, fn)
            if problem:
                problems.append(problem + " while 50 slow connections were held")
        slow.wait_closed(CLOSED_WITHIN_S)
    finally:
        slow.close()
    still = sorted(set(slow.socks.values()) - set(slow.closed_after), key=lambda n: int(n.rsplit("#", 1)[1]))
    evidence.attach_json(
        "slow-connections.json",
        {
            "answer_seconds": timings,
            "closed_after_s": slow.closed_after,
            "still_open_after_s": CLOSED_WITHIN_S,
            "still_open": still,
        },
    )
    if still:
        kinds = sorted({n.rsplit(" #", 1)[0] for n in still})
        problems.append(
            f"{len(still)} of {IDLE_HEADERS + TRICKLE_HEADERS + PARTIAL_BODIES} slow connections still open after {CLOSED_WITHIN_S:g} s "
            f"({', '.join(kinds)})"
        )
    assert not problems, "slow connections must not hold the platform: " + "; ".join(problems)
