"""Client side of the signed regulator reads: an :class:`httpx.Auth` that signs them (docs/regulator.md).

The reference platform answers its monitoring and statistics reads (:data:`READS`) to a registered regulator only
(:mod:`.regulator_gate`).  A client holding a regulator's id and key (the harness's suites, the load test's
reconciliation, tests) passes ``auth=RegulatorReads(spec, regulator_id, key)`` to its :class:`httpx.Client`: every
GET of those paths that carries no signature of its own is signed as :mod:`.nodeauth` defines (the path with its
query string exactly as sent; a central platform's summary: ``paths``).  Other requests pass unchanged, so a trace
query stays unsigned and a request the caller signed itself (a node's fetch, a probe) keeps its headers;
``auth=None`` on a request sends it unsigned.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from .nodeauth import sign

#: the regulator's monitoring and statistics reads (GET): exact paths, and prefixes of paths
READS = ("/api/v1/nodes", "/api/v1/kpis", "/api/v1/stoptrade/broadcasts")
READ_PREFIXES = ("/api/v1/nodes/", "/api/v1/stats/", "/api/v1/kpis/")


def is_read(path: str) -> bool:
    """Whether ``path`` (without the query) is one of the reads (:data:`READS`, :data:`READ_PREFIXES`)."""
    return path in READS or path.startswith(READ_PREFIXES)


class RegulatorReads(httpx.Auth):
    def __init__(self, spec, regulator_id: str, key: str, paths: tuple[str, ...] | None = None):
        """``spec``: the profile's envelope (its VerifyCode recipe and clock offset); ``paths``: sign the GETs of
        exactly these paths instead of the city platform's reads (a central platform's ``/api/v1/feed/summary``)."""
        self.spec = spec
        self.regulator_id = regulator_id
        self.key = key
        self.paths = paths

    def headers(self, method: str, target: str) -> dict[str, str]:
        """The signature headers of ``method target`` (``target``: path with its query string)."""
        return sign(self.spec, self.key, self.regulator_id, method, target)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.path
        wanted = path in self.paths if self.paths is not None else is_read(path)
        if request.method == "GET" and "x-node-id" not in request.headers and wanted:
            request.headers.update(self.headers("GET", request.url.raw_path.decode("ascii")))
        yield request
