"""The regulator's read endpoints: statistics (统计分析) and the district assessment (运行评价).

``install(app, svc)`` adds, each for a registered regulator only (:mod:`.regulator_gate`: a signed request or the
dashboard's session; 401 without, 403 for a ``district`` outside its jurisdiction) and answered for its
jurisdiction only (``district``, a county code or prefix, narrows it):

* ``GET /api/v1/regulator/stats?period=P&by=G[&top=N][&format=csv|xlsx][&district=D]``: :class:`.regstats.RegulatorStats`;
* ``GET /api/v1/regulator/districts?period=P[&district=D]``: :class:`.assessment.Assessment`;
* ``GET /regulator/districts?period=P[&lang=en][&district=D]``: the district report page (HTML, print-ready, zh
  default; a browser reaches it with the dashboard's session cookie).

``P``: yyyyMMdd, YYYY-Www, YYYY-MM or YYYYQn (:mod:`.periods`); a bad one is 400 with the bilingual error (checked
after the credentials).
"""

from __future__ import annotations

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from . import periods
from .assessment import Assessment
from .pages.district_report import render_district_report
from .nodeauth import AuthError
from .regstats import GROUPINGS, RegulatorStats, to_csv
from .regxlsx import to_xlsx
from .regulator_gate import AUTH_ERRORS, CREDENTIALS_DOC, SIGNATURE_HEADERS, RegulatorGate, scope
from .stats import PeriodError

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the shapes of a period (a real day, week 53 of a year that has one, … are checked by periods.parse: 400 otherwise)
PERIOD_RE = r"^(?:[0-9]{8}|[0-9]{4}-W(?:0[1-9]|[1-4][0-9]|5[0-3])|[0-9]{4}-(?:0[1-9]|1[0-2])|[0-9]{4}Q[1-4])$"
_PERIOD_ZH = "统计期须为 yyyyMMdd（日）、YYYY-Www（ISO 周）、YYYY-MM（月）或 YYYYQn（季度）"
_DISTRICT = r"^[0-9]{2,6}$"
_DISTRICT_DOC = "a county code or a prefix of one (6501 = Urumqi), inside the regulator's jurisdiction"


def _refused(exc: AuthError) -> JSONResponse:
    return JSONResponse({"error": {"zh": exc.zh, "en": exc.en}}, status_code=exc.status)


def _bad_period(exc: PeriodError) -> JSONResponse:
    return JSONResponse({"error": {"zh": _PERIOD_ZH, "en": str(exc)}}, status_code=400)


