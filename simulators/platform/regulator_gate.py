"""Who may read the regulator's statistics and district assessment, and what part of the city they see (issue 14).

The platform's own design (evidence ``profile``; the access rule that a district's figures are its regulator's
follows 属地管理, the scheme the seed document organises the work by).  Contracts:

* :meth:`RegulatorGate.regulator` authenticates a request as a registered regulator: a request signed with a
  regulator's id and key exactly as the problem API's POSTs (headers ``X-Node-Id`` = the 6-digit regulator id,
  ``X-Request-Time``, ``X-Verify-Code``: :mod:`.nodeauth`; path with query string signed; a replayed signature
  is 409 for a write, while a read (GET, HEAD) may be sent again within the clock window: a dashboard reloads, and a
  repeated read changes nothing and discloses only what the first answer did), or
  a live dashboard session cookie (:mod:`.dashboard_sessions`, set by ``POST /regulator/login``).  A node's key,
  an unknown id or no credentials raise :class:`~.nodeauth.AuthError` 401.
* :meth:`RegulatorGate.reader` is the FastAPI dependency of the monitoring and statistics reads (``GET
  /api/v1/nodes``, ``/stats/*``, ``/kpis*``, ``/stoptrade/broadcasts``, a central platform's ``/feed/summary``):
  the regulator's jurisdiction prefix, checked before the query parameters; :func:`whole_platform` refuses (403) a
  city-wide aggregate to a regulator whose jurisdiction does not cover every registered node.
* :func:`scope` is the county-code prefix an answer is limited to: the regulator's jurisdiction
  (:func:`.regulators.jurisdiction_prefix`), or the narrower ``district`` asked for; a ``district`` outside the
  jurisdiction raises :class:`~.nodeauth.AuthError` 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from .dashboard_sessions import COOKIE
from .nodeauth import AuthError, RequestVerifier
from .openapi_doc import ERROR_SCHEMA
from .regulators import Regulators, jurisdiction_prefix
from .replaystore import StoredReplayMemory

#: the OpenAPI text of the credentials the regulator's read endpoints need
CREDENTIALS_DOC = (
    "Needs a registered regulator (roucai serve admin register-regulator): a request signed with its id and key "
    "(headers X-Node-Id = the 6-digit regulator id, X-Request-Time, X-Verify-Code, as the problem API's POSTs: "
    "simulators/platform/nodeauth.py; the signed path includes the query string), or the dashboard's session "
    "cookie. 401 without (a node's key is refused), 403 for a district outside the regulator's jurisdiction. A read "
    "may be sent again with the same signature within the clock window (a reload). The answer covers the "
    "regulator's jurisdiction only (district narrows it)."
)
_ERR = {"content": {"application/json": {"schema": ERROR_SCHEMA}}}
#: the OpenAPI answers of a refused read (``responses=``)
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No regulator's credentials (unsigned, a node's key, a bad signature)", **_ERR},
    403: {"description": "The district asked for is outside the regulator's jurisdiction", **_ERR},
}
#: the OpenAPI header parameters of a signed read (``openapi_extra={"parameters": ...}``)
SIGNATURE_HEADERS = [
    {"name": h, "in": "header", "required": False, "schema": {"type": "string", "maxLength": 40}, "description": d}
    for h, d in (
        ("X-Node-Id", "the regulator's 6-digit id"),
        ("X-Request-Time", "yyyyMMddHHmmssSSS, Beijing time"),
        ("X-Verify-Code", "the request's signature (simulators/platform/nodeauth.py)"),
    )
]


def scope(regulator_id: str, district: str | None) -> str:
    """The county-code prefix the answer to ``regulator_id`` covers (module docstring); 403 outside it."""
    own = jurisdiction_prefix(regulator_id)
    if not district:
        return own
    if not district.startswith(own):
        raise AuthError(
            403,
            f"区划 {district} 不在本监管部门（{regulator_id}）辖区内",
            f"district {district} is outside the jurisdiction of regulator {regulator_id}",
        )
    return district


def whole_platform(prefix: str, node_ids: Iterable[str]) -> None:
    """Raise AuthError 403 unless the jurisdiction ``prefix`` covers every one of ``node_ids`` (a city-wide
    aggregate such as a KPI cannot be cut to a district, so only a regulator of the whole platform reads it)."""
    outside = next((n for n in node_ids if not str(n).startswith(prefix)), None)
    if outside is not None:
        raise AuthError(
            403,
            f"全市汇算数据只答复辖区覆盖本平台全部节点的监管部门（节点 {outside} 不在辖区 {prefix} 内）",
            f"city-wide figures are for a regulator whose jurisdiction covers every node of the platform "
            f"(node {outside} is outside {prefix})",
        )


class RegulatorGate:
    def __init__(self, svc: Any) -> None:
        self.regulators = Regulators(svc.store, svc.secret, svc.profile)
        self.verifier = RequestVerifier(
            svc.profile.envelope, self.regulators.current_key, remember=StoredReplayMemory(svc.store).seen_first
        )

    async def regulator(self, request: Request) -> str:
        """The regulator id the request is made by (signature, else dashboard session); raises AuthError 401/409."""
        sessions = getattr(request.app.state, "dashboard_sessions", None)
        if sessions is not None and not request.headers.get("x-node-id"):
            session = sessions.get(request.cookies.get(COOKIE))
            if session is not None:
                return session.regulator_id
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signed = all(request.headers.get(h) for h in ("x-node-id", "x-request-time", "x-verify-code"))
        body = await request.body() if signed else b""  # unsigned: refused (401) without reading a body
        write = request.method not in ("GET", "HEAD")  # a replay guard is for writes (module docstring)
        return self.verifier.verify(request.headers, request.method, path, body, replay=write)

    async def reader(self, request: Request) -> str:
        """FastAPI dependency: the jurisdiction prefix of the regulator making the read; raises AuthError 401."""
        return jurisdiction_prefix(await self.regulator(request))
