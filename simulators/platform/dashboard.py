"""HTTP routes of the regulator's dashboard (监管驾驶舱, issue 14 item 4), server-rendered for a regulator session.

* ``GET  /regulator[?period=P][&lang=en]`` — without a session: the login form (no data); with one: the dashboard
  of the session's regulator for period ``P`` (default: the current ISO week, Beijing time);
* ``POST /regulator/login`` (form: ``regulator_id``, ``key``, ``period``, ``lang``) — 303 to the dashboard with an
  ``HttpOnly; SameSite=Strict`` session cookie, or 401 and the form again; only a regulator's key logs in
  (:mod:`.dashboard_sessions`), never a node's;
* ``POST /regulator/problems/{id}/ack`` and ``.../close`` (form: ``csrf``, ``note`` for close) — the session's
  regulator acknowledges or closes the problem through :meth:`.problems.Problems.act`, the same call, jurisdiction
  check and states as the signed problem API; answered with the dashboard and a message (the status of the act);
* ``POST /regulator/logout`` (form: ``csrf``): 303 to the login form; 401 without a live session.

The key travels in a POST body only, never in a URL.  An action needs a live session (401 without) and its CSRF token (403 without).
The dashboard shows only the regulator's jurisdiction (:func:`.regulators.covers`), except the trend, which is the
city's (statistics by day are not split by district).
"""

from __future__ import annotations

import datetime as _dt
from urllib.parse import parse_qs, quote

import anyio
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from . import periods
from .dashboard_sessions import COOKIE, DashboardSessions
from .pages.dashboard_page import render_dashboard, render_login
from .openapi_doc import ERROR_SCHEMA
from .problems import LIST_MAX, ActionError, listing
from .problem_routes import NOTE_MAX
from .regulator_api import PERIOD_RE
from .regulators import Regulators, covers, jurisdiction_prefix
from .stats import PeriodError

