"""The regulator's read endpoints: statistics (统计分析) and the district assessment (运行评价).

``install(app, svc)`` adds, unauthenticated like the platform's other read-only monitoring endpoints (bind to
127.0.0.1 or put a proxy in front, as the app's description says):

* ``GET /api/v1/regulator/stats?period=P&by=G[&top=N][&format=csv]``: :class:`.regstats.RegulatorStats`;
* ``GET /api/v1/regulator/districts?period=P``: :class:`.assessment.Assessment`;
* ``GET /regulator/districts?period=P[&lang=en]``: the district report page (HTML, print-ready, zh default).

``P``: yyyyMMdd, YYYY-Www, YYYY-MM or YYYYQn (:mod:`.periods`); a bad one is 400 with the bilingual error.
"""

from __future__ import annotations

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from . import periods
from .assessment import Assessment
from .pages.district_report import render_district_report
from .regstats import GROUPINGS, RegulatorStats, to_csv
from .stats import PeriodError

API = "/api/v1"
#: the shapes of a period (a real day, week 53 of a year that has one, … are checked by periods.parse: 400 otherwise)
PERIOD_RE = r"^(?:[0-9]{8}|[0-9]{4}-W(?:0[1-9]|[1-4][0-9]|5[0-3])|[0-9]{4}-(?:0[1-9]|1[0-2])|[0-9]{4}Q[1-4])$"
_PERIOD_ZH = "统计期须为 yyyyMMdd（日）、YYYY-Www（ISO 周）、YYYY-MM（月）或 YYYYQn（季度）"


def _bad_period(exc: PeriodError) -> JSONResponse:
    return JSONResponse({"error": {"zh": _PERIOD_ZH, "en": str(exc)}}, status_code=400)


def install(app: FastAPI, svc, assessment_cls: type[Assessment] = Assessment) -> tuple[RegulatorStats, Assessment]:
    """Add the endpoints above to ``app``; ``assessment_cls`` is the seam for a platform whose assessment adds
    columns (the problem store).  Returns the two services."""
    reg = RegulatorStats(svc.store, svc.profile)
    assess = assessment_cls(svc.store, svc.recmap, svc.stats, svc.profile)

    @app.get(
        f"{API}/regulator/stats",
        tags=["regulator"],
        summary="统计分析: kg and average price per commodity and group, inflow by province, top operators",
        description=(
            "period = yyyyMMdd | YYYY-Www | YYYY-MM | YYYYQn; by = "
            + " | ".join(GROUPINGS)
            + "; top = at most N groups (by=operator); format=csv for a CSV file. Definitions: "
            "profiles/reference/assessment.toml [statistics], docs/regulator.md."
        ),
        responses={
            200: {
                "description": "The table (JSON), or with format=csv the CSV file (UTF-8 with BOM)",
                "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
            },
            400: {"description": "A bad period or grouping"},
        },
    )
    def regulator_stats(
        period: str = Query(..., max_length=10, pattern=PERIOD_RE),
        by: str = Query("district", pattern="^(?:" + "|".join(GROUPINGS) + ")$"),
        top: int | None = Query(None, ge=1, le=1000),
        format: str = Query("json", pattern="^(json|csv)$"),
    ):
        try:
            p = periods.parse(period)
        except PeriodError as exc:
            return _bad_period(exc)
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
        table = reg.table(p, by, top)
        if format == "csv":
            name = f"regulator-stats-{p.label}-{by}.csv"
            return Response(
                ("\ufeff" + to_csv(table)).encode("utf-8"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return table

    @app.get(
        f"{API}/regulator/districts",
        tags=["regulator"],
        summary="运行评价: every district's indicators and score for a period",
        description=(
            "period = yyyyMMdd | YYYY-Www | YYYY-MM | YYYYQn. Indicators, weights and grades: "
            "profiles/reference/assessment.toml [assessment], docs/regulator.md."
        ),
        responses={400: {"description": "A bad period"}},
    )
    def regulator_districts(period: str = Query(..., max_length=10, pattern=PERIOD_RE)):
        try:
            p = periods.parse(period)
        except PeriodError as exc:
            return _bad_period(exc)
        return assess.districts(p)

    @app.get(
        "/regulator/districts",
        tags=["regulator"],
        response_class=HTMLResponse,
        summary="The district report (HTML, print-ready A4; zh, lang=en for English)",
    )
    def regulator_page(
        period: str = Query(..., max_length=10, pattern=PERIOD_RE), lang: str = Query("zh", pattern="^(zh|en)$")
    ):
        try:
            p = periods.parse(period)
        except PeriodError as exc:
            return _bad_period(exc)
        return HTMLResponse(render_district_report(assess.districts(p), reg.table(p, "district"), lang))

    return reg, assess