def install(app: FastAPI, svc, assessment_cls: type[Assessment] = Assessment) -> tuple[RegulatorStats, Assessment]:
    """Add the endpoints above to ``app``; ``assessment_cls`` is the seam for a platform whose assessment adds
    columns (the problem store).  Returns the two services."""
    reg = RegulatorStats(svc.store, svc.profile)
    assess = assessment_cls(svc.store, svc.recmap, svc.stats, svc.profile)
    gate = RegulatorGate(svc)

    async def allowed(request: Request, district: str | None) -> str:
        """The county-code prefix the caller may see (raises AuthError 401/403/409)."""
        return scope(await gate.regulator(request), district)

    async def checked(request: Request, district: str | None, period: str):
        """``(prefix, period)`` of a regulator's request, else the error answer: 401/403/409, then 400."""
        try:
            prefix = await allowed(request, district)
        except AuthError as exc:
            return _refused(exc)
        try:
            return prefix, periods.parse(period)
        except PeriodError as exc:
            return _bad_period(exc)

    def within(answer: dict, prefix: str) -> dict:
        return {**answer, "districts": [d for d in answer["districts"] if d["code"].startswith(prefix)]}

    @app.get(
        f"{API}/regulator/stats",
        tags=["regulator"],
        summary="统计分析: kg and average price per commodity and group, inflow by province, top operators",
        description=(
            "period = yyyyMMdd | YYYY-Www | YYYY-MM | YYYYQn; by = "
            + " | ".join(GROUPINGS)
            + "; top = at most N groups (by=operator); format=csv for a CSV file, format=xlsx for an Excel workbook (the same cells). "
            "Definitions: "
            "profiles/reference/assessment.toml [statistics], docs/regulator.md. " + CREDENTIALS_DOC
        ),
        responses={
            200: {
                "description": "The table (JSON), or with format=csv the CSV file (UTF-8 with BOM), with format=xlsx "
                "the Excel workbook",
                "content": {
                    "application/json": {},
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX: {"schema": {"type": "string", "format": "binary"}},
                },
            },
            400: {"description": "A bad period or grouping"},
            **AUTH_ERRORS,
        },
        openapi_extra={"parameters": SIGNATURE_HEADERS},
    )
    async def regulator_stats(
        request: Request,
        period: str = Query(..., max_length=10, pattern=PERIOD_RE),
        by: str = Query("district", pattern="^(?:" + "|".join(GROUPINGS) + ")$"),
        top: int | None = Query(None, ge=1, le=1000),
        format: str = Query("json", pattern="^(json|csv|xlsx)$"),
        district: str | None = Query(None, pattern=_DISTRICT, description=_DISTRICT_DOC),
    ):
        got = await checked(request, district, period)
        if isinstance(got, Response):
            return got
        prefix, p = got
        if by not in GROUPINGS:
            return JSONResponse(
                {
                    "error": {
                        "zh": "分组须为 " + "、".join(GROUPINGS) + " 之一",
                        "en": "by must be one of " + ", ".join(GROUPINGS),
                    }
                },
                status_code=400,
            )
        table = await anyio.to_thread.run_sync(reg.table, p, by, top, prefix)
        if format == "csv":
            name = f"regulator-stats-{p.label}-{by}.csv"
            return Response(
                ("\ufeff" + to_csv(table)).encode("utf-8"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        if format == "xlsx":
            name = f"regulator-stats-{p.label}-{by}.xlsx"
            return Response(
                await anyio.to_thread.run_sync(to_xlsx, table),
                media_type=XLSX,
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return table

    @app.get(
        f"{API}/regulator/districts",
        tags=["regulator"],
        summary="运行评价: every district's indicators and score for a period",
        description=(
            "period = yyyyMMdd | YYYY-Www | YYYY-MM | YYYYQn. Indicators, weights and grades: "
            "profiles/reference/assessment.toml [assessment], docs/regulator.md. " + CREDENTIALS_DOC
        ),
        responses={400: {"description": "A bad period"}, **AUTH_ERRORS},
        openapi_extra={"parameters": SIGNATURE_HEADERS},
    )
    async def regulator_districts(
        request: Request,
        period: str = Query(..., max_length=10, pattern=PERIOD_RE),
        district: str | None = Query(None, pattern=_DISTRICT, description=_DISTRICT_DOC),
    ):
        got = await checked(request, district, period)
        if isinstance(got, Response):
            return got
        prefix, p = got
        return within(await anyio.to_thread.run_sync(assess.districts, p), prefix)

    @app.get(
        "/regulator/districts",
        tags=["regulator"],
        response_class=HTMLResponse,
        summary="The district report (HTML, print-ready A4; zh, lang=en for English)",
        description=CREDENTIALS_DOC + " A browser logs in at /regulator first (the session cookie).",
        responses={400: {"description": "A bad period"}, **AUTH_ERRORS},
        openapi_extra={"parameters": SIGNATURE_HEADERS},
    )
    async def regulator_page(
        request: Request,
        period: str = Query(..., max_length=10, pattern=PERIOD_RE),
        lang: str = Query("zh", pattern="^(zh|en)$"),
        district: str | None = Query(None, pattern=_DISTRICT, description=_DISTRICT_DOC),
    ):
        got = await checked(request, district, period)
        if isinstance(got, Response):
            return got
        prefix, p = got

        def render() -> str:
            return render_district_report(
                within(assess.districts(p), prefix), reg.table(p, "district", None, prefix), lang
            )

        return HTMLResponse(await anyio.to_thread.run_sync(render))

    return reg, assess
