"""Credentials on the regulator's read endpoints (issue 14): statistics, the district assessment, their CSV and the
district report page answer a registered regulator only, and only for its jurisdiction (simulators/platform/
regulator_gate.py).  A real platform on 127.0.0.1; the meat chain puts records in 650103, 650104 and 650109."""

import re

import httpx
import pytest
from platformkit import P, S, W, meat_chain, today, upload_all

from simulators.platform.nodeauth import sign, signed_get
from simulators.platform.regulators import Regulators

STATS, DISTRICTS, PAGE = "/api/v1/regulator/stats", "/api/v1/regulator/districts", "/regulator/districts"
ENDPOINTS = [
    (STATS, {"by": "district"}),
    (STATS, {"by": "district", "format": "csv"}),
    (STATS, {"by": "origin"}),
    (DISTRICTS, {}),
    (PAGE, {}),
]
#: the monitoring and statistics reads (app.py; test_monitoring_access.py)
MONITORING = [
    "/api/v1/nodes",
    "/api/v1/nodes/{node_id}",
    "/api/v1/stats/daily",
    "/api/v1/stats/totals",
    "/api/v1/kpis",
    "/api/v1/kpis/scales",
    "/api/v1/kpis/quarter",
    "/api/v1/stoptrade/broadcasts",
]


@pytest.fixture
def city(platform):
    upload_all(platform, meat_chain())
    reg = Regulators(platform.svc.store, platform.svc.secret, platform.svc.profile)
    # 650100 is the regulator the platform's client signs its monitoring reads as (platformkit): its key, not a new one
    platform.regulators = {"650100": platform.regulator[1], "650103": reg.register("650103", "商务局650103")}
    return platform


def get(platform, who: str, key: str, path: str, **params) -> httpx.Response:
    target, headers = signed_get(P.envelope, key, who, path, {"period": today(), **params})
    return platform.client.get(target, headers=headers)


def districts_in(r: httpx.Response) -> set[str]:
    if r.headers["content-type"].startswith("text/html"):
        return set(re.findall(r"\b(6501[0-9]{2})\b", r.text))
    if r.headers["content-type"].startswith("text/csv"):
        return {line.split(",")[2] for line in r.text.lstrip("\ufeff").splitlines()[1:]}
    doc = r.json()
    if "districts" in doc:
        return {d["code"] for d in doc["districts"]}
    return {g["key"] for g in doc["groups"]} if doc["by"] == "district" else {"?"}


@pytest.mark.parametrize("path,params", ENDPOINTS)
def test_no_credentials_or_a_nodes_key_get_401_and_no_data(city, path, params):
    r = city.client.get(path, params={"period": today(), **params})
    assert r.status_code == 401, (r.status_code, r.text[:200])
    assert r.json()["error"]["zh"] and "650103" not in r.text
    r = get(city, S, city.keys[S], path, **params)  # a node's key, signed correctly: not a regulator
    assert r.status_code == 401, (r.status_code, r.text[:200])
    rid, key = "650100", city.regulators["650100"]
    target, headers = signed_get(P.envelope, key, rid, path, {"period": today(), **params})
    assert city.client.get(target + "&by=operator", headers=headers).status_code == 401  # the query is signed
    headers["X-Verify-Code"] = headers["X-Verify-Code"][::-1]
    assert city.client.get(target, headers=headers).status_code == 401


def seen_by(city, rid: str, path: str, params: dict, district: str | None = None) -> set[str] | None:
    """The districts of ``rid``'s answer (``None`` for the origin table, which has no district); asserts 200."""
    r = get(city, rid, city.regulators[rid], path, district=district, **params)
    assert r.status_code == 200, r.text[:300]
    return None if params.get("by") == "origin" else districts_in(r)


@pytest.mark.parametrize("path,params", ENDPOINTS)
def test_a_district_regulator_sees_its_district_only_and_another_gets_403(city, path, params):
    assert seen_by(city, "650103", path, params) in ({"650103"}, None)
    r = get(city, "650103", city.regulators["650103"], path, district="650104", **params)
    assert r.status_code == 403 and "650104" in r.json()["error"]["zh"], r.text[:200]
    r = get(city, "650103", city.regulators["650103"], path, district="6501", **params)  # wider than its own
    assert r.status_code == 403


@pytest.mark.parametrize("path,params", ENDPOINTS)
def test_the_city_regulator_sees_every_district_and_narrows_by_district(city, path, params):
    want = {"650103", "650104"} if path == STATS else {"650103", "650104", "650109"}
    assert seen_by(city, "650100", path, params) in (want, None)
    assert seen_by(city, "650100", path, params, "650104") in ({"650104"}, None)


