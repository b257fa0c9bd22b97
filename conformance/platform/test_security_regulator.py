"""The regulator's read endpoints need a regulator's credentials and stop at its jurisdiction (PLAT-SEC-12).

The statistics (capability ``regulator_statistics``: ``GET /api/v1/regulator/stats``, and its CSV), the district
assessment (``district_assessment``: ``GET /api/v1/regulator/districts``) and the problem list
(``problem_discovery``: ``GET /api/v1/problems``, every flagged node with its codes) hold every operator's volumes,
every district's figures and problems; so do the monitoring and statistics reads (``statistics``: ``GET
/api/v1/stats/daily``, ``/api/v1/kpis``; ``scale_usage``: ``/api/v1/kpis/scales``; ``quarterly_kpis``:
``/api/v1/kpis/quarter``; ``node_monitoring``: ``/api/v1/nodes``; ``stop_trade_broadcast``:
``/api/v1/stoptrade/broadcasts``).  Unsigned requests, requests signed with a node's key and the regulator's id
signed with a wrong key must get 401 and no data; the regulator (fixture ``regulator``, conftest.py) gets 200 for
its own jurisdiction and 403 for a district outside it (``district=110101``, 北京市东城区, outside any regulator of
the cities the presets model).  The same signed read sent again (a reload) is recorded, not judged: the reference
answers it (a replay guard is for writes), a platform that refuses it is stricter, not wrong.  Without a declared
regulator the test is skipped: a platform's reads are then not judged by this requirement.
"""

from __future__ import annotations

import pytest

from conformance.queries import _get, regulator_get
from simulators.platform.nodeauth import signed_get

PLATFORM = ("city_platform",)
OUTSIDE = "110101"


def _probes(caps: dict, period: str) -> list[tuple[str, dict]]:
    out = []
    if caps.get("regulator_statistics"):
        out += [
            ("/api/v1/regulator/stats", {"period": period, "by": "district"}),
            ("/api/v1/regulator/stats", {"period": period, "by": "district", "format": "csv"}),
        ]
    if caps.get("district_assessment"):
        out.append(("/api/v1/regulator/districts", {"period": period}))
    if caps.get("problem_discovery"):
        out.append(("/api/v1/problems", {"from": period, "to": period}))
    return out


def _monitoring(caps: dict, day: str) -> list[tuple[str, dict]]:
    """The monitoring and statistics reads the statement declares (no district parameter: no 403 probe)."""
    out = []
    if caps.get("statistics"):
        out += [("/api/v1/stats/daily", {"date": day}), ("/api/v1/kpis", {"date": day})]
    if caps.get("scale_usage"):
        out.append(("/api/v1/kpis/scales", {"date": day}))
    if caps.get("quarterly_kpis"):
        out.append(("/api/v1/kpis/quarter", {"quarter": f"{day[:4]}Q{(int(day[4:6]) - 1) // 3 + 1}"}))
    if caps.get("node_monitoring"):
        out.append(("/api/v1/nodes", {}))
    if caps.get("stop_trade_broadcast"):
        out.append(("/api/v1/stoptrade/broadcasts", {}))
    return out


#: the members an answer carrying data has (statistics, assessment, problems, rows, KPIs, nodes, instructions)
DATA = ("groups", "districts", "problems", "rows", "report_rate", "overall", "composite", "nodes", "instructions")


def _table(body) -> bool:
    """Whether an answer carries data (a JSON member of :data:`DATA`, or the CSV's header)."""
    if isinstance(body, dict):
        return any(k in body for k in DATA)
    return str(body).lstrip("\ufeff").startswith("period,")


@pytest.mark.requirement("PLAT-SEC-12")
@pytest.mark.applies(kinds=PLATFORM)
def test_regulator_endpoints_need_a_regulators_credentials_and_stop_at_its_jurisdiction(
    records, http, platform, profile, capabilities, regulator, evidence
):
    """Each declared endpoint: unsigned 401, signed with a node's key 401, the regulator's id with a wrong key 401
    (no refusal carries the data), the regulator 200; for the regulator's endpoints, a district outside the
    jurisdiction 403.  The same signed request sent again is recorded (200 or 409), not judged."""
    day = records.fresh_day().strftime("%Y%m%d")
    probes = [(p, q, True) for p, q in _probes(capabilities.capabilities, day)]
    probes += [(p, q, False) for p, q in _monitoring(capabilities.capabilities, day)]
    if not probes:
        from conformance.notjudgeable import NotJudgeable

        raise NotJudgeable(
            "不适用：能力声明未给出监管部门的任何读取接口",
            "not applicable: the capability statement declares none of the regulator's reads",
        )
    node = records.node_for("retail_market_in_info_base")
    wrong_key = (regulator[0], platform.keys[node])
    seen, wrong = [], []
    for path, params, district in probes:
        label = f"GET {path} {params.get('format', 'json')}"
        got = {
            "unsigned": _get(http, platform.url + path, params, auth=None),
            "node key": regulator_get(http, platform.url, path, params, profile, (node, platform.keys[node])),
            "wrong key": regulator_get(http, platform.url, path, params, profile, wrong_key),
            "regulator": regulator_get(http, platform.url, path, params, profile, regulator),
        }
        want = {"unsigned": 401, "node key": 401, "wrong key": 401, "regulator": 200}
        if district:
            got["outside"] = regulator_get(
                http, platform.url, path, {**params, "district": OUTSIDE}, profile, regulator
            )
            want["outside"] = 403
        target, headers = signed_get(profile.envelope, regulator[1], regulator[0], path, params)  # signed anew
        got["first"] = _get(http, platform.url + target, headers=headers)
        want["first"] = 200
        again = _get(http, platform.url + target, headers=headers)  # a reload: recorded, not judged
        seen.append({"path": path, "params": params, "again": again[0], **{k: s for k, (s, _b) in got.items()}})
        for k, (status, body) in got.items():
            if status != want[k]:
                wrong.append(f"{label} {k}: HTTP {status} (want {want[k]}) {str(body)[:100]!r}")
            elif status != 200 and _table(body):
                wrong.append(f"{label} {k}: the refusal carries the data {str(body)[:100]!r}")
    evidence.attach_json("regulator-access.json", seen)
    assert not wrong, f"{len(wrong)} wrong answer(s): " + "; ".join(wrong[:8])
