"""Problem discovery on the reference platform (issue 14): each detected kind over hand-built records, stable
identity on re-runs, the listing's filters, and who may acknowledge or close a problem."""

import json

import pytest

from platformkit import VEG, P, C, M, R, S, V, W, code, meat_chain, rec, upload_all
from simulators.platform import nodeauth
from simulators.platform.regulators import Regulators, covers

DAY = "20250310"


def regulator(platform, rid="650100"):
    return Regulators(platform.svc.store, platform.svc.secret, platform.svc.profile).register(rid, f"商务局{rid}")


def signed(platform, who, key, path, body=b""):
    h = nodeauth.sign(P.envelope, key, who, "POST", path, body)
    return platform.client.post(path, content=body, headers=h)


def detect(platform, key, day=DAY, who="650100"):
    r = signed(platform, who, key, f"/api/v1/problems/detect?date={day}")
    assert r.status_code == 200, r.text
    return r.json()["new"]


def listed(platform, **q):
    """``GET /api/v1/problems`` signed by a province-level regulator (650000: sees every district of the tests)."""
    if getattr(platform, "reader_key", None) is None:
        platform.reader_key = regulator(platform, "650000")
    target, headers = nodeauth.signed_get(P.envelope, platform.reader_key, "650000", "/api/v1/problems", q)
    return platform.client.get(target, headers=headers)


def problems(platform, **q):
    r = listed(platform, **q)
    assert r.status_code == 200, r.text
    return r.json()["problems"]


def by_kind(platform, kind):
    return [p for p in problems(platform) if p["kind"] == kind]


def upload_dated(platform, chain: dict, day: str) -> None:
    """``upload_all`` with the envelopes' DataDate = ``day`` (the date of records whose type has no date field)."""
    for node, rtype, recs in chain["uploads"]:
        _r, resp = platform.upload(node, rtype, recs, data_date=day)
        assert [x.verdict for x in resp.results] == ["accepted"] * len(recs), (rtype, resp.results)


def test_a_clean_chain_is_not_flagged_and_nodes_without_records_are_silent(platform):
    key = regulator(platform)
    upload_dated(platform, meat_chain(DAY), DAY)
    new = detect(platform, key)
    assert new == {
        "chain-break": 0,
        "stock-imbalance": 0,
        "silent-node": 3,
        "silent-scale": 0,
        "duplicate-trace-code": 0,
        "price-outlier": 0,
        "late-upload": 0,
        "trade-after-stop": 0,
        "certificate-overuse": 0,
    }
    silent = {p["subject"] for p in by_kind(platform, "silent-node")}
    assert silent == {V, M, C}  # the three registered nodes that sent nothing that day
    p = by_kind(platform, "silent-node")[0]
    assert p["district"] == p["node_id"][:6] and p["state"] == "open" and p["data_date"] == DAY
    assert detect(platform, key) == {k: 0 for k in new}  # re-running adds nothing


def test_chain_break_names_the_records_and_the_unissued_code(platform):
    key = regulator(platform)
    chain = meat_chain(DAY)
    ghost = code(W + "0001", 9999)  # a wholesale code no record issued
    for node, rtype, recs in chain["uploads"]:
        if rtype.startswith("retail_market_in_info"):
            recs[0].update(tran_id=ghost, batch_id=ghost)
    upload_all(platform, chain)
    detect(platform, key)
    [p] = by_kind(platform, "chain-break")
    assert p["subject"] == f"{R}:{ghost}" and p["codes"] == [ghost] and p["node_id"] == R
    with platform.svc.store.read() as tx:
        types = {
            t
            for (t,) in tx.all(
                f"SELECT rtype FROM records WHERE id IN ({','.join('?' * len(p['records']))})", p["records"]
            )
        }
    assert types == {"retail_market_in_info_base"}  # the detail carries no date: its business day is the upload's


def test_stock_imbalance_when_a_batch_sells_more_than_it_took_in(platform):
    key = regulator(platform)
    chain = meat_chain(DAY)
    for node, rtype, recs in chain["uploads"]:
        if rtype == "retail_market_tran_info_summ":
            recs[0].update(weight="45.000")  # 40 kg in (tolerance 5% + 0.5 kg = 42.5)
    upload_all(platform, chain)
    detect(platform, key)
    [p] = by_kind(platform, "stock-imbalance")
    assert p["subject"] == f"{R}:{chain['codes']['wholesale']}"
    assert p["detail"]["received_kg"] == 40.0 and p["detail"]["sold_kg"] == 45.0 and len(p["records"]) == 2