def test_statistics_of_a_district_count_only_its_nodes(city):
    """By node type: 650104 holds the slaughterhouse S only; the city's table is 650103's and 650104's together."""
    key = city.regulators["650100"]

    def kg(district=None):
        r = get(city, "650100", key, STATS, by="node_type", district=district)
        return {g["key"]: g["weight_kg"] for g in r.json()["groups"]}

    whole, w, s = kg(), kg("650103"), kg("650104")
    assert S[:6] == "650104" and W[:6] == "650103"
    assert s == {"slaughter_pig": "100.000"}, s
    assert "slaughter_pig" not in w and {**w, **s} == whole, (w, whole)


def test_a_read_sent_again_is_answered_and_a_replayed_write_is_refused(city):
    """A dashboard reloads: the same signed GET twice (the same millisecond, the same signature) is answered both
    times; the replay guard is for writes, so the same signed POST twice is 409 (regulator_gate.py)."""
    key = city.regulators["650100"]
    target, headers = signed_get(P.envelope, key, "650100", DISTRICTS, {"period": today()})
    assert [city.client.get(target, headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    path = f"/api/v1/problems/detect?date={today()}"
    headers = sign(P.envelope, key, "650100", "POST", path)
    assert [city.client.post(path, headers=headers).status_code for _ in range(2)] == [200, 409]


def test_the_report_page_opens_with_the_dashboard_session(city):
    c = httpx.Client(base_url=city.url, timeout=10, follow_redirects=False)
    try:
        assert c.get(PAGE, params={"period": today()}).status_code == 401
        r = c.post("/regulator/login", data={"regulator_id": "650103", "key": city.regulators["650103"]})
        assert r.status_code == 303
        page = c.get(PAGE, params={"period": today()})
        assert page.status_code == 200 and "沙依巴克区" in page.text and "新市区" not in page.text
        assert c.get(PAGE, params={"period": today(), "district": "650104"}).status_code == 403
        # the signed API is not opened by the cookie: its path (/api/v1) is outside the cookie's (/regulator)
        assert c.get(DISTRICTS, params={"period": today()}).status_code == 401
    finally:
        c.close()


def test_problem_actions_keep_their_own_signature_check(city):
    """The POST signature of the problem API is unchanged: a regulator's signed detect still works."""
    path = f"/api/v1/problems/detect?date={today()}"
    key = city.regulators["650100"]
    r = city.client.post(path, headers=sign(P.envelope, key, "650100", "POST", path))
    assert r.status_code == 200, r.text


PROBLEMS = "/api/v1/problems"


def test_the_problem_list_needs_a_regulator_and_stops_at_its_jurisdiction(city):
    """GET /api/v1/problems: unsigned, a node's key, a bad signature 401 (no problem in the answer); a reload 200;
    a district outside the jurisdiction 403; the city regulator sees every district's problems, a district's
    regulator its own only."""
    path = f"/api/v1/problems/detect?date={today()}"
    key = city.regulators["650100"]
    assert city.client.post(path, headers=sign(P.envelope, key, "650100", "POST", path)).status_code == 200

    def listed(rid, rkey, **q):
        target, headers = signed_get(P.envelope, rkey, rid, PROBLEMS, q)
        return city.client.get(target, headers=headers)

    r = city.client.get(PROBLEMS)
    assert r.status_code == 401 and r.json()["error"]["zh"] and "problems" not in r.json(), r.text[:200]
    r = listed(S, city.keys[S])
    assert r.status_code == 401 and "problems" not in r.json(), r.text[:200]
    target, headers = signed_get(P.envelope, key, "650100", PROBLEMS, {"kind": "silent-node"})
    assert city.client.get(target.replace("silent-node", "chain-break"), headers=headers).status_code == 401
    assert [city.client.get(target, headers=headers).status_code for _ in range(2)] == [200, 200]  # a reload
    whole = {p["district"] for p in listed("650100", key).json()["problems"]}
    assert len(whole) >= 2 and "650103" in whole and "650104" in whole, whole
    own = listed("650103", city.regulators["650103"])
    assert own.status_code == 200 and {p["district"] for p in own.json()["problems"]} == whole & {"650103"}
    narrowed = {p["district"] for p in listed("650100", key, district="650104").json()["problems"]}
    assert narrowed == whole & {"650104"}
    r = listed("650103", city.regulators["650103"], district="650104")
    assert r.status_code == 403 and "650104" in r.json()["error"]["zh"] and "problems" not in r.json()
    assert listed("650103", city.regulators["650103"], district="65").status_code == 403  # wider than its own


def test_openapi_lists_the_credentials_of_every_regulator_read(city):
    """Each regulator read endpoint, the problem list and the monitoring and statistics reads included, documents
    the three signature headers and the 401/403 answers, and no 409 (a read may be repeated)."""
    spec = city.client.get("/openapi.json").json()
    for path in (STATS, DISTRICTS, PAGE, PROBLEMS, *MONITORING):
        op = spec["paths"][path]["get"]
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert {"X-Node-Id", "X-Request-Time", "X-Verify-Code"} <= headers, (path, headers)
        assert {"401", "403"} <= set(op["responses"]) and "409" not in op["responses"], (path, op["responses"])
