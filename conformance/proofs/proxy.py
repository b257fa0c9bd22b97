"""An HTTP reverse proxy on 127.0.0.1 that forwards to a target platform and applies at most one seeded defect.

What a test lab puts between a clean platform (or a clean node's uplink) and the harness to make a defect of
its own, arriving over the wire: ``roucai serve proxy --listen 127.0.0.1:PORT --to http://127.0.0.1:8553
[--defect NAME] [--seed N] [--keys FILE]``.  Without ``--defect`` it is transparent: every request is
forwarded as received (method, path, query, body, end-to-end headers) and every answer returned as received.

The defect (:mod:`conformance.proofs.http_defects`, catalogue ``http_defects.toml``) sees each exchange twice:
:meth:`~conformance.proofs.http_defects.Transform.request` may change the request or answer it itself (a stale
cache, an acknowledgement of an envelope it never forwards); :meth:`~.Transform.response` may change the answer,
or return a new request the proxy sends instead (once; e.g. a refused envelope re-signed), whose answer goes back.
Transforms that re-sign what they change need the nodes' keys (``--keys``: the JSON ``import-city --keys-out``
writes, or TOML ``[keys]``).

Bounded: request and answer bodies over :data:`MAX_BODY` are refused (413 / 502), every upstream exchange
has a timeout (:data:`TIMEOUT`); an unreachable target is answered 502 with a bilingual JSON error.
Bodies are read whole (every transform needs the whole document), so memory per exchange is bounded by
``MAX_BODY``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from profiles.errors import RoucaiError
from simulators.keysfile import KeysFileError, read_keys
from simulators.platform.webguard import BODY_TIMEOUT_S  # the platform's own body deadline

#: twice the largest body a platform test sends (16 MiB + a little, TRAN-ENC-03): the target, not the proxy, must
#: be the one that refuses it, or a clean proxy would not be transparent
MAX_BODY = 32 * 1024 * 1024
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: hop-by-hop headers (RFC 9110 §7.6.1) and those the proxy recomputes
_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"host",
    b"content-length",
}


class ProxyError(RoucaiError):
    """A usage error of the proxy (bad listen address, unknown defect, unreadable keys): exit 2."""

    def __str__(self) -> str:  # both languages: it ends up in verdicts and logs read by either reader
        return f"{self.zh} / {self.en}"


@dataclass
class Exchange:
    """A request as the proxy received it (and may change it before forwarding)."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()] + [(name, value)]


@dataclass
class Reply:
    """An answer (from the target, or made by the defect)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def json(self):
        return json.loads(self.body)

    def with_json(self, doc) -> Reply:
        self.body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        return self


def _error(status: int, zh: str, en: str) -> Reply:
    return Reply(
        status,
        [("content-type", "application/json")],
        json.dumps({"error": {"zh": zh, "en": en}}, ensure_ascii=False).encode("utf-8"),
    )


def load_keys(path: str | Path | None) -> dict[str, str]:
    """``{node: key}`` (:func:`simulators.keysfile.read_keys`: JSON or TOML ``[keys]``); ``{}`` without a path."""
    if not path:
        return {}
    try:
        return read_keys(path)
    except KeysFileError as exc:
        raise ProxyError(exc.zh, exc.en) from None


class Proxy:
    """The ASGI app: forward to ``target`` through ``transform`` (``None``: transparent)."""

    def __init__(self, target: str, transform=None):
        self.target = target.rstrip("/")
        self.transform = transform
        self.client = httpx.AsyncClient(timeout=TIMEOUT, trust_env=False, follow_redirects=False)
        self.lock = None  # created in the loop: transforms with state run one exchange at a time
        self.read_deadlines = getattr(transform, "read_deadlines", True)

    async def forward(self, ex: Exchange) -> Reply:
        """Send ``ex`` to the target once; its answer (bounded), or a 502 naming the transport error."""
        try:
            req = self.client.build_request(
                ex.method, self.target + ex.target, content=ex.body, headers=[(k, v) for k, v in ex.headers]
            )
            r = await self.client.send(req, stream=True)
            try:
                chunks, size = [], 0
                async for chunk in r.aiter_raw():
                    size += len(chunk)
                    if size > MAX_BODY:
                        return _error(502, "上游应答超过代理上限", "the target's answer is over the proxy's limit")
                    chunks.append(chunk)
            finally:
                await r.aclose()
        except httpx.HTTPError as exc:
            return _error(
                502, f"代理无法连接目标 {self.target}", f"the proxy could not reach {self.target}: {type(exc).__name__}"
            )
        heads = [(k, v) for k, v in r.headers.multi_items() if k.lower().encode() not in _HOP]
        return Reply(r.status_code, heads, b"".join(chunks))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await self.client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            reply = await self._handle(scope, receive)
        except Exception as exc:  # noqa: BLE001 — a transformation's own bug: say so, never a silent pass-through
            print(
                json.dumps({"event": "defect_error", "error": f"{type(exc).__name__}: {exc}"[:300]}),
                file=sys.stderr,
                flush=True,
            )
            reply = _error(500, "代理的缺陷变换出错", f"the proxy's defect transformation failed: {type(exc).__name__}")
        heads = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers if k.lower().encode() not in _HOP]
        heads.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": heads})
        await send({"type": "http.response.body", "body": reply.body})

    async def _handle(self, scope, receive) -> Reply:
        import asyncio

        chunks, size, more = [], 0, True
        end = asyncio.get_running_loop().time() + BODY_TIMEOUT_S
        while more:
            if self.read_deadlines:
                try:
                    msg = await asyncio.wait_for(receive(), max(0.0, end - asyncio.get_running_loop().time()))
                except asyncio.TimeoutError:
                    return _error(408, "请求体未在时限内收齐", f"request body not received within {BODY_TIMEOUT_S:g} s")
            else:
                msg = await receive()
            if msg["type"] == "http.disconnect":
                return _error(400, "客户端断开", "client disconnected")
            size += len(msg.get("body", b""))
            if size > MAX_BODY:
                return _error(
                    413,
                    f"请求体超过代理上限 {MAX_BODY} 字节",
                    f"request body over the proxy's limit of {MAX_BODY} bytes",
                )
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        heads = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.lower() not in _HOP]
        ex = Exchange(
            scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), heads, b"".join(chunks)
        )
        t = self.transform
        if t is None:
            return await self.forward(ex)
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            first = t.request(ex)
        if isinstance(first, Reply):
            return first
        async with self.lock:
            wait = t.delay(first)
        if wait > 0:
            await asyncio.sleep(min(wait, 60.0))
        reply = await self.forward(first)
        async with self.lock:
            out = t.response(first, reply)
        if isinstance(out, Exchange):  # the defect sends something else instead (once; its answer as is)
            return await self.forward(out)
        return out


def _server(app: "Proxy", host: str, port: int):
    """A uvicorn server for the proxy.  A clean proxy holds no connection forever: the platform's header
    deadline (``slowloris.protocol``) and :meth:`Proxy._handle`'s body deadline, unless the defect is the
    proxy's own missing deadlines (``read_deadlines = False`` on the transform)."""
    import uvicorn
    from simulators.platform import slowloris

    extra = {"http": slowloris.protocol()} if app.read_deadlines else {}
    cfg = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
        date_header=False,  # the target's own
        **extra,
    )
    return uvicorn.Server(cfg)