def test_stock_within_tolerance_is_not_flagged(platform):
    key = regulator(platform)
    chain = meat_chain(DAY)
    for node, rtype, recs in chain["uploads"]:
        if rtype == "retail_market_tran_info_summ":
            recs[0].update(weight="42.000")
    upload_all(platform, chain)
    detect(platform, key)
    assert by_kind(platform, "stock-imbalance") == []


def _meat_out(chain, heads: str, kg: str):
    for node, rtype, recs in chain["uploads"]:
        if rtype == "animal_in_info":
            recs[0].update(quarantine_num=heads)
        if rtype == "meat_out_info_detail":
            recs[0].update(weight=kg)


def _upload_on_day(platform, chain):
    """Like upload_all, with the envelope's DataDate = DAY (meat_out_info_detail carries no date of its own)."""
    for node, rtype, recs in chain["uploads"]:
        r, resp = platform.upload(node, rtype, recs, data_date=DAY)
        assert [x.verdict for x in resp.results] == ["accepted"] * len(recs), (rtype, resp.results)


def _overuse_flags(platform, chain):
    key = regulator(platform)
    _upload_on_day(platform, chain)
    detect(platform, key)
    return by_kind(platform, "certificate-overuse")


def test_certificate_overuse_when_meat_out_outgrows_the_certified_heads(platform):
    key = regulator(platform)
    chain = meat_chain(DAY)
    _meat_out(chain, "1", "150.000")  # 1 pig: at most 130 kg × 1.1 = 143 kg
    _upload_on_day(platform, chain)
    assert detect(platform, key)["certificate-overuse"] == 1
    [p] = by_kind(platform, "certificate-overuse")
    assert p["subject"] == f"{S}:AQ00000001" and p["node_id"] == S and p["district"] == S[:6]
    assert p["data_date"] == DAY and p["codes"] == ["AQ00000001"] and len(p["records"]) == 3
    assert p["detail"]["heads"] == 1 and p["detail"]["out_kg"] == 150.0 and p["detail"]["max_kg_per_head"] == 130.0
    assert detect(platform, key)["certificate-overuse"] == 0  # re-running adds nothing


@pytest.mark.parametrize("heads, kg", [("1", "143.000"), ("2", "200.000")])
def test_meat_within_what_the_heads_yield_is_not_overuse(platform, heads, kg):
    chain = meat_chain(DAY)
    _meat_out(chain, heads, kg)
    assert _overuse_flags(platform, chain) == []


def test_a_product_certificate_of_two_intakes_is_not_counted_against_either(platform):
    chain = meat_chain(DAY)
    _meat_out(chain, "1", "150.000")
    for node, rtype, recs in chain["uploads"]:
        if rtype == "animal_in_info":
            recs.append({**recs[0], "quarantine_id": "AQ00000002"})
        if rtype == "quarantine_info":
            recs.append({**recs[0], "quarantine_id": "AQ00000002", "sample_id": "S2"})
    assert _overuse_flags(platform, chain) == []


def test_meat_under_a_shared_product_certificate_is_left_out_of_the_sum(platform):
    chain = meat_chain(DAY)
    _meat_out(chain, "1", "100.000")  # 100 kg under QA1 (AQ1 only) + 100 kg under QA2 (AQ1 and AQ2)
    for node, rtype, recs in chain["uploads"]:
        if rtype == "animal_in_info":
            recs.append({**recs[0], "quarantine_id": "AQ00000002"})
        if rtype == "quarantine_info":
            recs += [
                {**recs[0], "quarantine_animal_products_id": "QA00000002", "inspection_meat_id": "IM2"},
                {
                    **recs[0],
                    "quarantine_id": "AQ00000002",
                    "quarantine_animal_products_id": "QA00000002",
                    "inspection_meat_id": "IM2",
                },
            ]
        if rtype == "meat_out_info_detail":
            recs.append({**recs[0], "quarantine_animal_products_id": "QA00000002", "inspection_meat_id": "IM2"})
    assert _overuse_flags(platform, chain) == []


def _sales(n, price=lambda i: "30.00", seller=lambda i: R + "0001", sale=lambda i: code(R + "0001", 100 + i)):
    g = dict(goods_code=VEG.code, goods_name=VEG.name_zh)
    return [
        rec(
            "retail_market_tran_info_summ",
            R,
            DAY,
            retail_market_id=R,
            retailer_id=seller(i),
            position_id=f"A{i}",
            batch_id=code(W + "0001", 1),
            tran_id=None,
            sale_tran_id=sale(i),
            weight="1.000",
            price=price(i),
            quarantine_animal_products_id=None,
            **g,
        )
        for i in range(n)
    ]


