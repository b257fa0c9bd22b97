"""The FastAPI app factory: every HTTP endpoint of the reference platform.

``create_app(config)`` opens (and migrates) the store, loads the platform
secret and the profile, and returns an app; it raises
:class:`~.config.ConfigError` / :class:`~.storage.StoreError` /
:class:`~.secret.SecretError` before anything is bound, so the CLI can exit 2
with a clear message.  ``/openapi.json`` describes every endpoint, XML bodies
included.

Errors never leak internals: every error body is ``{"error": {"zh", "en"}}``
(or a ``DataExchangeResp`` on the upload endpoints); unexpected exceptions are
logged (type only) and answered 500 with a generic message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import anyio
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from profiles import load_profile
from profiles.profile import Profile

from . import feed as feedmod
from . import logs
from .clock import time_answer
from .config import PlatformConfig
from .dashboard import install_dashboard
from .guests import GuestRule
from .ingest import Ingestor
from .monitor import Monitor
from .nodeauth import AuthError, RequestVerifier
from .openapi_doc import ERROR_SCHEMA, document_errors
from .pages import install_docs, render_trace_page
from .problem_routes import install_problem_routes
from .recordmap import RecordMap
from .registry import CITY_PLATFORM, Registry
from .regulator_gate import AUTH_ERRORS, CREDENTIALS_DOC, SIGNATURE_HEADERS, RegulatorGate, whole_platform
from .replaystore import StoredReplayMemory
from .secret import PlatformSecret
from .stats import PeriodError, Stats, period_bounds
from .stoptrade import StopTrade
from .storage import Store, applied_versions, open_store
from .trace import PAGE_DEFAULT, PAGE_MAX, Tracer, page
from .webguard import Guard

API = "/api/v1"
#: the path the Changchun city platform used in practice (standards.md §4.3); same handler
PRACTICE_PATH = "/dts_if/servlet/IfRevSubServlet"
#: a calendar day yyyyMMdd, 1900-2099, leap years included (a schema-valid date is a real day)
_DATE_RE = (
    r"^(?:(?:19|20)[0-9]{2}(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)"
    r"|02(?:0[1-9]|1[0-9]|2[0-8]))|(?:(?:19|20)(?:0[48]|[2468][048]|[13579][26])|2000)0229)$"
)
_QUARTER_RE = r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})Q[1-4]$"


_Route = TypeVar("_Route", bound=Callable[..., Any])
CITY_WIDE = "City-wide figures: 403 for a regulator whose jurisdiction does not cover every registered node."


def _err(status: int, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": {"zh": zh, "en": en}}, status_code=status)


def install_http_error_handler(app: FastAPI) -> None:
    """404/405/other HTTP errors as the bilingual ``{"error": {"zh", "en"}}`` body (platform and node alike)."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_exc(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _err(404, "没有这个地址", "no such endpoint")
        if exc.status_code == 405:
            resp = _err(405, "不支持该方法", "method not allowed")
            resp.headers.update(exc.headers or {})  # Allow: the methods the path supports (RFC 9110 §15.5.6)
            return resp
        return _err(exc.status_code, "请求错误", "request error")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # the client left, or webguard.Guard already answered 408/413: nobody reads this answer
        return _err(400, "请求中断", "request interrupted")


@dataclass
class Services:
    config: PlatformConfig
    profile: Profile
    store: Store
    registry: Registry
    recmap: RecordMap
    ingestor: Ingestor
    tracer: Tracer
    monitor: Monitor
    stats: Stats
    stoptrade: StopTrade
    verifier: RequestVerifier
    pusher: feedmod.FeedPusher | None
    max_body: int
    secret: PlatformSecret | None = None
    #: the time service's answer for an instant in ms (GET /api/v1/time); a public seam, like every field
    time_answer: Callable[[int], dict[str, Any]] = time_answer
    #: the public trace page's renderer ``(answer, code, lang) -> html`` (GET /trace)
    trace_page: Callable[..., str] = render_trace_page


