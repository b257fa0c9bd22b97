"""Security of the query interfaces: bad parameters are answered 4xx, never 5xx (PLAT-SEC-11).

Each probe is a malformed, out-of-range or overlong parameter of an interface the capability statement declares
(dates, quarters, node ids, trace codes, instruction ids; the issue's examples ``quarter=0000Q1`` and an
acknowledgement of instruction ``99999999999999999999999`` among them).  Every answer must be a 4xx; a 5xx, or a
dropped connection, is a finding.
"""

from __future__ import annotations

import httpx
import pytest

from conformance.queries import DROPPED, _get, signed

PLATFORM = ("city_platform",)
LONG = "9" * 5000

#: (capability needed, path, query parameters)
PROBES = [
    ("statistics", "/api/v1/stats/daily", {"date": "20241340"}),
    ("statistics", "/api/v1/stats/daily", {"date": "00000000"}),
    ("statistics", "/api/v1/stats/daily", {"date": "2024-06-01"}),
    ("statistics", "/api/v1/stats/daily", {"date": LONG}),
    ("statistics", "/api/v1/stats/daily", {}),
    ("statistics", "/api/v1/kpis", {"date": "20240230"}),
    ("statistics", "/api/v1/kpis", {"date": "x" * 5000}),
    ("quarterly_kpis", "/api/v1/kpis/quarter", {"quarter": "0000Q1"}),
    ("quarterly_kpis", "/api/v1/kpis/quarter", {"quarter": "2024Q5"}),
    ("quarterly_kpis", "/api/v1/kpis/quarter", {"quarter": "2024Q0"}),
    ("quarterly_kpis", "/api/v1/kpis/quarter", {"quarter": ""}),
    ("scale_usage", "/api/v1/kpis/scales", {"quarter": "0000Q1"}),
    ("scale_usage", "/api/v1/kpis/scales", {"date": "20241301"}),
    ("scale_usage", "/api/v1/kpis/scales", {"date": "00000000"}),
    ("node_monitoring", f"/api/v1/nodes/{LONG}", {}),
    ("node_monitoring", "/api/v1/nodes/65010x001", {}),
    ("trace_query", f"/api/v1/trace/{LONG}", {}),
    ("trace_query", "/api/v1/trace/-1", {}),
    ("trace_query", "/trace", {"code": LONG}),
    ("trace_query", "/trace", {"code": "65010300200009000001", "lang": "xx"}),
    ("stop_trade_broadcast", "/api/v1/stoptrade/broadcasts", {"root": LONG}),
    ("regulator_statistics", "/api/v1/regulator/stats", {"period": "2025-W53", "by": "district"}),
    ("regulator_statistics", "/api/v1/regulator/stats", {"period": "0000-01", "by": "origin"}),
    ("regulator_statistics", "/api/v1/regulator/stats", {"period": "2025-W11", "by": "nation"}),
    ("regulator_statistics", "/api/v1/regulator/stats", {"period": LONG}),
    ("district_assessment", "/api/v1/regulator/districts", {"period": "20250230"}),
    ("district_assessment", "/api/v1/regulator/districts", {"period": "2025-13"}),
    ("district_assessment", "/api/v1/regulator/districts", {}),
]
#: instruction ids of signed acknowledgements: none exists; too large for 64 bits; negative; not a number
BAD_IDS = ("99999999999999999999999", "-1", "abc", "0")


@pytest.mark.requirement("PLAT-SEC-11")
@pytest.mark.applies(kinds=PLATFORM)
def test_bad_parameters_are_answered_4xx(records, http, platform, profile, capabilities, evidence):
    """Malformed, out-of-range and overlong parameters of every declared query interface, and signed
    acknowledgements of instruction ids that cannot exist, are each answered with a 4xx (never a 5xx or a
    dropped connection)."""
    caps = capabilities.capabilities
    problems, seen = [], []
    for need, path, params in PROBES:
        if not caps.get(need):
            continue
        status, body = _get(http, platform.url + path, params or None)
        seen.append({"path": path[:80], "params": {k: v[:40] for k, v in params.items()}, "status": status})
        if not 400 <= status < 500:
            problems.append(
                f"GET {path[:60]} { ({k: v[:20] for k, v in params.items()}) }: HTTP "
                f"{'dropped' if status == DROPPED else status} {str(body)[:120]!r}"
            )
    if caps.get("stop_trade_broadcast"):
        node = records.node_for("retail_market_in_info_base")
        for iid in BAD_IDS:
            path = f"/api/v1/stoptrade/{iid}/ack"
            try:
                r = http.post(
                    platform.url + path, content=b"", headers=signed(profile, platform.keys[node], node, "POST", path)
                )
                status, text = r.status_code, r.text[:120]
            except httpx.TransportError as exc:  # the server dropped the connection instead of answering
                status, text = DROPPED, f"connection dropped ({type(exc).__name__})"
            seen.append({"path": path, "signed_by": node, "status": status})
            if not 400 <= status < 500:
                problems.append(f"signed POST {path}: HTTP {'dropped' if status == DROPPED else status} {text!r}")
    evidence.attach_json("bad-parameters.json", seen)
    assert seen, "the capability statement declares no query interface to probe"
    assert not problems, f"{len(problems)} of {len(seen)} bad parameters not answered 4xx: " + "; ".join(problems[:8])
