"""What deployed systems send, over real HTTP (issue 12): every finding answered per record in zh and en,
practice forms accepted and stored in one canonical form with the original kept."""

import datetime as dt
import json

from platformkit import CST, P, R, W, code, feed_summary, rec, today


def _iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


def _summ(seed: int = 0, **over) -> dict:
    return rec(
        "retail_market_tran_info_summ",
        R,
        seed=seed,
        **{"retail_market_id": R, "sale_tran_id": code(R + "0001", 7), **over},
    )


def test_every_finding_of_a_record_is_answered_in_zh_and_en_xml_and_json(platform):
    bad = _summ(seed=3)
    bad.update(weight="1.2345", price="12,5", position_id="摊位八")  # TRAN-REC-04, TRAN-REC-03, TRAN-REC-08
    bad["colour"] = "pink"  # TRAN-REC-01
    good = _summ(seed=4, sale_tran_id=code(R + "0001", 8))
    for n, fmt in enumerate(("xml", "json")):
        r, resp = platform.upload(
            R,
            "retail_market_tran_info_summ",
            [good, bad],
            fmt=fmt,
            request_time=dt.datetime.now(CST).replace(tzinfo=None) + dt.timedelta(seconds=n),
        )
        assert r.status_code == 200 and resp.code == "0000"
        assert "成功" in resp.message and "accepted" in resp.message  # ResultMsg in both languages
        v = resp.results[1]
        assert v.verdict == "rejected" and v.message and v.message_en and v.message != v.message_en
        got = {(f["rule"], f["field"], f["severity"]) for f in v.findings}
        assert got == {
            ("TRAN-REC-04", "weight", "error"),
            ("TRAN-REC-03", "price", "error"),
            ("TRAN-REC-08", "position_id", "warning"),
            ("TRAN-REC-01", "colour", "error"),
        }, got
        assert all(f["zh"] and f["en"] and f["zh"] != f["en"] for f in v.findings)
        expected = {
            (f.rule, f.field, f.severity, f.zh, f.en) for f in P.records.validate("retail_market_tran_info_summ", bad)
        }
        assert {(f["rule"], f["field"], f["severity"], f["zh"], f["en"]) for f in v.findings} == expected
        assert resp.results[0].verdict == ("accepted", "duplicate")[n] and resp.results[0].findings == []
    assert platform.count() == 1


def test_practice_forms_are_accepted_stored_canonically_with_the_original_kept(platform):
    """Ningbo's retail sales row: retail_id / position_code aliases, yyyy-MM-dd, 13.8000, a local vegetable batch id."""
    day = today()
    sent = {
        "retail_id": R,
        "retail_name": "昊嘉农贸市场",
        "in_date": _iso(day),
        "sale_date": _iso(day),
        "retailer_id": R + "0001",
        "retailer_name": "张三",
        "position_code": "1027",
        "vege_batch_id": "1000000000000123",
        "goods_code": "01201001",
        "goods_name": "大白菜",
        "weight": "0.850",
        "price": "13.8000",
        "sale_tran_id": code(R + "0001", 42),
        "electronic_id": "90011000",
        "err": "0",
    }
    r, resp = platform.upload(R, "retail_market_tran_info_summ", [sent])
    v = resp.results[0]
    assert v.verdict == "accepted", v
    assert {(f["rule"], f["severity"]) for f in v.findings} == {("CODE-BATCH-02", "warning")}
    with platform.svc.store.read() as tx:
        body, original, ddate = tx.one("SELECT body, original, data_date FROM records")
    stored, kept = json.loads(body), json.loads(original)
    assert stored["retail_market_id"] == R and "retail_id" not in stored and stored["position_id"] == "1027"
    assert stored["sale_date"] == day and stored["price"] == "13.80" and ddate == day
    assert kept == sent


def test_a_canonical_record_keeps_no_second_copy(platform):
    platform.upload(R, "retail_market_tran_info_summ", [_summ(seed=5)])
    assert platform.count("SELECT COUNT(*) FROM records WHERE original IS NULL") == 1


def test_guangzhou_trade_detail_without_header_fields_and_ownership_still_holds(platform):
    """tb_market_tran_info_detail has no market_id: the record is the node's by its own trace code."""
    day = today()
    mine = {
        "tran_id": code(W + "0001", 11),
        "qua_id": "4401170602001",
        "batch_id": "6501030010000001",
        "goods_code": "21111001",
        "goods_name": "白条猪",
        "weight": "85.500",
        "price": "13.8000",
        "dest": "昊嘉农贸市场",
    }
    theirs = dict(mine, tran_id=code(R + "0001", 12))
    _, resp = platform.upload(W, "market_tran_info_detail", [mine, theirs], data_date=day)
    assert [(x.verdict, x.reason) for x in resp.results] == [("accepted", "0000"), ("rejected", "2008")]
    assert resp.results[1].findings[0]["rule"] == "PLAT-SEC-02" and resp.results[1].message_en
    with platform.svc.store.read() as tx:
        body, upstream = tx.one("SELECT body, upstream FROM records")
    assert json.loads(body)["quarantine_animal_products_id"] == "4401170602001"
    assert upstream == "6501030010000001"  # a 16-digit batch code links upstream (CODE-TRACE-05)