FORM_MAX = 4096
FORM_FIELDS = 10
_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
_HTML_OR_JSON = {"content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"schema": ERROR_SCHEMA}}}
_REDIRECT = {
    "description": "To the dashboard (Location), with the session cookie on login",
    "headers": {"Location": {"schema": {"type": "string"}}},
}


def _form_doc(required: list[str], fields: dict[str, int]) -> dict:
    """OpenAPI of an url-encoded form: string fields with their maximum length."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": required,
                        "properties": {k: {"type": "string", "maxLength": n} for k, n in fields.items()},
                    }
                }
            },
        }
    }


_ACT_DOC = {
    200: {"description": "The dashboard, with the action's message", **_HTML},
    400: {
        "description": "The dashboard: closing without a note (1-500 characters); invalid parameters (JSON)",
        **_HTML_OR_JSON,
    },
    401: {"description": "The login form: no live session", **_HTML},
    403: {"description": "A wrong CSRF token, or a problem outside the jurisdiction", **_HTML},
    404: {"description": "The dashboard: no such problem", **_HTML},
    409: {"description": "The dashboard: the problem is already closed", **_HTML},
}
_DONE = {"ack": ("问题 {id} 已受理", "problem {id} acknowledged"), "close": ("问题 {id} 已办结", "problem {id} closed")}


def current_week(now: _dt.datetime | None = None) -> str:
    """The ISO week of ``now`` (default: the present) in Beijing time, as ``YYYY-Www``."""
    now = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone(_dt.timedelta(hours=8)))
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


async def _form(request: Request) -> dict[str, str] | None:
    """The url-encoded form of ``request`` (first value of each field); ``None`` when over :data:`FORM_MAX` bytes
    or over :data:`FORM_FIELDS` fields."""
    body = await request.body()
    if len(body) > FORM_MAX:
        return None
    try:
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=FORM_FIELDS).items()}
    except ValueError:
        return None


def _lang(value: str | None) -> str:
    return "en" if value == "en" else "zh"


def install_dashboard(app: FastAPI, svc, reg, assess) -> DashboardSessions:
    """Add the routes above; ``reg``/``assess`` are the statistics and assessment services of :mod:`.regulator_api`."""
    regulators = Regulators(svc.store, svc.secret, svc.profile)
    sessions = DashboardSessions(regulators)
    app.state.dashboard_sessions = sessions  # the regulator read endpoints accept its cookie (regulator_gate.py)
    problems = app.state.problems

    def gather(regulator_id: str, p: periods.Period) -> dict:
        prefix = jurisdiction_prefix(regulator_id)
        a = assess.districts(p)
        a = {**a, "districts": [d for d in a.get("districts") or [] if covers(regulator_id, str(d.get("code", "")))]}
        with svc.store.read() as tx:
            row = tx.one("SELECT name FROM regulators WHERE regulator_id = ?", (regulator_id,))
            queue = [
                q
                for state in ("open", "acknowledged")
                for q in listing(tx, prefix, None, state, None, None, None, 0, LIST_MAX + 1)
            ]
        queue.sort(key=lambda q: q["id"])
        nodes = [n for n in svc.monitor.nodes() if covers(regulator_id, str(n["node_id"])[:6])]
        names = {d["code"]: d.get("name") for d in a["districts"]}
        for code in {str(q.get("district", "")) for q in queue} | {str(n["node_id"])[:6] for n in nodes}:
            region = svc.profile.regions.get(code)
            names.setdefault(code, region.name if region else code)
        days = sorted(reg.table(p, "day")["groups"], key=lambda g: str(g.get("key")))
        return {
            "regulator": {"id": regulator_id, "name": row[0] if row else regulator_id},
            "period": p.label,
            "assessment": a,
            "problems": queue[:LIST_MAX],
            "problems_more": len(queue) > LIST_MAX,
            "kinds": {k.id: {"zh": k.name_zh, "en": k.name_en} for k in svc.profile.problems.kinds.values()},
            "names": names,
            "days": days,
            "nodes": nodes,
            "offline_after_s": svc.monitor.offline_after_ms // 1000,
        }

    async def show(
        request: Request, session, period: str, lang: str, message: str | None = None, status: int = 200
    ) -> HTMLResponse:
        try:
            p = periods.parse(period)
        except PeriodError:
            p, message, status = (
                periods.parse(current_week()),
                (f"统计期无效：{period}" if lang == "zh" else f"invalid period: {period}"),
                400,
            )
        data = await anyio.to_thread.run_sync(gather, session.regulator_id, p)
        return HTMLResponse(
            render_dashboard(data, lang, session.csrf, message),
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    def login_page(lang: str, period: str, error: bool = False, status: int = 200) -> HTMLResponse:
        return HTMLResponse(
            render_login(lang, period, error), status_code=status, headers={"Cache-Control": "no-store"}
        )

    @app.get(
        "/regulator",
        tags=["regulator"],
        response_class=HTMLResponse,
        summary="The regulator's dashboard (监管驾驶舱; zh, lang=en for English): the login form without a session",
        responses={
            400: {
                "description": "The dashboard: a period of the right shape that is no real period; "
                "invalid parameters (JSON)",
                **_HTML_OR_JSON,
            }
        },
    )
    async def dashboard(
        request: Request,
        period: str | None = Query(None, max_length=10, pattern=PERIOD_RE),
        lang: str = Query("zh", pattern="^(zh|en)$"),
    ):
        period = period or current_week()
        session = sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return login_page(lang, period)
        return await show(request, session, period, lang)

    @app.post(
        "/regulator/login",
        tags=["regulator"],
        response_class=HTMLResponse,
        summary="Log in to the dashboard (form: regulator_id, key): 303 with a session cookie, else 401",
        responses={303: _REDIRECT, 401: {"description": "The login form again: a wrong id or key", **_HTML}},
        openapi_extra=_form_doc(["regulator_id", "key"], {"regulator_id": 6, "key": 200, "period": 10, "lang": 2}),
    )
    async def login(request: Request):
        form = await _form(request) or {}
        lang = _lang(form.get("lang"))
        period = form.get("period") or current_week()
        try:
            period = periods.parse(period[:10]).label
        except PeriodError:
            period = current_week()
        got = await anyio.to_thread.run_sync(sessions.login, form.get("regulator_id", ""), form.get("key", ""))
        if got is None:
            return login_page(lang, period, error=True, status=401)
        token, _ = got
        resp = RedirectResponse(f"/regulator?period={quote(period)}&lang={lang}", status_code=303)
        resp.set_cookie(
            COOKIE,
            token,
            max_age=sessions.ttl_s,
            path="/regulator",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return resp

    async def _session_form(request: Request):
        form = await _form(request)
        session = sessions.get(request.cookies.get(COOKIE))
        lang = _lang((form or {}).get("lang"))
        if session is None or form is None or form.get("csrf", "") != session.csrf:
            return None, form or {}, lang
        return session, form, lang

    async def _act(request: Request, problem_id: int, action: str):
        session, form, lang = await _session_form(request)
        if session is None:  # 401 without a live session, 403 with one but a wrong CSRF token
            status = 403 if sessions.get(request.cookies.get(COOKIE)) else 401
            return login_page(lang, form.get("period") or current_week(), error=False, status=status)
        period = form.get("period") or current_week()
        note = None
        if action == "close":
            note = (form.get("note") or "").strip()
            if not note or len(note) > NOTE_MAX:
                msg = (f"办结须附说明（1-{NOTE_MAX} 字）", f"closing needs a note (1-{NOTE_MAX} characters)")
                return await show(request, session, period, lang, msg[lang == "en"], 400)
        try:
            await anyio.to_thread.run_sync(problems.act, problem_id, action, session.regulator_id, note)
        except ActionError as exc:
            return await show(request, session, period, lang, exc.en if lang == "en" else exc.zh, exc.status)
        done = _DONE[action][lang == "en"].format(id=problem_id)
        return await show(request, session, period, lang, done)

    @app.post(
        "/regulator/problems/{problem_id}/ack",
        tags=["regulator"],
        response_class=HTMLResponse,
        summary="Dashboard: acknowledge a problem (session and CSRF token; 403 without)",
        responses=_ACT_DOC,
        openapi_extra=_form_doc(["csrf"], {"csrf": 64, "period": 10, "lang": 2}),
    )
    async def dash_ack(request: Request, problem_id: int = Path(..., ge=1, le=2**63 - 1)):
        return await _act(request, problem_id, "ack")

    @app.post(
        "/regulator/problems/{problem_id}/close",
        tags=["regulator"],
        response_class=HTMLResponse,
        summary="Dashboard: close a problem with a note (form field note, 1-500 characters)",
        responses=_ACT_DOC,
        openapi_extra=_form_doc(["csrf", "note"], {"csrf": 64, "note": NOTE_MAX, "period": 10, "lang": 2}),
    )
    async def dash_close(request: Request, problem_id: int = Path(..., ge=1, le=2**63 - 1)):
        return await _act(request, problem_id, "close")

    @app.post(
        "/regulator/logout",
        tags=["regulator"],
        summary="Dashboard: end the session (session and CSRF token; 401 without)",
        responses={303: _REDIRECT, 401: {"description": "The login form: no live session", **_HTML}},
        openapi_extra=_form_doc(["csrf"], {"csrf": 64, "lang": 2}),
    )
    async def logout(request: Request):
        session, form, lang = await _session_form(request)
        if session is None:
            return login_page(lang, current_week(), status=401)
        sessions.logout(request.cookies.get(COOKIE))
        resp = RedirectResponse(f"/regulator?lang={lang}", status_code=303)
        resp.delete_cookie(COOKIE, path="/regulator")
        return resp

    return sessions