def test_price_outlier_against_the_citys_median_of_the_commodity(platform):
    key = regulator(platform)
    platform.upload(R, "retail_market_tran_info_summ", _sales(6, price=lambda i: "300.00" if i == 4 else "30.00"))
    detect(platform, key)
    [p] = by_kind(platform, "price-outlier")
    assert p["codes"] == [code(R + "0001", 104)] and p["detail"]["median"] == 30.0 and p["detail"]["price"] == 300.0


def test_too_few_prices_are_not_judged(platform):
    key = regulator(platform)
    platform.upload(R, "retail_market_tran_info_summ", _sales(4, price=lambda i: "300.00" if i == 3 else "30.00"))
    detect(platform, key)
    assert by_kind(platform, "price-outlier") == []


def test_one_trace_code_issued_for_two_operators_is_a_duplicate(platform):
    key = regulator(platform)
    same = code(R + "0001", 500)
    platform.upload(
        R, "retail_market_tran_info_summ", _sales(2, seller=lambda i: R + f"000{i + 1}", sale=lambda i: same)
    )
    detect(platform, key)
    [p] = by_kind(platform, "duplicate-trace-code")
    assert p["subject"] == same and len(p["records"]) == 2 and len(p["detail"]["issuers"]) == 2


def test_listing_filters_by_district_kind_state_and_days(platform):
    key = regulator(platform)
    upload_dated(platform, meat_chain(DAY), DAY)
    detect(platform, key)
    detect(platform, key, "20250311")
    assert {p["node_id"] for p in problems(platform, district=V[:6])} == {V, S}  # 650104: 头屯河区 nodes
    assert {p["node_id"][:4] for p in problems(platform, district="6501")} == {"6501"}
    assert all(p["data_date"] == "20250311" for p in problems(platform, **{"from": "20250311"}))
    assert len(problems(platform, to=DAY)) == 3 and problems(platform, kind="price-outlier") == []
    page = listed(platform, limit=2).json()
    assert len(page["problems"]) == 2 and page["next_cursor"] == str(page["problems"][-1]["id"])
    assert listed(platform, **{"from": "20251399"}).status_code == 400


def test_only_a_regulator_of_the_district_moves_a_problem_and_closing_needs_a_note(platform):
    city, district_other = regulator(platform), regulator(platform, "650102")
    upload_dated(platform, meat_chain(DAY), DAY)
    detect(platform, city)
    pid = next(p["id"] for p in problems(platform) if p["node_id"] == V)
    path = f"/api/v1/problems/{pid}"
    # no signature, a node's own key, a wrong key: refused, nothing changes
    assert platform.client.post(f"{path}/ack").status_code == 401
    assert signed(platform, V, platform.keys[V], f"{path}/ack").status_code == 401
    assert signed(platform, V, platform.keys[V], f"/api/v1/problems/detect?date={DAY}").status_code == 401
    assert signed(platform, "650100", platform.keys[V], f"{path}/close", b'{"note": "x"}').status_code == 401
    assert signed(platform, "650102", district_other, f"{path}/ack").status_code == 403  # 天山区 ≠ 头屯河区
    assert problems(platform, state="open")[0]["state"] == "open"
    r = signed(platform, "650100", city, f"{path}/ack")
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["acked_by"] == "650100"
    assert signed(platform, "650100", city, f"{path}/close", b'{"note": " "}').status_code == 400
    assert signed(platform, "650100", city, f"{path}/close", b"not json").status_code == 400
    r = signed(platform, "650100", city, f"{path}/close", json.dumps({"note": "已电话核实，节点停业装修"}).encode())
    assert r.status_code == 200 and r.json()["state"] == "closed" and r.json()["note"] == "已电话核实，节点停业装修"
    assert signed(platform, "650100", city, f"{path}/close", b'{"note": "again"}').status_code == 409
    assert signed(platform, "650100", city, "/api/v1/problems/999999/ack").status_code == 404
    detect(platform, city)  # re-detection keeps the closed state
    assert next(p for p in problems(platform) if p["id"] == pid)["state"] == "closed"


@pytest.mark.parametrize(
    "rid, district, yes",
    [
        ("650100", "650104", True),
        ("650104", "650104", True),
        ("650102", "650104", False),
        ("650000", "650121", True),
        ("650100", "650204", False),
    ],
)
def test_jurisdiction(rid, district, yes):
    assert covers(rid, district) is yes


def test_register_regulator_refuses_a_non_region(platform):
    from simulators.platform.registry import RegistryError

    with pytest.raises(RegistryError):
        regulator(platform, "659999")