def build_services(config: PlatformConfig, store: Store | None = None) -> Services:
    config.validate()
    profile = load_profile(config.profile)
    secret = PlatformSecret.load(config.resolved_secret_file(), create=True)
    store = store or open_store(config.db)
    recmap = RecordMap(profile)
    rules = recmap.rules
    registry = Registry(store, secret, profile)
    recmap.guests = GuestRule(rules, registry, recmap.role_of)  # NODE-WHOL-01: a wholesale market's guests
    stop = StopTrade(rules, profile.codes)
    ingestor = Ingestor(store, registry, profile, recmap, stop, int(rules["timeliness"]["grace_s"]))
    offline_after = config.offline_after_s or int(rules["monitor"]["offline_after_s"])
    monitor = Monitor(store, offline_after)
    spec = profile.envelope
    verifier = RequestVerifier(spec, registry.current_key, remember=StoredReplayMemory(store).seen_first)
    pusher = None
    if config.upstream:
        assert config.platform_id and config.upstream_key  # validate() requires both with an upstream
        pusher = feedmod.FeedPusher(
            store, spec, config.upstream, config.platform_id, config.upstream_key, config.feed_interval_s
        )
    max_body = min(config.max_body, spec.limits.max_bytes)
    return Services(
        config,
        profile,
        store,
        registry,
        recmap,
        ingestor,
        Tracer(store, profile),
        monitor,
        Stats(store, recmap, profile),
        stop,
        verifier,
        pusher,
        max_body,
        secret,
    )


