"""HTTP routes of problem discovery (问题发现, issue 14): the problem list, detection and a regulator's actions.

* ``GET  /api/v1/problems?district=&kind=&state=&node_id=&from=&to=&cursor=&limit=`` — read-only, for a registered
  regulator only (:mod:`.regulator_gate`: a signed GET or the dashboard's session; 401 without, 409 replay, 403 for
  a ``district`` outside its jurisdiction) and answered for its jurisdiction only (``district`` narrows it);
* ``POST /api/v1/problems/detect?date=yyyyMMdd`` — run detection for a business day;
* ``POST /api/v1/problems/{id}/ack`` and ``POST /api/v1/problems/{id}/close`` (JSON body ``{"note": "…"}``,
  1-500 characters) — move a problem along open → acknowledged → closed.

The three POSTs are signed by a *regulator* (``roucai serve admin register-regulator``; headers as
:mod:`.nodeauth`), checked by a verifier that knows regulator keys only: a node's key, or no key, gets 401.
A regulator acts only inside its jurisdiction (:func:`.regulators.covers`: 403).
"""

from __future__ import annotations

import json

import anyio
from fastapi import FastAPI, Path, Query, Request

from .nodeauth import AuthError
from .openapi_doc import ERROR_SCHEMA
from .problems import LIST_MAX, ActionError, Problems, listing
from .regulator_gate import AUTH_ERRORS, CREDENTIALS_DOC, SIGNATURE_HEADERS, RegulatorGate, scope
from .stats import period_bounds

_KIND = r"^[a-z][a-z-]{1,39}$"
_SIGNED = (
    "Signed request, by a registered regulator (roucai serve admin register-regulator): headers X-Node-Id (the "
    "regulator's 6-digit id), X-Request-Time, X-Verify-Code as for nodes (simulators/platform/nodeauth.py). "
    "401 without a regulator's valid signature (a node's key is refused), 409 for a replay."
)
NOTE_MAX = 500
_ACT_ERRORS = {
    code: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for code, text in (
        (403, "Outside the regulator's jurisdiction"),
        (404, "No such problem"),
        (409, "Already closed, or a replayed request"),
    )
}


def install_problem_routes(app: FastAPI, svc, api: str, err, date_re: str) -> None:
    """Add the routes to ``app``; ``err(status, zh, en)`` builds the error answer, ``date_re`` matches a calendar day."""
    problems = Problems(svc.store, svc.recmap, svc.profile)
    gate = RegulatorGate(svc)
    app.state.problems = problems

    async def _regulator(request: Request) -> tuple[str, bytes]:
        """The signing regulator and the body of a POST (signature only: no session cookie acts)."""
        body = await request.body()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return gate.verifier.verify(request.headers, request.method, path, body), body

    @app.get(
        f"{api}/problems",
        tags=["problems"],
        summary="Problems found (问题发现): filter by district, kind, state, day",
        description=(
            "district: a 6-digit county code or a prefix (6501 = a whole city); from/to: business days "
            "yyyyMMdd inclusive; ordered by id; next_cursor (null on the last page) is the cursor of "
            f"the next page; limit at most {LIST_MAX}. Kinds and rules: profiles/reference/problems.toml. "
            + CREDENTIALS_DOC
        ),
        responses={400: {"description": "A bad day", "content": {"application/json": {"schema": ERROR_SCHEMA}}}}
        | AUTH_ERRORS,
        openapi_extra={"parameters": SIGNATURE_HEADERS},
    )
    async def problem_list(
        request: Request,
        district: str | None = Query(None, pattern=r"^[0-9]{1,6}$"),
        kind: str | None = Query(None, pattern=_KIND),
        state: str | None = Query(None, pattern="^(open|acknowledged|closed)$"),
        node_id: str | None = Query(None, pattern=r"^[0-9]{1,20}$"),
        first: str | None = Query(None, alias="from", pattern=date_re),
        last: str | None = Query(None, alias="to", pattern=date_re),
        cursor: str = Query("0", pattern="^[0-9]{1,12}$"),
        limit: int = Query(200, ge=1, le=LIST_MAX),
    ):
        try:
            prefix = scope(await gate.regulator(request), district)
        except AuthError as exc:
            return err(exc.status, exc.zh, exc.en)
        for d in (first, last):
            if d:
                period_bounds(date=d)

        def read() -> list[dict]:
            with svc.store.read() as tx:
                return listing(tx, prefix, kind, state, first, last, node_id, int(cursor), limit + 1)

        items = await anyio.to_thread.run_sync(read)
        more = len(items) > limit
        items = items[:limit]
        return {
            "problems": items,
            "next_cursor": str(items[-1]["id"]) if more else None,
            "kinds": {
                k.id: {"zh": k.name_zh, "en": k.name_en, "status": k.status}
                for k in svc.profile.problems.kinds.values()
            },
        }

    @app.post(
        f"{api}/problems/detect",
        tags=["problems"],
        summary="Run problem detection for one business day",
        description=_SIGNED + " Returns the new flags per kind; re-running adds none.",
    )
    async def problem_detect(request: Request, date: str = Query(..., pattern=date_re)):
        period_bounds(date=date)
        try:
            who, _ = await _regulator(request)
        except AuthError as exc:
            return err(exc.status, exc.zh, exc.en)
        new = await anyio.to_thread.run_sync(problems.detect, date)
        return {"date": date, "regulator": who, "new": new}

    async def _act(request: Request, problem_id: int, action: str):
        try:
            who, body = await _regulator(request)
        except AuthError as exc:
            return err(exc.status, exc.zh, exc.en)
        note = None
        if action == "close":
            try:
                note = json.loads(body or b"{}").get("note")
            except (ValueError, AttributeError, RecursionError):
                note = None
            if not isinstance(note, str) or not note.strip() or len(note) > NOTE_MAX:
                return err(
                    400, f"办结须附说明 note（1-{NOTE_MAX} 字）", f"closing needs a note (1-{NOTE_MAX} characters)"
                )
            note = note.strip()
        try:
            return await anyio.to_thread.run_sync(problems.act, problem_id, action, who, note)
        except ActionError as exc:
            return err(exc.status, exc.zh, exc.en)

    @app.post(
        f"{api}/problems/{{problem_id}}/ack",
        tags=["problems"],
        summary="Acknowledge a problem (受理)",
        description=_SIGNED + " 403 outside the regulator's jurisdiction; 409 if closed.",
        responses=_ACT_ERRORS,
    )
    async def problem_ack(request: Request, problem_id: int = Path(..., ge=1, le=2**63 - 1)):
        return await _act(request, problem_id, "ack")

    @app.post(
        f"{api}/problems/{{problem_id}}/close",
        tags=["problems"],
        summary="Close a problem with a note (办结)",
        description=_SIGNED + ' Body {"note": "…"} (1-500 characters). 403 outside the jurisdiction; 409 if '
        "already closed.",
        responses={
            **_ACT_ERRORS,
            400: {
                "description": "No note, or a note over 500 characters",
                "content": {"application/json": {"schema": ERROR_SCHEMA}},
            },
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["note"],
                            "properties": {"note": {"type": "string", "minLength": 1, "maxLength": NOTE_MAX}},
                        }
                    }
                },
            }
        },
    )
    async def problem_close(request: Request, problem_id: int = Path(..., ge=1, le=2**63 - 1)):
        return await _act(request, problem_id, "close")
