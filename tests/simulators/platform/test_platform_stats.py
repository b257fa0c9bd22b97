"""Statistics equal the stored records; KPIs; node monitoring."""

import json

from platformkit import P, R, S, V, W, code, meat_chain, rec, today, upload_all, veg_chain
from simulators.platform.recordmap import kg_to_g


def test_daily_stats_equal_a_recount_of_stored_records(platform):
    for n in range(1, 4):
        upload_all(platform, meat_chain(n=n))
        upload_all(platform, veg_chain(n=n))
    platform.upload(*meat_chain(n=1)["uploads"][-1])  # duplicates do not count
    rows = platform.client.get("/api/v1/stats/daily", params={"date": today()}).json()["rows"]
    got = {(r["node_id"], r["type"], r["goods_code"]): (r["records"], r["weight_kg"]) for r in rows}
    with platform.svc.store.read() as tx:
        stored = tx.all("SELECT node_id, rtype, goods_code, body FROM records WHERE data_date = ?", (today(),))
    want = {}
    for node, rtype, goods, body in stored:
        k = (node, rtype, goods)
        n, g = want.get(k, (0, 0))
        want[k] = (n + 1, g + (kg_to_g(json.loads(body).get("weight")) or 0 if goods else 0))
    assert got == {k: (n, f"{g // 1000}.{g % 1000:03d}") for k, (n, g) in want.items()}
    assert sum(r["records"] for r in rows) == len(stored) == 3 * 14
    totals = platform.client.get("/api/v1/stats/totals", params={"date": today()}).json()
    assert totals["by_node"][R]["records"] == 3 * 4
    assert totals["by_node_type"]["slaughter_pig"]["records"] == 3 * 4


def test_kpis(platform):
    upload_all(platform, meat_chain())
    k = platform.client.get("/api/v1/kpis", params={"date": today()}).json()
    # 6 registered nodes, 3 reported (slaughterhouse, meat wholesale, farmers' market)
    assert (k["report_rate"]["reporting"], k["report_rate"]["nodes"]) == (3, 6)
    assert k["report_rate"]["by_role"]["canteen"]["rate"] == 0.0
    assert k["timeliness"]["overall"] == 1.0 and k["timeliness"]["records"] == 11
    assert k["completeness"]["by_role"]["slaughterhouse"] == 1.0
    assert k["completeness"]["by_role"]["wholesale"] == 0.75  # no market_tran_info_base
    assert k["completeness"]["by_role"]["retail"] == 1.0
    assert k["chain"] == {"overall": 1.0, "linked": 7, "resolved": 7}  # 4 at W, 3 at R


def test_kpi_chain_counts_unresolved_links(platform):
    chain = meat_chain()
    chain["uploads"] = [u for u in chain["uploads"] if u[0] != S]
    upload_all(platform, chain)
    k = platform.client.get("/api/v1/kpis", params={"date": today()}).json()
    assert k["chain"]["linked"] == 7 and k["chain"]["resolved"] == 3  # W's 4 point at the missing S


def test_node_monitoring_online_offline_never(platform):
    upload_all(platform, veg_chain())
    nodes = {n["node_id"]: n for n in platform.client.get("/api/v1/nodes").json()["nodes"]}
    assert nodes[V]["state"] == "online" and nodes[R]["state"] == "online" and nodes[W]["state"] == "never"
    with platform.svc.store.write() as tx:  # heard from 16 minutes ago
        tx.execute("UPDATE nodes SET last_seen_ms = last_seen_ms - 960000 WHERE node_id = ?", (V,))
    assert platform.client.get(f"/api/v1/nodes/{V}").json()["state"] == "offline"
    platform.svc.registry.set_status(R, "disabled")
    summary = platform.client.get("/api/v1/nodes").json()["summary"]
    assert summary == {"offline_after_s": 900, "online": 0, "offline": 1, "never": 4, "disabled": 1}
    assert platform.client.get("/api/v1/nodes/650199999").status_code == 404


