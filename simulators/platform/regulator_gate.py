"""Who may read the regulator's statistics and district assessment, and what part of the city they see (issue 14).

The platform's own design (evidence ``profile``; the access rule that a district's figures are its regulator's
follows 属地管理, the scheme the seed document organises the work by).  Contracts:

* :meth:`RegulatorGate.regulator` authenticates a request as a registered regulator: a request signed with a
  regulator's id and key exactly as the problem API's POSTs (headers ``X-Node-Id`` = the 6-digit regulator id,
  ``X-Request-Time``, ``X-Verify-Code``: :mod:`.nodeauth`; path with query string signed; a replay is 409), or
  a live dashboard session cookie (:mod:`.dashboard_sessions`, set by ``POST /regulator/login``).  A node's key,
  an unknown id or no credentials raise :class:`~.nodeauth.AuthError` 401.
* :func:`scope` is the county-code prefix an answer is limited to: the regulator's jurisdiction
  (:func:`.regulators.jurisdiction_prefix`), or the narrower ``district`` asked for; a ``district`` outside the
  jurisdiction raises :class:`~.nodeauth.AuthError` 403.
"""

from __future__ import annotations

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
    "cookie. 401 without (a node's key is refused), 409 for a replayed signature, 403 for a district outside the "
    "regulator's jurisdiction. The answer covers the regulator's jurisdiction only (district narrows it)."
)
_ERR = {"content": {"application/json": {"schema": ERROR_SCHEMA}}}
#: the OpenAPI answers of a refused read (``responses=``)
AUTH_ERRORS = {
    401: {"description": "No regulator's credentials (unsigned, a node's key, a bad signature)", **_ERR},
    403: {"description": "The district asked for is outside the regulator's jurisdiction", **_ERR},
    409: {"description": "A replayed signature", **_ERR},
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


class RegulatorGate:
    def __init__(self, svc):
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
        body = await request.body()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self.verifier.verify(request.headers, request.method, path, body)
