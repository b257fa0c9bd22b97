"""HTTP hardening shared by the reference platform and node (issue 13): one pure ASGI middleware.

:class:`Guard` wraps an app and, for every HTTP request:

* **body limit, chunked included**: a declared ``Content-Length`` over ``max_body`` (or not a number) is
  answered 413 before anything is read; a streamed (chunked) body is counted as it arrives and answered
  413 as soon as it passes the limit; the rest is never read;
* **body read deadline**: the whole body must arrive within ``body_timeout_s`` of the request's start,
  else 408 (a slow-loris body cannot hold a connection; the header deadline is in :mod:`.slowloris`);
* ``exempt`` paths (the envelope uploads) keep their own size answer (a ``DataExchangeResp`` with reason
  1003) and get only the deadline;
* **security headers**: ``X-Content-Type-Options: nosniff`` on every answer; on HTML answers also a
  Content-Security-Policy (``HTML_CSP``; the API docs page gets ``DOCS_CSP``, which allows this server's own
  scripts and nothing else), ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``;
* **access log**: one ``http`` event per request (``log_event``, the platform's :func:`.logs.event` by default) with method, path (first 200 characters), status and
  time, also when the app raised (logged as 500) - the exception is then re-raised for the server.

When the guard answers itself (413/408) the app sees ``http.disconnect`` on its next ``receive`` and
whatever it sends afterwards is dropped.  All values are this project's choices (evidence ``profile``;
the headers follow the OWASP Secure Headers Project's recommendations, evidence ``practice``).
"""

from __future__ import annotations

import json
import time

import anyio

from . import logs

HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PREFIX = "/docs"
BODY_TIMEOUT_S = 30.0


def _json_error(status: int, zh: str, en: str) -> tuple[dict, bytes]:
    body = json.dumps({"error": {"zh": zh, "en": en}}, ensure_ascii=False).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, body


def _with_security_headers(message: dict, path: str) -> dict:
    headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-content-type-options"]
    headers.append((b"x-content-type-options", b"nosniff"))
    ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if ctype.startswith(b"text/html"):
        csp = DOCS_CSP if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/") else HTML_CSP
        drop = {b"content-security-policy", b"x-frame-options", b"referrer-policy"}
        headers = [(k, v) for k, v in headers if k.lower() not in drop]
        headers += [
            (b"content-security-policy", csp.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
    return {**message, "headers": headers}


class Guard:
    """Pure ASGI middleware: body limit (declared and streamed), body deadline, security headers, access log."""

    def __init__(
        self, app, max_body: int, exempt: tuple[str, ...] = (), body_timeout_s: float | None = None, log_event=None
    ):
        self.app = app
        self.log_event = log_event  # None: the platform's logs.event, looked up at each request
        self.max_body = int(max_body)
        self.exempt = frozenset(exempt)
        self.body_timeout_s = BODY_TIMEOUT_S if body_timeout_s is None else float(body_timeout_s)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope.get("path", "")
        limited = path not in self.exempt
        state = {"status": 0, "started": False, "answered": False, "size": 0, "body_done": False}

        async def guarded_send(message):
            if state["answered"]:
                return  # the guard answered already; the app's late answer goes nowhere
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                message = _with_security_headers(message, path)
            await send(message)

        async def answer(status: int, zh: str, en: str):
            if not state["started"]:
                head, body = _json_error(status, zh, en)
                await guarded_send(head)
                await send({"type": "http.response.body", "body": body})
            state["answered"] = True

        too_big = (f"请求体超过上限 {self.max_body} 字节", f"request body over the limit of {self.max_body} bytes")
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if limited and length is not None and (not length.isdigit() or int(length) > self.max_body):
            await answer(413, *too_big)
            self._log(scope, path, state, start)
            return
        deadline = anyio.current_time() + self.body_timeout_s

        async def guarded_receive():
            if state["answered"]:
                return {"type": "http.disconnect"}
            remaining = deadline - anyio.current_time()
            with anyio.move_on_after(max(remaining, 0)) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                await answer(408, "请求体未在时限内收齐", f"request body not received within {self.body_timeout_s:g} s")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state["size"] += len(message.get("body", b""))
                if limited and state["size"] > self.max_body:
                    await answer(413, *too_big)
                    return {"type": "http.disconnect"}
                state["body_done"] = not message.get("more_body", False)
            return message

        async def receive_after_body():
            # once the body is complete, later receives (waiting for a disconnect) have no deadline
            if state["body_done"] and not state["answered"]:
                return await receive()
            return await guarded_receive()

        try:
            await self.app(scope, receive_after_body, guarded_send)
        except Exception:
            if not state["started"]:
                state["status"] = 500
            self._log(scope, path, state, start)
            raise
        self._log(scope, path, state, start)

    def _log(self, scope, path: str, state: dict, start: float) -> None:
        (self.log_event or logs.event)(
            "http",
            method=scope.get("method"),
            path=path[:200],
            status=state["status"],
            ms=round((time.perf_counter() - start) * 1000, 2),
        )