@pytest.mark.pg
def test_detection_and_actions_on_postgresql(tmp_path):
    """The same detector and states on PostgreSQL (ROUCAI_PG_URL): a chain break and a duplicate code flagged once,
    re-detection adds nothing, the regulator closes one."""
    import os
    from test_platform_storage import PG_URL, _pg_store

    if not PG_URL:
        pytest.skip("set ROUCAI_PG_URL to run the PostgreSQL tests")
    _pg_store().close()
    from platformkit import NODES, Platform
    from simulators.platform.config import PlatformConfig
    from simulators.platform.launcher import ThreadedPlatform

    assert os.environ.get("ROUCAI_PG_URL") == PG_URL
    cfg = PlatformConfig(db=PG_URL, secret_file=str(tmp_path / "s"), port=0, log_level="warning")
    with ThreadedPlatform(cfg) as tp:
        p = Platform(tp)
        p.register(*NODES)
        key = regulator(p)
        chain = meat_chain(DAY)
        ghost = code(W + "0001", 9999)
        for node, rtype, recs in chain["uploads"]:
            if rtype.startswith("retail_market_in_info"):
                recs[0].update(tran_id=ghost, batch_id=ghost)
        upload_all(p, chain)
        same = code(R + "0001", 500)
        p.upload(R, "retail_market_tran_info_summ", _sales(2, seller=lambda i: R + f"000{i + 1}", sale=lambda i: same))
        new = detect(p, key)
        assert new["chain-break"] == 1 and new["duplicate-trace-code"] == 1 and new["silent-node"] == 3
        assert detect(p, key) == {k: 0 for k in new}
        [cb] = by_kind(p, "chain-break")
        assert cb["subject"] == f"{R}:{ghost}" and problems(p, district=R[:6], kind="chain-break")[0]["id"] == cb["id"]
        r = signed(p, "650100", key, f"/api/v1/problems/{cb['id']}/close", b'{"note": "pg"}')
        assert r.status_code == 200 and r.json()["state"] == "closed"
        p.client.close()


def test_a_registered_scale_without_sales_on_a_reporting_day_is_silent(platform):
    key = regulator(platform)
    reg = platform.svc.registry
    for sid, op, stall in (
        ("SC-A1", R + "0001", "A1"),
        ("SC-A2", R + "0002", "A2"),
        ("SC-W", W + "0001", ""),
        ("SC-M", M + "0001", ""),
    ):
        if op[:9] == M:
            reg.register_operator(op, "超市柜台")
        with platform.svc.store.write() as tx:
            tx.execute(
                "INSERT INTO scales (scale_id, node_id, operator_id, stall, registered_ms) VALUES (?, ?, ?, ?, 0)",
                (sid, op[:9], op, stall),
            )
    platform.upload(
        R, "retail_market_tran_info_summ", _sales(1, seller=lambda i: R + "0001", sale=lambda i: code(R + "0001", 700))
    )
    with platform.svc.store.write() as tx:  # the sale was made at stall A1 (position_id A0 in _sales)
        tx.execute("UPDATE seller_days SET stall = 'A1' WHERE operator_id = ?", (R + "0001",))
    upload_dated(platform, meat_chain(DAY), DAY)  # the wholesale market trades under W0001; the supermarket is silent
    detect(platform, key)
    got = {p["subject"]: p for p in by_kind(platform, "silent-scale")}
    assert set(got) == {"SC-A2"}  # A1 sold, W's gate scale sold, M's node sent nothing (and is a supermarket)
    assert got["SC-A2"]["node_id"] == R and got["SC-A2"]["detail"]["stall"] == "A2" and got["SC-A2"]["records"]


def _failed_meat_chain(day: str, n: int = 1) -> dict:
    """The meat chain of ``day`` whose wholesale test fails: R, which entered the traded code, is instructed."""
    chain = meat_chain(day, n)
    for _node, rtype, recs in chain["uploads"]:
        if rtype == "qmarket_detection_info":
            recs[0].update(detection_result="0", result_expl="瘦肉精阳性")
    return chain


def _sale_at_r(chain: dict, day: str, seq: int, **fields) -> list[dict]:
    """Another sale summary of R of ``day`` from the chain's traded code (``fields`` override)."""
    [tmpl] = [recs[0] for _n, t, recs in chain["uploads"] if t == "retail_market_tran_info_summ"]
    return [{**tmpl, "sale_date": day, "sale_tran_id": code(R + "0001", seq), "weight": "1.500", **fields}]