def test_a_dialect_can_stop_chain_linking_from_assuming_batch_id_is_the_upstream_code(tmp_path):
    """CODE-TRACE-05: the reference reads batch_id as the upstream trace/batch code; a dialect saying otherwise
    (records meta batch_link_kinds = []) gets no upstream link from it, and a typed certificate never is one."""
    from profiles import load_profile
    from simulators.platform.recordmap import RecordMap

    (tmp_path / "profile.toml").write_text(
        'name = "nolink"\nextends = "reference"\n[files]\nrecords = "r.toml"\n', "utf-8"
    )
    (tmp_path / "r.toml").write_text("[meta]\nbatch_link_kinds = []\n", "utf-8")
    r = rec("market_in_info_detail", W, batch_id=code(R + "0001", 3), tran_id=None)
    assert RecordMap(P).facts("market_in_info_detail", r, W).received == r["batch_id"]
    assert RecordMap(load_profile(str(tmp_path))).facts("market_in_info_detail", r, W).received is None
    cert = dict(r, batch_id="A44012345678", voucher_type="2")
    facts = RecordMap(P).facts("market_in_info_detail", cert, W)
    assert facts.received is None and ("batch_id", "A44012345678") in facts.links


def test_the_city_feeds_statistics_of_codes_outside_the_table_to_central(platform, tmp_path):
    """A city that accepted Ningbo's pork 21113011 and its placeholder code 0 (warnings) still gets its daily
    statistics into central."""
    import httpx
    from simulators.platform.config import PlatformConfig
    from simulators.platform.feed import FeedPusher
    from simulators.platform.launcher import ThreadedPlatform

    sale = _summ(seed=6, goods_code="21113011", goods_name="猪肉", quarantine_animal_products_id="4401234567")
    unknown = _summ(
        seed=7, goods_code="0", goods_name="未识别", sale_tran_id=code(R + "0001", 9)
    )  # Ningbo's placeholder
    _, resp = platform.upload(R, "retail_market_tran_info_summ", [sale, unknown])
    assert [v.verdict for v in resp.results] == ["accepted", "accepted"]
    cfg = PlatformConfig(db=str(tmp_path / "central.db"), role="central", port=0, log_level="warning")
    with ThreadedPlatform(cfg) as central:
        central.services.registry.register_node("650100", "乌鲁木齐市追溯平台", "city_platform")
        key = central.services.registry.issue_key("650100")
        pusher = FeedPusher(platform.svc.store, P.envelope, central.url, "650100", key, 1.0)
        with httpx.Client(timeout=10) as c:
            assert pusher.push_once(c) > 0
        got = feed_summary(central, today()).json()["cities"]["650100"]
        assert got["records"] == 2


def test_a_failed_test_in_words_stops_trade_like_the_code(platform):
    """Guangzhou stores 不合格 where the profile has 0: canonical on ingest, so the stop-trade broadcast follows."""
    from platformkit import meat_chain, upload_all
    from simulators.platform import nodeauth

    chain = meat_chain()
    for _node, rtype, recs in chain["uploads"]:
        if rtype == "qmarket_detection_info":
            recs[0].update(detection_result="不合格", detection_date=_iso(recs[0]["detection_date"]))
    upload_all(platform, chain)
    h = nodeauth.sign(P.envelope, platform.keys[R], R, "GET", "/api/v1/stoptrade", b"")
    pending = platform.client.get("/api/v1/stoptrade", headers=h).json()["instructions"]
    assert [(i["node_id"], i["batch_code"]) for i in pending] == [(R, chain["codes"]["wholesale"])]


def test_a_guangzhou_trade_detail_counts_for_its_voucher_issuers_scale(platform):
    """PLAT-KPI-01 under Guangzhou's form: tb_market_tran_info_detail carries no wholesaler_id; Guangzhou's voucher
    is the seller's (tran_id = comCode + 7-digit sequence, getTranId), so the detail counts for the scale of the
    operator that issued its tran_id.  A detail that names its wholesaler_id is counted by that field."""
    reg = platform.svc.registry
    wop, other, third = (P.codes.operator_code(W, n) for n in (3, 4, 5))
    for o in (wop, other, third):
        reg.register_operator(o, "经营者")
    for n, o in enumerate((wop, other, third)):
        reg.register_scale(f"SC-W-{n}", W, o, None, "platform")
    day = today()
    gz = {
        "tran_id": code(wop, 21),
        "qua_id": "4401170602001",
        "batch_id": "6501030010000001",
        "goods_code": "21111001",
        "goods_name": "白条猪",
        "weight": "85.500",
        "price": "13.8000",
        "dest": "昊嘉农贸市场",
    }
    _, resp = platform.upload(W, "market_tran_info_detail", [gz], data_date=day)
    assert resp.results[0].verdict == "accepted", resp.results[0]

    def used() -> dict:
        k = platform.client.get("/api/v1/kpis/scales", params={"date": day}).json()
        return {"used": k["overall"]["used"], "scales": k["overall"]["scales"]}

    assert used() == {"used": 1, "scales": 3}
    with platform.svc.store.read() as tx:
        assert tx.all("SELECT operator_id FROM seller_days WHERE node_id = ?", (W,)) == [(wop,)]
    # the reference form names the seller itself: the field counts, not the voucher's issuer
    named = rec("market_tran_info_detail", W, seed=22, market_id=W, wholesaler_id=third, tran_id=code(other, 22))
    platform.upload(W, "market_tran_info_detail", [named])
    with platform.svc.store.read() as tx:
        assert sorted(tx.all("SELECT operator_id FROM seller_days WHERE node_id = ?", (W,))) == sorted(
            [(wop,), (third,)]
        )
    assert used() == {"used": 2, "scales": 3}
