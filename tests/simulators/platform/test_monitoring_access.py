"""The monitoring and statistics reads answer a registered regulator only, within its jurisdiction (regulator_gate.py,
docs/regulator.md): ``/api/v1/nodes``, ``/nodes/{id}``, ``/stats/daily``, ``/stats/totals``, ``/kpis``, ``/kpis/scales``,
``/kpis/quarter`` and ``/stoptrade/broadcasts``.  A real platform on 127.0.0.1; the meat chain puts records in
650103, 650104 and 650109, and its failed wholesale test a stop-trade instruction to 650103002."""

import datetime as dt

import pytest
from platformkit import CST, P, R, S, meat_chain, today, upload_all

from simulators.platform.nodeauth import signed_get
from simulators.platform.reader_auth import RegulatorReads
from simulators.platform.regulators import Regulators

QUARTER = f"{dt.datetime.now(CST).year}Q{(dt.datetime.now(CST).month - 1) // 3 + 1}"
READS = [
    ("/api/v1/nodes", {}, "nodes"),
    (f"/api/v1/nodes/{S}", {}, "state"),
    ("/api/v1/stats/daily", {"date": today()}, "rows"),
    ("/api/v1/stats/totals", {"date": today()}, "by_node"),
    ("/api/v1/kpis", {"date": today()}, "report_rate"),
    ("/api/v1/kpis/scales", {"date": today()}, "overall"),
    ("/api/v1/kpis/quarter", {"quarter": QUARTER}, "composite"),
    ("/api/v1/stoptrade/broadcasts", {}, "instructions"),
]
CITY_WIDE = {"/api/v1/stats/totals", "/api/v1/kpis", "/api/v1/kpis/scales", "/api/v1/kpis/quarter"}


@pytest.fixture
def city(platform):
    chain = meat_chain()
    for _node, rtype, recs in chain["uploads"]:
        if rtype == "qmarket_detection_info":  # a failed test: a stop-trade instruction to the retail market R
            recs[0].update(detection_result="0", result_expl="瘦肉精阳性")
    upload_all(platform, chain)
    reg = Regulators(platform.svc.store, platform.svc.secret, platform.svc.profile)
    platform.district = ("650103", reg.register("650103", "沙依巴克区商务局"))
    platform.other = ("650104", reg.register("650104", "新市区商务局"))  # S and V, no stop-trade instruction
    return platform


def _get(platform, path, params, who=None):
    """GET ``path`` signed as ``who`` = (id, key), or unsigned (``auth=None``: the client's regulator left out)."""
    if who is None:
        return platform.client.get(path, params=params, auth=None)
    target, headers = signed_get(P.envelope, who[1], who[0], path, params)
    return platform.client.get(target, headers=headers, auth=None)


@pytest.mark.parametrize("path,params,member", READS, ids=[r[0] for r in READS])
def test_unsigned_or_a_nodes_key_gets_401_and_no_data_and_the_city_regulator_gets_the_answer(
    city, path, params, member
):
    for who in (None, (S, city.keys[S])):  # unsigned; a node's key, signed correctly: not a regulator
        r = _get(city, path, params, who)
        assert r.status_code == 401 and r.json()["error"]["zh"] and member not in r.json(), (who, r.text[:200])
    bad = {k: "x" for k in params}  # credentials are checked before the parameters
    if bad:
        assert _get(city, path, bad).status_code == 401
    got = [_get(city, path, params, city.regulator) for _ in range(2)]  # the same signature twice: a reload
    assert [r.status_code for r in got] == [200, 200] and member in got[0].json(), got[0].text[:200]


@pytest.mark.parametrize("path,params,member", READS, ids=[r[0] for r in READS])
def test_a_district_regulator_sees_its_district_only(city, path, params, member):
    """650103 sees its own nodes, rows and instructions, 650104 its own (no instruction: R is in 650103); a node of
    650104 is unknown to 650103 (404); the city-wide figures, which cannot be cut to a district, are 403."""
    whole = _get(city, path, params, city.regulator).json()
    r = _get(city, path, params, city.district)
    if path in CITY_WIDE:
        assert r.status_code == 403 and "650103" in r.json()["error"]["zh"] and member not in r.json(), r.text[:200]
        return
    if path.startswith("/api/v1/nodes/"):  # S is in 650104
        assert r.status_code == 404 and whole["node_id"] == S, r.text[:200]
        assert _get(city, f"/api/v1/nodes/{R}", {}, city.district).json()["node_id"] == R
        return
    assert r.status_code == 200, r.text[:200]
    all_rows = whole[member]
    assert all_rows and r.json()[member], (r.text[:200], all_rows)
    cut = False
    for who in (city.district, city.other):
        doc = _get(city, path, params, who).json()
        rows = doc[member]
        assert rows == [x for x in all_rows if str(x["node_id"]).startswith(who[0])], (who[0], rows, all_rows)
        cut = cut or rows != all_rows
        if member == "nodes":
            summary = doc["summary"]
            assert sum(summary[k] for k in ("online", "offline", "never", "disabled")) == len(rows), summary
    assert cut, "the city's answer has no row outside 650103 and 650104: the test would not see a missing cut"


def test_the_client_auth_signs_only_the_reads():
    """RegulatorReads signs a GET of a read that carries no signature; a trace query, a POST and a request the
    caller signed itself pass unchanged."""
    import httpx

    auth = RegulatorReads(P.envelope, "650100", "k" * 32)

    def sent(method, url, headers=None):
        req = httpx.Request(method, url, headers=headers)
        return next(auth.auth_flow(req)).headers

    assert sent("GET", "http://h/api/v1/stats/daily?date=20250101")["x-node-id"] == "650100"
    assert sent("GET", "http://h/api/v1/nodes")["x-node-id"] == "650100"
    assert "x-node-id" not in sent("GET", "http://h/api/v1/nodesx")
    assert "x-node-id" not in sent("GET", "http://h/api/v1/trace/1")
    assert "x-node-id" not in sent("POST", "http://h/api/v1/stats/daily")
    assert sent("GET", "http://h/api/v1/kpis", {"X-Node-Id": "650103002"})["x-node-id"] == "650103002"