def test_sales_of_a_stopped_code_on_a_later_day_are_trade_after_stop(platform):
    key = regulator(platform)
    chain = _failed_meat_chain(DAY)
    upload_all(platform, chain)
    traded = chain["codes"]["wholesale"]
    later = "20250311"
    r, resp = platform.upload(R, "retail_market_tran_info_summ", _sale_at_r(chain, later, 50), data_date=later)
    assert [x.verdict for x in resp.results] == ["accepted"], resp.results
    assert detect(platform, key, DAY)["trade-after-stop"] == 0  # the test's own day: its sales may precede it
    assert detect(platform, key, later)["trade-after-stop"] == 1
    [p] = by_kind(platform, "trade-after-stop")
    assert p["subject"] == f"{R}:{traded}" and p["data_date"] == later and p["node_id"] == R
    assert p["codes"] == [traded] and p["detail"]["test_day"] == DAY and p["detail"]["sales"] == 1
    assert p["detail"]["sold_kg"] == 1.5 and len(p["records"]) == 2  # the failed test and the later sale
    r, resp = platform.upload(
        R, "retail_market_tran_info_summ", _sale_at_r(chain, "20250312", 51), data_date="20250312"
    )
    assert detect(platform, key, "20250312")["trade-after-stop"] == 0  # the same problem: its first day stays
    assert [x["data_date"] for x in by_kind(platform, "trade-after-stop")] == [later]


def test_no_trade_after_stop_without_a_stop_or_for_other_codes(platform):
    key = regulator(platform)
    clean = meat_chain(DAY, 2)  # a passed test: no instruction
    upload_all(platform, clean)
    stopped = _failed_meat_chain(DAY, 3)
    upload_all(platform, stopped)
    later = "20250311"
    other = _sale_at_r(clean, later, 60)  # a later sale of the passed batch
    r, resp = platform.upload(R, "retail_market_tran_info_summ", other, data_date=later)
    assert [x.verdict for x in resp.results] == ["accepted"], resp.results
    assert detect(platform, key, later)["trade-after-stop"] == 0
    assert by_kind(platform, "trade-after-stop") == []


def _sale(day: str, seq: int) -> list[dict]:
    return [rec("retail_market_tran_info_summ", R, day, seed=seq, sale_tran_id=code(R + "0001", seq))]


def _send(platform, day: str, seq: int) -> None:
    r, resp = platform.upload(R, "retail_market_tran_info_summ", _sale(day, seq), data_date=day)
    assert [x.verdict for x in resp.results] == ["accepted"], resp.results


def test_a_record_arriving_after_the_nodes_records_two_days_later_is_a_late_upload(platform):
    """Judged by arrival order and business dates, never by the receive time: everything here is sent now, days
    after its business day, yet only the record that came after R's records of DAY+2 is late."""
    key = regulator(platform)
    _send(platform, DAY, 1)  # on time by its order
    _send(platform, "20250311", 2)  # D+1: not yet a proof of lateness
    _send(platform, DAY, 3)
    assert detect(platform, key, DAY)["late-upload"] == 0
    _send(platform, "20250312", 4)  # D+2 arrives: the node's clock is a full day past DAY's deadline
    _send(platform, DAY, 5)  # late
    _send(platform, "20250311", 6)  # D+1 after D+3? no: only after D+2 of 20250310 - for 20250311 D+2 is 20250313
    assert detect(platform, key, DAY)["late-upload"] == 1
    assert detect(platform, key, "20250311")["late-upload"] == 0
    [p] = by_kind(platform, "late-upload")
    late_id = platform.count("SELECT MAX(id) FROM records WHERE node_id = ? AND data_date = ?", (R, DAY))
    assert p["subject"] == R and p["data_date"] == DAY and p["records"] == [late_id]
    assert p["detail"]["late_records"] == 1 and p["detail"]["after_day"] == "20250312"
    assert detect(platform, key, DAY)["late-upload"] == 0  # re-running adds nothing


def test_a_date_beyond_max_days_is_no_evidence_of_lateness(platform):
    """A record dated a month later (a mistyped date, or the live day before a backfill of old data) arriving first
    does not make the node's records of DAY late: only D+2 … D+max_days count (problems.toml)."""
    key = regulator(platform)
    _send(platform, "20250410", 7)
    _send(platform, DAY, 8)
    assert detect(platform, key, DAY)["late-upload"] == 0
    _send(platform, "20250317", 9)  # D+7: within the window
    _send(platform, DAY, 10)
    assert detect(platform, key, DAY)["late-upload"] == 1
    [p] = by_kind(platform, "late-upload")
    assert p["detail"]["after_day"] == "20250317" and p["detail"]["late_records"] == 1
