"""Statistics and KPIs equal the truth: the simulated day's records, and days whose truth the test makes."""
from __future__ import annotations

import datetime as _dt

import pytest

from conformance.platform.conftest import cite_day_upload
from conformance.queries import day_rows, kpis, nodes
from conformance.simday import grams
from conformance.testrecords import role_of

PLATFORM = ("city_platform",)
CST = _dt.timezone(_dt.timedelta(hours=8))


@pytest.mark.requirement("PLAT-KPI-04")
@pytest.mark.applies(kinds=PLATFORM, needs=("statistics",))
def test_daily_statistics_and_timeliness_equal_the_truth(day_upload, records, uploader, http, platform, evidence):
    """Per node, record type and commodity, the records and kilograms of the simulated day equal the
    records the day produced (each once, however often uploaded); all of them arrived long after their
    deadline (timeliness 0), while records of today sent now are all on time."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    truth = day.expected_stats()
    got = day_rows(http, platform.url, day.date)
    diff = {}
    for k in sorted(set(truth) | set(got)):
        t = truth.get(k, [0, 0])
        g = got.get(k, [0, 0, 0])
        if [g[0], g[1]] != t:
            diff["/".join(k)] = {"truth": {"records": t[0], "grams": t[1]}, "platform": {"records": g[0], "grams": g[1]}}
    late = {"/".join(k): v[2] for k, v in got.items() if v[2]}
    evidence.attach_json("statistics-diff.json", diff)
    assert not diff, (f"{len(diff)} statistics cells differ from the records of the day (each record counts once, "
                      f"weight = sum of its weight field), e.g. {dict(list(diff.items())[:3])}")
    assert not late, f"records of {day.date} uploaded now are past their deadline, yet counted on time: {late}"

    today = _dt.datetime.now(CST).date()
    rtype = "retail_market_tran_info_summ"
    node = records.node_for(rtype)
    recs = [records.make(rtype, today) for _ in range(3)]
    date = today.strftime("%Y%m%d")
    before = {k: v for k, v in day_rows(http, platform.url, date).items() if k[0] == node and k[1] == rtype}
    a = uploader.upload(node, rtype, recs, header={"DataDate": date})
    assert a.verdicts == ["accepted"] * 3, f"today's records were not accepted: {a}"
    after = {k: v for k, v in day_rows(http, platform.url, date).items() if k[0] == node and k[1] == rtype}
    added = [sum(v[i] for v in after.values()) - sum(v[i] for v in before.values()) for i in range(3)]
    want = [3, sum(grams(r["weight"]) for r in recs), 3]
    assert added == want, (f"after 3 records of today sent now, the platform added (records, grams, on time) "
                           f"{tuple(added)}; the truth is {tuple(want)}")
    evidence.note("平台未发布金额统计：本测试未核对金额", "the platform publishes no amount statistics: amounts not checked")


@pytest.mark.requirement("PLAT-KPI-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("statistics",))
def test_reporting_rate_equals_the_truth(city, records, uploader, http, platform, evidence):
    """On a day when exactly two registered nodes (a slaughterhouse and a retail market) upload, the
    reporting rate is 2 ÷ registered active nodes, overall and per node type."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    senders = {}
    for rtype in ("animal_in_info", "retail_market_in_info_base"):
        node = records.node_for(rtype)
        a = uploader.upload(node, rtype, [records.make(rtype, d)], header={"DataDate": date})
        assert a.verdicts == ["accepted"], f"{rtype} from {node} not accepted: {a}"
        senders[node] = rtype
    status, listing = nodes(http, platform.url)
    if status == 200 and isinstance(listing, dict):
        registered = {n["node_id"]: n["node_type"] for n in listing["nodes"]
                      if n.get("state") != "disabled" and n["node_type"] != "city_platform"}
    else:
        registered = {n.code: n.type for n in city.nodes}
        evidence.note("节点清单不可用，按城市夹具计数", "no node listing: registered nodes counted from the city fixture")
    status, k = kpis(http, platform.url, date)
    assert status == 200 and isinstance(k, dict), f"GET /api/v1/kpis?date={date}: HTTP {status} {k!r:.300}"
    rr = k["report_rate"]
    want = round(len(senders) / len(registered), 4)
    evidence.attach_json("report-rate.json", {"senders": senders, "registered": registered, "platform": rr})
    assert (rr["reporting"], rr["nodes"]) == (len(senders), len(registered)) and abs(rr["overall"] - want) < 1e-4, (
        f"reporting rate on {date}: platform says {rr['reporting']}/{rr['nodes']} = {rr['overall']}, truth "
        f"{len(senders)}/{len(registered)} = {want} (nodes that uploaded ÷ registered nodes)")
    by_role = rr.get("by_role", {})
    wrong = []
    for role in sorted({role_of(t) for t in registered.values()}):
        members = [n for n, t in registered.items() if role_of(t) == role]
        rep = sum(1 for n in members if n in senders)
        got = by_role.get(role)
        if got is None:
            wrong.append(f"{role}: missing")
        elif (got["reporting"], got["nodes"]) != (rep, len(members)):
            wrong.append(f"{role}: {got['reporting']}/{got['nodes']} != {rep}/{len(members)}")
    assert not wrong, "per node type the reporting rate differs from the truth: " + "; ".join(wrong)
