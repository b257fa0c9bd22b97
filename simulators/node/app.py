"""The node's HTTP face (FastAPI): health, handheld uploads, outbox inspection.

Endpoints (bind 127.0.0.1 unless configured otherwise):

* ``GET /healthz`` – ``ok`` when every scale is connected and the last upload
  attempt succeeded, else ``degraded`` (HTTP 200 either way; 503 only when the
  outbox cannot be read), with outbox counts per state, uploader and device status;
* ``POST /api/v1/exchange`` – a handheld's ``DataExchangeReq`` (:mod:`.handheld_api`);
* ``GET /api/v1/outbox?state=rejected&limit=100`` – counts, and rows of one state
  (rejected rows keep the platform's reason for an operator);
* ``GET /api/v1/stoptrade`` – stop-trade instructions received and their state.

Errors are ``{"error": {"zh", "en"}}``; internals are never returned.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from simulators.platform.app import install_http_error_handler
from simulators.platform.webguard import Guard

from . import logs
from .outbox import STATES
from .runtime import NodeRuntime


def _err(status: int, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": {"zh": zh, "en": en}}, status_code=status)


def create_app(runtime: NodeRuntime) -> FastAPI:
    max_body = runtime.profile.envelope.limits.max_bytes

    async def lifespan(app):
        runtime.start()
        yield
        await anyio.to_thread.run_sync(runtime.stop)

    app = FastAPI(
        title="roucai reference node / 肉菜追溯参考节点",
        lifespan=lifespan,
        description="The reference node subsystem of roucai-harness: scales over serial lines, "
        "handheld uploads, a durable outbox, uploads to the city platform.",
    )

    install_http_error_handler(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        logs.event("internal_error", logging.ERROR, path=request.url.path, error=type(exc).__name__)
        return _err(500, "节点内部错误", "internal node error")

    @app.get("/healthz", summary="Liveness, outbox and device status")
    def healthz():
        try:
            return runtime.health()
        except Exception as exc:  # the outbox cannot be read
            logs.event("health_failed", logging.ERROR, error=type(exc).__name__)
            return JSONResponse({"status": "failed", "node": runtime.cfg.node_code}, status_code=503)

    @app.post("/api/v1/exchange", summary="Handheld upload: a DataExchangeReq signed with the node's key")
    async def exchange(request: Request):
        fmt = "json" if "json" in request.headers.get("content-type", "") else "xml"
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            a = runtime.intake.refuse("1003", fmt)
            return Response(a.body, status_code=a.status, media_type=a.media_type)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                a = runtime.intake.refuse("1003", fmt)
                return Response(a.body, status_code=a.status, media_type=a.media_type)
            chunks.append(chunk)
        a = await anyio.to_thread.run_sync(runtime.intake.accept, b"".join(chunks))
        return Response(a.body, status_code=a.status, media_type=a.media_type + "; charset=utf-8")

    @app.get("/api/v1/outbox", summary="Outbox counts per state, and rows of one state")
    def outbox(state: str | None = Query(None, max_length=20), limit: int = Query(100, ge=1, le=1000)):
        if state is not None and state not in STATES:
            return _err(400, f"state 只能是 {'/'.join(STATES)}", f"state must be one of {', '.join(STATES)}")
        body = {"counts": runtime.outbox.counts()}
        if state:
            body["rows"] = runtime.outbox.rows(state, limit)
        return body

    @app.get("/api/v1/stoptrade", summary="Stop-trade instructions received from the platform")
    def stoptrade():
        return {"instructions": runtime.outbox.stop_instructions()}

    # the exchange endpoint answers an oversized envelope itself (DataExchangeResp, reason 1003)
    app.add_middleware(Guard, max_body=max_body, exempt=("/api/v1/exchange",), log_event=logs.event)
    return app