def build(target: str, defect: str | None = None, seed: int = 1, keys: dict | None = None) -> Proxy:
    """The proxy app for ``target`` with the catalogue's ``defect`` (``None``: clean).  Raises :class:`ProxyError`."""
    transform = None
    if defect:
        from .http_defects import make_transform

        transform = make_transform(defect, seed, keys or {})
    return Proxy(target, transform)


class ProxyThread:
    """The proxy in a daemon thread of this process on 127.0.0.1 (``port`` 0: a free one); ``.url`` once started."""

    def __init__(
        self,
        target: str,
        defect: str | None = None,
        seed: int = 1,
        keys: dict | None = None,
        port: int = 0,
        timeout: float = 10.0,
    ):
        self.app = build(target, defect, seed, keys)
        self.server = _server(self.app, "127.0.0.1", port)
        self.timeout = timeout
        self.url = ""
        self._thread: threading.Thread | None = None

    def start(self) -> ProxyThread:
        self._thread = threading.Thread(target=self.server.run, name="proxy", daemon=True)
        self._thread.start()
        end = time.monotonic() + self.timeout
        while not self.server.started:
            if time.monotonic() > end or not self._thread.is_alive():
                raise ProxyError("代理未能启动", "the proxy did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread:
            self._thread.join(self.timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); only loopback hosts (the proxy never listens beyond this machine)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ProxyError(
            f"--listen 应为 主机:端口，例如 127.0.0.1:8600（收到 {text!r}）",
            f"--listen must be HOST:PORT, e.g. 127.0.0.1:8600 (got {text!r})",
        )
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        raise ProxyError(
            "代理只监听本机回环地址（127.0.0.1）", "the proxy listens on the loopback address only (127.0.0.1)"
        )
    return ("127.0.0.1" if host == "localhost" else host.strip("[]")), int(port)


def serve(listen: str, target: str, defect: str | None = None, seed: int = 1, keys_file: str | None = None) -> None:
    """Run until SIGINT/SIGTERM; one JSON line ``{"event": "listening", "url": …}`` on stderr once bound."""
    if not target.startswith(("http://", "https://")):
        raise ProxyError(f"--to 须为 http:// 地址（收到 {target!r}）", f"--to must be an http:// URL (got {target!r})")
    host, port = parse_listen(listen)
    server = _server(build(target, defect, seed, load_keys(keys_file)), host, port)
    done = threading.Event()

    def announce():
        while not server.started and not done.is_set():
            time.sleep(0.02)
        if server.started:
            h, p = server.servers[0].sockets[0].getsockname()[:2]
            print(
                json.dumps(
                    {"event": "listening", "url": f"http://{h}:{p}", "to": target, "defect": defect, "seed": seed}
                ),
                file=sys.stderr,
                flush=True,
            )

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    finally:
        done.set()