def test_period_bounds_cover_each_day_once():
    import datetime as dt

    from hypothesis import given, strategies as st

    from simulators.platform.stats import PeriodError, period_bounds

    @given(st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31)))
    def check(d):
        q = f"{d.year}Q{(d.month - 1) // 3 + 1}"
        first, last = period_bounds(quarter=q)
        assert first <= d.strftime("%Y%m%d") <= last
        nxt = dt.datetime.strptime(last, "%Y%m%d").date() + dt.timedelta(days=1)
        assert period_bounds(date=nxt.strftime("%Y%m%d"))[0] == nxt.strftime("%Y%m%d")
        assert nxt.month in (1, 4, 7, 10) and nxt.day == 1

    check()
    for bad in (dict(), dict(date="20250230"), dict(quarter="2025Q5"), dict(date="20250101", quarter="2025Q1")):
        try:
            period_bounds(**bad)
        except PeriodError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_scale_usage_counts_scales_whose_operator_sold_at_their_stall(platform):
    reg = platform.svc.registry
    op1, op2, wop = P.codes.operator_code(R, 1), P.codes.operator_code(R, 2), P.codes.operator_code(W, 3)
    for o in (op1, op2, wop):
        reg.register_operator(o, "经营者")
    reg.register_scale("SC-R-A01", R, op1, "A01", "counter")
    reg.register_scale("SC-R-A02", R, op2, "A02", "counter")
    reg.register_scale("SC-R-A03", R, op1, "A03", "counter")  # op1's second stall: no sale there
    reg.register_scale("SC-W-1", W, wop, None, "platform")
    sale = lambda op, stall, seq: rec(
        "retail_market_tran_info_summ",
        R,
        seed=seq,
        retail_market_id=R,
        retailer_id=op,
        position_id=stall,
        sale_tran_id=code(op, seq),
    )
    platform.upload(R, "retail_market_tran_info_summ", [sale(op1, "A01", 1), sale(op1, "A01", 2), sale(op2, "B09", 3)])
    q = f"{today()[:4]}Q{(int(today()[4:6]) - 1) // 3 + 1}"
    for params in ({"date": today()}, {"quarter": q}):
        k = platform.client.get("/api/v1/kpis/scales", params=params).json()
        assert k["overall"] == {"rate": 0.25, "used": 1, "scales": 4}, k
        assert k["by_node"][R] == {"rate": 0.3333, "used": 1, "scales": 3}
        assert k["by_role"]["wholesale"] == {"rate": 0.0, "used": 0, "scales": 1}
    platform.upload(
        W,
        "market_tran_info_detail",
        [rec("market_tran_info_detail", W, seed=4, market_id=W, wholesaler_id=wop, tran_id=code(wop, 4))],
    )
    assert platform.client.get("/api/v1/kpis/scales", params={"date": today()}).json()["overall"]["used"] == 2
    assert platform.client.get("/api/v1/kpis/scales", params={"date": "19990101"}).json()["overall"]["used"] == 0
    r = platform.client.get("/api/v1/kpis/scales", params={"quarter": "2025Q9"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"zh", "en"}


def test_quarter_kpis_usage_coverage_and_composites(platform):
    upload_all(platform, meat_chain())  # today: slaughterhouse, meat wholesale, farmers' market
    q = f"{today()[:4]}Q{(int(today()[4:6]) - 1) // 3 + 1}"
    platform.svc.registry.set_enterprises(q, "farmers_market", 4)
    platform.svc.registry.set_enterprises(q, "slaughter_pig", 1)
    k = platform.client.get("/api/v1/kpis/quarter", params={"quarter": q}).json()
    t = k["by_node_type"]
    assert t["farmers_market"] == {
        "usage": {"rate": 1.0, "uploading": 1, "registered": 1},
        "coverage": {"rate": 0.25, "registered": 1, "enterprises": 4},
    }
    assert t["canteen"]["usage"]["rate"] == 0.0 and t["canteen"]["coverage"]["rate"] is None
    assert k["composite"] == {"usage": 0.5, "coverage": 0.625}  # 3 of 6 types used; (0.25 + 1) / 2
    other = platform.client.get("/api/v1/kpis/quarter", params={"quarter": "1999Q1"}).json()
    assert other["composite"] == {"usage": 0.0, "coverage": None}
    r = platform.client.get("/api/v1/kpis/quarter", params={"quarter": "2025Q0"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"zh", "en"}


def test_set_enterprises_refuses_bad_values(platform):
    from simulators.platform.registry import RegistryError

    for args in (
        ("2025Q5", "farmers_market", 3),
        ("2025Q1", "Farmers", 3),
        ("2025Q1", "farmers_market", 0),
        ("2025Q1", "city_platform", 3),
    ):
        try:
            platform.svc.registry.set_enterprises(*args)
        except RegistryError as exc:
            assert exc.zh and exc.en
            continue
        raise AssertionError(f"accepted {args}")
