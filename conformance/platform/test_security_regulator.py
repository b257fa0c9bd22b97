"""The regulator's read endpoints need a regulator's credentials and stop at its jurisdiction (PLAT-SEC-12).

The statistics (capability ``regulator_statistics``: ``GET /api/v1/regulator/stats``, and its CSV), the district
assessment (``district_assessment``: ``GET /api/v1/regulator/districts``) and the problem list
(``problem_discovery``: ``GET /api/v1/problems``, every flagged node with its codes) hold every operator's volumes,
every district's figures and problems.  Unsigned requests and requests signed with a node's key must get 401 and no
data; a replayed signature 409; the regulator (fixture ``regulator``, conftest.py) gets 200 for its own
jurisdiction and 403 for a district outside it (``district=110101``, 北京市东城区, outside any regulator of the
cities the presets model).
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


def _table(body) -> bool:
    """Whether an answer carries the statistics or the assessment (JSON table, or the CSV's header)."""
    if isinstance(body, dict):
        return "groups" in body or "districts" in body or "problems" in body
    return str(body).lstrip("\ufeff").startswith("period,")


@pytest.mark.requirement("PLAT-SEC-12")
@pytest.mark.applies(kinds=PLATFORM)
def test_regulator_endpoints_need_a_regulators_credentials_and_stop_at_its_jurisdiction(
    records, http, platform, profile, capabilities, regulator, evidence
):
    """Each declared endpoint: unsigned 401, signed with a node's key 401 (neither answer carries the data), the
    regulator 200, the same signed request sent again 409, the regulator asking for a district outside its
    jurisdiction 403."""
    day = records.fresh_day().strftime("%Y%m%d")
    probes = _probes(capabilities.capabilities, day)
    if not probes:
        from conformance.notjudgeable import NotJudgeable

        raise NotJudgeable(
            "不适用：能力声明未给出 regulator_statistics / district_assessment / problem_discovery",
            "not applicable: the capability statement declares no regulator_statistics / district_assessment / "
            "problem_discovery",
        )
    node = records.node_for("retail_market_in_info_base")
    seen, wrong = [], []
    for path, params in probes:
        label = f"GET {path} {params.get('format', 'json')}"
        got = {
            "unsigned": _get(http, platform.url + path, params),
            "node key": regulator_get(http, platform.url, path, params, profile, (node, platform.keys[node])),
            "regulator": regulator_get(http, platform.url, path, params, profile, regulator),
            "outside": regulator_get(http, platform.url, path, {**params, "district": OUTSIDE}, profile, regulator),
        }
        target, headers = signed_get(profile.envelope, regulator[1], regulator[0], path, params)  # signed anew
        got["first"] = _get(http, platform.url + target, headers=headers)
        got["replay"] = _get(http, platform.url + target, headers=headers)
        want = {"unsigned": 401, "node key": 401, "regulator": 200, "outside": 403, "first": 200, "replay": 409}
        seen.append({"path": path, "params": params, **{k: s for k, (s, _b) in got.items()}})
        for k, (status, body) in got.items():
            if status != want[k]:
                wrong.append(f"{label} {k}: HTTP {status} (want {want[k]}) {str(body)[:100]!r}")
            elif status != 200 and _table(body):
                wrong.append(f"{label} {k}: the refusal carries the table {str(body)[:100]!r}")
    evidence.attach_json("regulator-access.json", seen)
    assert not wrong, f"{len(wrong)} wrong answer(s): " + "; ".join(wrong[:8])