_XML_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?><DataExchangeReq><NodeId>650102001</NodeId>'
    "<RequestTime>20250601083000123</RequestTime><VerifyCode>0123456789abcdef0123456789abcdef</VerifyCode>"
    "<Index>A03003</Index><Count>1</Count><DataDate>20250601</DataDate><Address>"
    "<retail_market_tran_info_summ>…</retail_market_tran_info_summ></Address></DataExchangeReq>"
)
_RESP_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?><DataExchangeResp><NodeId>650102001</NodeId>'
    "<RequestTime>20250601083000123</RequestTime><ResponseTime>20250601083000456</ResponseTime>"
    "<Index>A03003</Index><ResultCode>0000</ResultCode><ResultMsg>成功 / accepted</ResultMsg><Count>1</Count>"
    "<Accepted>1</Accepted><Duplicate>0</Duplicate><Rejected>0</Rejected><Results><Result><Seq>1</Seq>"
    "<Verdict>accepted</Verdict><Reason>0000</Reason><Findings><Finding><Rule>CODE-BATCH-02</Rule>"
    "<Field>batch_id</Field><Severity>warning</Severity><Zh>…</Zh><En>…</En></Finding></Findings>"
    "</Result></Results></DataExchangeResp>"
)
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": (
            "A DataExchangeReq envelope of the profile (profiles/reference/envelope.toml): XML, or its JSON form "
            "{\"DataExchangeReq\": {…}}. The format is detected from the body (first non-blank byte '<' = XML). "
            "Bodies over the size limit are refused before they are read (413)."
        ),
        "content": {
            "application/xml": {"schema": {"type": "string", "format": "xml"}, "example": _XML_EXAMPLE},
            "application/json": {"schema": {"type": "object", "required": ["DataExchangeReq"]}},
        },
    },
    "responses": {
        "200": {
            "description": "Processed: a DataExchangeResp with ResultCode 0000 and one Result per record "
            "(accepted / duplicate / rejected + reason). Sent only after the transaction committed.",
            "content": {
                "application/xml": {"schema": {"type": "string", "format": "xml"}, "example": _RESP_EXAMPLE},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        "400": {"description": "Refused whole (envelope-level reason 1001/1002/1101-1108); nothing stored."},
        "401": {"description": "Refused: VerifyCode wrong (1105) or node unknown / without key (1111)."},
        "409": {"description": "Refused: replayed envelope (1110)."},
        "413": {"description": "Refused: body over the size limit (1003)."},
        "503": {"description": "Not stored (1199): storage failure; build a new envelope and retry."},
    },
}
_SIGNED = (
    "Signed request: headers X-Node-Id, X-Request-Time (yyyyMMddHHmmssSSS), X-Verify-Code "
    "(see simulators/platform/nodeauth.py). 401 without a valid signature, 409 for a replay."
)


def create_app(config: PlatformConfig, services: Services | None = None) -> FastAPI:
    svc = services or build_services(config)
    p = svc.profile

    @asynccontextmanager  # what Starlette wraps an async generator lifespan in itself
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.event(
            "starting",
            role=config.role,
            db=svc.store.display_url if svc.store.dialect == "sqlite" else "postgresql",
            profile=p.lineage[0],
        )
        if svc.pusher:
            svc.pusher.start()
        yield
        if svc.pusher:
            svc.pusher.stop()
        svc.store.close()
        logs.event("store_closed")

    app = FastAPI(
        title="roucai reference traceability platform / 肉菜追溯参考平台",
        version=p.lineage[0],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description=(
            "The reference city (or central) platform of roucai-harness. Uploads follow the "
            "profile's DataExchangeReq envelope; everything else is this platform's own API. "
            "Read-only monitoring endpoints are unauthenticated: bind to 127.0.0.1 "
            "(the default) or put a proxy in front."
        ),
    )
    app.state.services = svc

    install_http_error_handler(app)
    install_docs(app)
    document_errors(
        app,
        {
            ("GET", f"{API}/nodes/{{node_id}}"): {"404": "Node not registered"},
            ("POST", f"{API}/stoptrade/{{instruction_id}}/ack"): {"404": "No such instruction for this node"},
            ("GET", f"{API}/kpis/scales"): {"400": "Not exactly one of date / quarter, or a bad one"},
            ("POST", f"{API}/feed"): {"403": "The caller is not a registered city platform"},
        },
    )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(str(x) for x in e.get("loc", ())) for e in exc.errors()[:5])
        return _err(400, f"参数错误：{where}", f"invalid parameters: {where}")

    @app.exception_handler(AuthError)
    async def _refused(request: Request, exc: AuthError) -> JSONResponse:
        return _err(exc.status, exc.zh, exc.en)  # a signed read's credentials (regulator_gate.RegulatorGate.reader)

    @app.exception_handler(PeriodError)
    async def _period(request: Request, exc: PeriodError) -> JSONResponse:
        return _err(400, "统计期须为有效的 yyyyMMdd 日期或 YYYYQn 季度", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logs.event("internal_error", logging.ERROR, path=request.url.path, error=type(exc).__name__)
        return _err(500, "平台内部错误", "internal platform error")

    # -- health -----------------------------------------------------------------
    @app.get("/healthz", tags=["operations"], summary="Liveness and storage health")
    def healthz() -> JSONResponse:
        ok = svc.store.ping()
        body: dict[str, Any] = {
            "status": "ok" if ok else "degraded",
            "role": config.role,
            "db": svc.store.dialect,
            "profile": p.lineage[0],
        }
        if ok:
            body["schema_version"] = max(applied_versions(svc.store), default=0)
            body["writes"] = svc.store.write_figures()  # group-commit counters: the load test's storage figure
        return JSONResponse(body, status_code=200 if ok else 503)

    # -- time service (PLAT-TIME-01) ------------------------------------------------
    @app.get(
        f"{API}/time",
        tags=["operations"],
        summary="Beijing time with milliseconds, for nodes and scales to set their clocks",
        description=(
            "beijing_time: yyyyMMddHHmmssSSS (China Standard Time, the RequestTime format); "
            "iso: ISO 8601 with milliseconds and +08:00; epoch_ms: the same instant. "
            "In practice scales ask at boot (GetServerTime, getSysTime: devices.md §1.2)."
        ),
    )
    def server_time() -> JSONResponse:
        from .clock import now_ms

        return JSONResponse(svc.time_answer(now_ms()), headers={"Cache-Control": "no-store"})

    # -- upload -----------------------------------------------------------------
    async def _upload(request: Request) -> Response:
        ing = svc.ingestor
        length = request.headers.get("content-length")
        fmt = "json" if "json" in request.headers.get("content-type", "") else "xml"
        if length is not None and (not length.isdigit() or int(length) > svc.max_body):
            out = ing.refuse("1003", fmt)
            return Response(out.body, status_code=413, media_type=out.media_type)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > svc.max_body:
                out = ing.refuse("1003", fmt)
                return Response(out.body, status_code=413, media_type=out.media_type)
            chunks.append(chunk)
        out = await anyio.to_thread.run_sync(ing.ingest, b"".join(chunks))
        return Response(out.body, status_code=out.status, media_type=out.media_type + "; charset=utf-8")

    app.post(
        f"{API}/exchange",
        tags=["upload"],
        summary="Upload a DataExchangeReq envelope (XML or JSON)",
        openapi_extra=_UPLOAD_DOC,
        response_class=Response,
    )(_upload)
    app.post(
        PRACTICE_PATH,
        tags=["upload"],
        summary="Same as /api/v1/exchange, at the path seen in practice",
        openapi_extra=_UPLOAD_DOC,
        response_class=Response,
    )(_upload)

    # -- trace ------------------------------------------------------------------
    @app.get(
        f"{API}/trace/{{code}}",
        tags=["trace"],
        summary="The chain behind a 20-digit trace code (JSON)",
        description=(
            f"Paged: every hop, but at most `limit` records (default {PAGE_DEFAULT}, at most "
            f"{PAGE_MAX}) counted across the chain; `next_cursor` (null on the last page) is the "
            "`cursor` of the next page; `records_total` counts them all."
        ),
        responses={
            200: {"description": "status=found: chain from the sale back to the origin"},
            400: {"description": "status=invalid: the code is malformed (findings from the profile)"},
            404: {"description": "status=unknown: a valid code no node issued"},
        },
    )
    def trace_json(
        code: str,
        limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="records in this answer (across the chain)"),
        cursor: str = Query("0", pattern="^[0-9]{1,9}$", description="next_cursor of the previous page"),
    ) -> JSONResponse:
        ans = svc.tracer.trace(code[:64])
        status = {"found": 200, "invalid": 400, "unknown": 404}[ans["status"]]
        return JSONResponse(page(ans, int(cursor), limit), status_code=status)

    @app.get(
        "/trace",
        tags=["trace"],
        summary="Consumer trace page (HTML, zh; lang=en for English)",
        response_class=HTMLResponse,
        responses={
            400: {
                "description": "The page saying the code is malformed; or invalid parameters (JSON)",
                "content": {"text/html": {}, "application/json": {"schema": ERROR_SCHEMA}},
            },
            404: {"description": "The page saying no node issued the code", "content": {"text/html": {}}},
        },
    )
    def trace_page(code: str = Query("", max_length=64), lang: str = Query("zh", pattern="^(zh|en)$")) -> HTMLResponse:
        code = code.strip()
        if not code:
            return HTMLResponse(svc.trace_page(None, "", lang))
        ans = svc.tracer.trace(code)
        status = {"found": 200, "invalid": 400, "unknown": 404}[ans["status"]]
        return HTMLResponse(svc.trace_page(ans, code, lang), status_code=status)

    # -- monitoring and statistics ------------------------------------------------
    # every read below answers a registered regulator only, within its jurisdiction (regulator_gate.py,
    # docs/regulator.md "Monitoring and statistics reads"); the consumer trace query above stays public
    gate = RegulatorGate(svc)
    reader = Depends(gate.reader)

    def signed_read(path: str, tag: str, summary: str, about: str = "") -> Callable[[_Route], _Route]:
        """``@app.get`` of a regulator's read: its credentials and refusals documented after ``about``."""
        return app.get(
            path,
            tags=[tag],
            summary=summary,
            description=(about + " " if about else "") + CREDENTIALS_DOC,
            response_model=None,
            responses=AUTH_ERRORS,
            openapi_extra={"parameters": SIGNATURE_HEADERS},
        )

    def city_wide(prefix: str) -> None:
        whole_platform(prefix, (n.node_id for n in svc.registry.nodes()))

    @signed_read(f"{API}/nodes", "monitoring", "Registered nodes with online status (the regulator's jurisdiction)")
    def nodes(prefix: str = reader) -> dict[str, Any]:
        listed = [n for n in svc.monitor.nodes() if str(n["node_id"]).startswith(prefix)]
        counts = {"online": 0, "offline": 0, "never": 0, "disabled": 0}
        for n in listed:
            counts[n["state"]] += 1
        return {"summary": {"offline_after_s": svc.monitor.offline_after_ms // 1000, **counts}, "nodes": listed}

    @signed_read(
        f"{API}/nodes/{{node_id}}",
        "monitoring",
        "One node's status",
        "A node outside the jurisdiction is 404, as unknown.",
    )
    def node(node_id: str, prefix: str = reader) -> dict[str, Any] | JSONResponse:
        found = svc.monitor.nodes(node_id[:20]) if node_id.startswith(prefix) else []
        if not found:
            return _err(404, "节点未登记", "node not registered")
        return found[0]

    @signed_read(
        f"{API}/stats/daily",
        "statistics",
        "Records, kg and on-time records per node, record type and commodity for one business day",
        "The rows of the regulator's jurisdiction.",
    )
    def stats_daily(
        date: str = Query(..., pattern=_DATE_RE),
        node_id: str | None = Query(None, max_length=20),
        goods_code: str | None = Query(None, max_length=20),
        prefix: str = reader,
    ) -> dict[str, Any]:
        period_bounds(date=date)
        rows = svc.stats.daily(date, node_id, goods_code)
        return {"date": date, "rows": [r for r in rows if str(r["node_id"]).startswith(prefix)]}

    @signed_read(f"{API}/stats/totals", "statistics", "Totals per node, node type and commodity", CITY_WIDE)
    def stats_totals(date: str = Query(..., pattern=_DATE_RE), prefix: str = reader) -> dict[str, Any]:
        city_wide(prefix)
        period_bounds(date=date)
        return svc.stats.totals(date)

    @signed_read(
        f"{API}/kpis",
        "statistics",
        "KPIs of a day: 追溯数据上报率, 上传及时率, 完整率, 追溯链完整率 (definitions in stats.py)",
        CITY_WIDE,
    )
    def kpis(date: str = Query(..., pattern=_DATE_RE), prefix: str = reader) -> dict[str, Any]:
        city_wide(prefix)
        period_bounds(date=date)
        return svc.stats.kpis(date)

    @signed_read(
        f"{API}/kpis/scales",
        "statistics",
        "追溯秤使用率 (scale usage rate) of a business day or a quarter, per node, node type and role",
        "Exactly one of date=yyyyMMdd or quarter=YYYYQn (e.g. 2025Q1). Definition in stats.py. " + CITY_WIDE,
    )
    def kpi_scales(
        date: str | None = Query(None, max_length=8),
        quarter: str | None = Query(None, max_length=6),
        prefix: str = reader,
    ) -> dict[str, Any] | JSONResponse:
        city_wide(prefix)
        try:
            first, last = period_bounds(date, quarter)
        except PeriodError as exc:
            return _err(400, "统计期须为 date=yyyyMMdd 或 quarter=YYYYQn 之一", str(exc))
        return svc.stats.scale_usage(first, last)

    @signed_read(
        f"{API}/kpis/quarter",
        "statistics",
        "企业覆盖率 and 追溯环节使用率 of a quarter per node type, with their composites (means)",
        "quarter=YYYYQn. Coverage needs the enterprise counts entered with `roucai serve admin set-enterprises`. "
        "Definitions in stats.py. " + CITY_WIDE,
    )
    def kpi_quarter(
        quarter: str = Query(..., pattern=_QUARTER_RE), prefix: str = reader
    ) -> dict[str, Any] | JSONResponse:
        city_wide(prefix)
        try:
            return svc.stats.quarter_kpis(quarter)
        except PeriodError as exc:
            return _err(400, "季度须为 YYYYQn", str(exc))

    # -- regulator: statistics and district assessment (regulator_api.py) ----------
    from .regulator_api import install as install_regulator

    reg, assess = install_regulator(app, svc)

    # -- stop-trade ---------------------------------------------------------------
    async def _verified(request: Request) -> tuple[str, bytes]:
        body = await request.body()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        node_id = svc.verifier.verify(request.headers, request.method, path, body)
        await anyio.to_thread.run_sync(svc.monitor.touch, node_id)
        return node_id, body

    @app.get(
        f"{API}/stoptrade",
        tags=["stop-trade"],
        summary="Pending stop-trade instructions for the calling node",
        description=_SIGNED,
        response_model=None,
    )
    async def stop_pending(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            node_id, _ = await _verified(request)
        except AuthError as exc:
            return _err(exc.status, exc.zh, exc.en)

        def work() -> list[dict[str, Any]]:
            with svc.store.read() as tx:
                return StopTrade.pending(tx, node_id)

        return {"node_id": node_id, "instructions": await anyio.to_thread.run_sync(work)}

    @app.post(
        f"{API}/stoptrade/{{instruction_id}}/ack",
        tags=["stop-trade"],
        summary="Acknowledge a stop-trade instruction",
        description=_SIGNED,
        response_model=None,
    )
    async def stop_ack(
        request: Request, instruction_id: int = Path(..., ge=1, le=2**63 - 1)
    ) -> dict[str, Any] | JSONResponse:
        try:
            node_id, _ = await _verified(request)
        except AuthError as exc:
            return _err(exc.status, exc.zh, exc.en)
        from .clock import now_ms

        def work() -> str:
            with svc.store.write() as tx:
                return svc.stoptrade.ack(tx, node_id, instruction_id, now_ms())

        result = await anyio.to_thread.run_sync(work)
        if result == "unknown":
            return _err(404, "没有发给本节点的该指令", "no such instruction for this node")
        return {"id": instruction_id, "result": result}

    @signed_read(
        f"{API}/stoptrade/broadcasts",
        "stop-trade",
        "All stop-trade instructions and their acknowledgements (monitoring)",
        "Each instruction is flagged overdue when it was not acknowledged within ack_deadline_s "
        "(--stop-ack-deadline, default 600 s); overdue = how many are overdue and still unacknowledged "
        "(the alert). Only the instructions to nodes of the regulator's jurisdiction.",
    )
    def stop_list(root: str | None = Query(None, max_length=30), prefix: str = reader) -> dict[str, Any]:
        from .clock import now_ms

        with svc.store.read() as tx:
            items = [i for i in StopTrade.listing(tx, root) if str(i["node_id"]).startswith(prefix)]
        deadline_ms = int(config.stop_ack_deadline_s * 1000)
        overdue = svc.stoptrade.flag_overdue(items, now_ms(), deadline_ms)
        return {
            "instructions": items,
            "pending": sum(1 for i in items if i["acked_ms"] is None),
            "ack_deadline_s": config.stop_ack_deadline_s,
            "overdue": overdue,
        }

    install_problem_routes(app, svc, API, _err, _DATE_RE)  # problem discovery (issue 14): problem_routes.py
    install_dashboard(app, svc, reg, assess)  # the regulator's dashboard (issue 14): dashboard.py

    # -- upward feed --------------------------------------------------------------
    if config.role == "central":

        @app.post(
            f"{API}/feed",
            tags=["feed"],
            summary="A city platform's daily aggregates (central role)",
            description=_SIGNED + " The caller must be registered as node_type city_platform.",
            response_model=None,
        )
        async def feed_in(request: Request) -> dict[str, Any] | JSONResponse:
            try:
                city, body = await _verified(request)
            except AuthError as exc:
                return _err(exc.status, exc.zh, exc.en)
            n = svc.registry.node(city)
            if n is None or n.node_type != CITY_PLATFORM:
                return _err(403, "调用方不是已登记的城市平台", "the caller is not a registered city platform")
            try:
                payload = json.loads(body)
                stored = await anyio.to_thread.run_sync(feedmod.receive, svc.store, p, city, payload)
            except (ValueError, RecursionError):
                return _err(400, "报文不是有效的 JSON", "body is not valid JSON")
            except feedmod.FeedError as exc:
                return _err(400, exc.zh, exc.en)
            return {"stored": stored}

        @signed_read(
            f"{API}/feed/summary",
            "feed",
            "What the cities sent (central role)",
            "Only the cities of the regulator's jurisdiction (a province's regulator: its cities).",
        )
        def feed_summary(date: str | None = Query(None, pattern=_DATE_RE), prefix: str = reader) -> dict[str, Any]:
            answer = feedmod.summary(svc.store, date)
            return {**answer, "cities": {c: v for c, v in answer["cities"].items() if c.startswith(prefix)}}
    else:

        @app.get(
            f"{API}/feed/status",
            tags=["feed"],
            summary="The upward feed's cursor and last error (city role)",
            response_model=None,
        )
        def feed_status() -> dict[str, Any]:
            with svc.store.read() as tx:
                row = tx.one(
                    "SELECT cursor_ms, pushed_ms, last_error FROM feed_cursor WHERE name = ?", (feedmod.CURSOR,)
                )
            return {
                "upstream": feedmod.without_credentials(config.upstream),
                "cursor_ms": row[0] if row else None,
                "pushed_ms": row[1] if row else None,
                "last_error": feedmod.without_credentials(row[2] if row else None),
                "pushed_rows": svc.pusher.pushed if svc.pusher else 0,
            }

    return _wrap(app, svc.max_body)


def _wrap(app: FastAPI, max_body: int) -> FastAPI:
    # the upload paths answer an oversized envelope themselves (DataExchangeResp, reason 1003)
    app.add_middleware(Guard, max_body=max_body, exempt=(f"{API}/exchange", PRACTICE_PATH))
    return app
