"""A trivial HTTP endpoint on 127.0.0.1 for calibrating the harness's own time (PLAT-PERF-02).

:class:`TrivialEndpoint` starts ``python -m conformance.platform.trivial_endpoint`` (a process of its own, so it
takes nothing from the harness's interpreter) that answers every request with one fixed 200 JSON body of
``body_bytes`` bytes, keep-alive, over TLS when given a certificate folder (the same TLS setting as the platform
under test).  It does no work per request, so a crowd's time against it is the harness's (client, TLS, event
loop, the machine's scheduling), not a platform's.

Bounded: the process prints its URL on stdout within ``START_S`` or is killed; it exits when its stdin closes
(the harness stopped or died); a connection idle ``IDLE_S`` is closed, a request head over ``MAX_HEAD`` bytes
closes the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import subprocess
import sys
import threading
from pathlib import Path

IDLE_S = 10.0
MAX_HEAD = 16 * 1024
START_S = 20.0


def _reply(body_bytes: int) -> bytes:
    body = b'{"pad":"' + b"x" * max(0, body_bytes - 10) + b'"}'
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _serve(body_bytes: int, tls_dir: str | None) -> None:
    reply = _reply(body_bytes)
    ctx = None
    if tls_dir:
        from simulators.tls import self_signed

        cert, key = self_signed(tls_dir)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_S)
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(one, "127.0.0.1", 0, ssl=ctx, limit=MAX_HEAD, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"{'https' if ctx else 'http'}://127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)  # until the harness closes our stdin
    server.close()


class TrivialEndpoint:
    """``with TrivialEndpoint(tls_dir=None) as ep: ep.url`` — ``tls_dir``: serve HTTPS with the self-signed pair
    there (:func:`simulators.tls.self_signed`); ``ep.verify`` is what a client trusts it with."""

    def __init__(self, body_bytes: int = 2048, tls_dir: str | Path | None = None):
        self.body_bytes, self.tls_dir = body_bytes, tls_dir
        self.verify: bool | ssl.SSLContext = True
        if tls_dir is not None:
            from simulators.tls import self_signed

            # made here, so the process only loads it
            self.verify = ssl.create_default_context(cafile=str(self_signed(tls_dir)[0]))
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def start(self) -> TrivialEndpoint:
        cmd = [sys.executable, "-m", "conformance.platform.trivial_endpoint", "--body-bytes", str(self.body_bytes)]
        if self.tls_dir is not None:
            cmd += ["--tls-dir", str(self.tls_dir)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_S)
        if not line or not line[0].startswith(b"http"):
            self.stop()
            raise RuntimeError(f"the trivial endpoint did not start within {START_S:g} s")
        self.url = line[0].decode().strip()
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()
            self._proc.wait(5.0)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait(5.0)
        self._proc = None

    def __enter__(self) -> TrivialEndpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m conformance.platform.trivial_endpoint")
    p.add_argument("--body-bytes", type=int, default=2048)
    p.add_argument("--tls-dir", default=None)
    a = p.parse_args(argv)
    asyncio.run(_serve(a.body_bytes, a.tls_dir))


if __name__ == "__main__":
    main()
