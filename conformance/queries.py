"""The platform's read interfaces the suites query, as the reference platform defines them (docs/platform.md).

The upload envelope is the profile's; these query interfaces are this project's own design (evidence
``profile``).  A platform declares that it offers them with capabilities: ``trace_query`` (trace JSON
and page), ``statistics`` (daily statistics and KPIs), ``node_monitoring`` (node registry and status),
``stop_trade_broadcast`` (signed fetch and acknowledgement, broadcast listing), ``upward_feed``, ``time_service``
(Beijing time with milliseconds), ``scale_usage`` (追溯秤使用率 of a day or a quarter), ``quarterly_kpis``
(企业覆盖率 and 追溯环节使用率 of a quarter), ``regulator_statistics`` (volumes, prices and inflow by district,
node type and origin), ``district_assessment`` (each district's indicators and score; docs/regulator.md).
Each function returns ``(HTTP status, decoded JSON or text)`` and never raises for an HTTP error status.
A platform that drops the connection (reset, closed mid-answer) is answered with status ``0`` and a text naming
the transport error, so the calling test records it as a finding; timeouts still raise (a timeout is a verdict).
"""

from __future__ import annotations

import json

import httpx


DROPPED = 0
"""The status reported when the platform dropped the connection twice instead of answering."""


def _send_get(http: httpx.Client, url: str, params: dict | None = None, headers: dict | None = None, **auth):
    """GET once more on a fresh connection when the first attempt's connection was dropped.

    HTTP/1.1 lets a server close a keep-alive connection at any time (uvicorn does after an unhandled error), and a
    GET is idempotent, so one retry is what any client does.  Returns the response, or a :class:`_Dropped` text when
    the second attempt was dropped too.  Raises :class:`httpx.TimeoutException` unchanged.  ``auth=None`` sends
    the request unsigned (the ``http`` fixture otherwise signs a regulator's reads: conformance/conftest.py)."""
    try:
        return http.get(url, params=params, headers=headers, **auth)
    except httpx.TimeoutException:
        raise
    except httpx.TransportError:
        pass
    try:
        return http.get(url, params=params, headers=headers, **auth)
    except httpx.TimeoutException:
        raise
    except httpx.TransportError as exc:
        return _Dropped(f"connection dropped ({type(exc).__name__}: {exc})")


class _Dropped(str):
    """What :func:`_send_get` returns instead of a response: the transport error, as text."""


def _get(http: httpx.Client, url: str, params: dict | None = None, headers: dict | None = None, **auth):
    r = _send_get(http, url, params, headers, **auth)
    if isinstance(r, _Dropped):
        return DROPPED, str(r)
    try:
        return r.status_code, r.json()
    except (json.JSONDecodeError, ValueError):
        return r.status_code, r.text


def trace(http, base: str, code: str, max_pages: int = 100):
    """The trace answer; a paged answer (``next_cursor``, as the reference platform sends) is followed to its
    last page (at most ``max_pages``) and the records of every page are merged into their hops."""
    status, ans = _get(http, f"{base}/api/v1/trace/{code}")
    pages = 1
    while isinstance(ans, dict) and ans.get("next_cursor") and pages < max_pages:
        st, more = _get(http, f"{base}/api/v1/trace/{code}", {"cursor": ans["next_cursor"]})
        if st != status or not isinstance(more, dict) or len(more.get("chain", [])) != len(ans.get("chain", [])):
            return st, more
        for hop, extra in zip(ans["chain"], more["chain"]):
            if "records" in hop:
                hop["records"] = hop["records"] + extra.get("records", [])
        ans["next_cursor"] = more.get("next_cursor")
        pages += 1
    return status, ans


def trace_page(http, base: str, code: str, lang: str = "zh"):
    r = _send_get(http, f"{base}/trace", {"code": code, "lang": lang})
    if isinstance(r, _Dropped):
        return DROPPED, str(r)
    return r.status_code, r.text


def stats_daily(http, base: str, date: str, node_id: str | None = None):
    return _get(http, f"{base}/api/v1/stats/daily", {"date": date, **({"node_id": node_id} if node_id else {})})


def stats_totals(http, base: str, date: str):
    """The day's totals per node, node type and commodity: ``GET /api/v1/stats/totals?date=`` (the reference's)."""
    return _get(http, f"{base}/api/v1/stats/totals", {"date": date})


def kpis(http, base: str, date: str):
    return _get(http, f"{base}/api/v1/kpis", {"date": date})


def node_status(http, base: str, node_id: str):
    return _get(http, f"{base}/api/v1/nodes/{node_id}")


def nodes(http, base: str):
    return _get(http, f"{base}/api/v1/nodes")


def signed(profile, key: str, node: str, method: str, path: str, body: bytes = b"") -> dict:
    """Headers of a signed request (reference definition: ``simulators/platform/nodeauth.py``)."""
    from simulators.platform.nodeauth import sign

    return sign(profile.envelope, key, node, method, path, body)


def stop_pending(http, base: str, profile, node: str, key: str):
    path = "/api/v1/stoptrade"
    return _get(http, base + path, headers=signed(profile, key, node, "GET", path))


def stop_ack(http, base: str, profile, node: str, key: str, instruction_id: int):
    path = f"/api/v1/stoptrade/{instruction_id}/ack"
    r = http.post(base + path, content=b"", headers=signed(profile, key, node, "POST", path))
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def broadcasts(http, base: str, root: str | None = None):
    return _get(http, f"{base}/api/v1/stoptrade/broadcasts", {"root": root} if root else None)


def day_rows(http, base: str, date: str) -> dict[tuple[str, str, str], list[int]]:
    """Daily statistics as ``(node, record type, goods or "") -> [records, grams, on time]``."""
    status, doc = stats_daily(http, base, date)
    assert status == 200 and isinstance(doc, dict), (
        f"GET /api/v1/stats/daily?date={date} answered {status}: {doc!r:.300}"
    )
    out = {}
    for r in doc["rows"]:
        whole, _, frac = r["weight_kg"].partition(".")
        out[(r["node_id"], r["type"], r["goods_code"] or "")] = [
            r["records"],
            int(whole) * 1000 + int((frac + "000")[:3]),
            r["on_time"],
        ]
    return out


def server_time(http, base: str):
    """The time service (capability ``time_service``): ``GET /api/v1/time``."""
    return _get(http, f"{base}/api/v1/time")


def scale_usage(http, base: str, date: str | None = None, quarter: str | None = None):
    """The scale usage rate (capability ``scale_usage``): ``GET /api/v1/kpis/scales?date=`` or ``?quarter=``."""
    return _get(http, f"{base}/api/v1/kpis/scales", {"date": date} if date else {"quarter": quarter})


def quarter_kpis(http, base: str, quarter: str):
    """Coverage and node usage rates of a quarter (capability ``quarterly_kpis``): ``GET /api/v1/kpis/quarter``."""
    return _get(http, f"{base}/api/v1/kpis/quarter", {"quarter": quarter})


def regulator_get(http, base: str, path: str, params: dict, profile=None, regulator=None):
    """A GET of the regulator's read endpoints, signed as ``regulator`` = ``(id, key)`` when given (they answer a
    registered regulator only: docs/regulator.md; reference definition ``simulators/platform/nodeauth.py``)."""
    if regulator is None:
        return _get(http, base + path, params)
    from simulators.platform.nodeauth import signed_get

    target, headers = signed_get(profile.envelope, regulator[1], regulator[0], path, params)
    return _get(http, base + target, headers=headers)


def regulator_stats(http, base: str, period: str, by: str, profile=None, regulator=None):
    """Regulator statistics (capability ``regulator_statistics``): ``GET /api/v1/regulator/stats?period=&by=``."""
    return regulator_get(http, base, "/api/v1/regulator/stats", {"period": period, "by": by}, profile, regulator)


def district_assessment(http, base: str, period: str, profile=None, regulator=None):
    """District assessment (capability ``district_assessment``): ``GET /api/v1/regulator/districts?period=``."""
    return regulator_get(http, base, "/api/v1/regulator/districts", {"period": period}, profile, regulator)
