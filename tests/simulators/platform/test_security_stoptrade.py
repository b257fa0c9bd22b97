"""Issue 13 finding 2: stop-trade only from a node whose role may test (platform.toml [stoptrade] tester_roles,
evidence profile) and only for a batch that node received; otherwise the detection record is rejected with the
profile's reason 2012 and nobody is instructed."""

from platformkit import MEAT, C, R, V, W, meat_chain, rec, upload_all


def _fail_record(node: str, batch: str, **kw) -> dict:
    return rec(
        "qmarket_detection_info",
        node,
        market_id=node,
        batch_id=batch,
        tran_id=batch,
        wholesaler_id=node + "0001",
        detection_result="0",
        result_expl="攻击者自选的理由",
        goods_code=MEAT.code,
        goods_name=MEAT.name_zh,
        **kw,
    )


def _instructions(platform) -> list:
    return platform.client.get("/api/v1/stoptrade/broadcasts").json()["instructions"]


def test_a_canteen_cannot_stop_a_wholesale_batch(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    r, resp = platform.upload(C, "qmarket_detection_info", [_fail_record(C, chain["codes"]["wholesale"])])
    assert r.status_code == 200
    v = resp.results[0]
    assert (v.verdict, v.reason) == ("rejected", "2012"), v
    assert _instructions(platform) == []


def test_a_wholesale_market_cannot_stop_a_batch_it_never_received(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    # V is a wholesale market (may test) but holds no record of the meat-out batch
    r, resp = platform.upload(V, "qmarket_detection_info", [_fail_record(V, chain["codes"]["meat_out"])])
    assert (resp.results[0].verdict, resp.results[0].reason) == ("rejected", "2012"), resp.results[0]
    assert _instructions(platform) == []


def test_the_wholesale_market_that_received_the_batch_still_stops_it(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    r, resp = platform.upload(
        W, "qmarket_detection_info", [_fail_record(W, chain["codes"]["meat_out"], sample_id="S2")]
    )
    assert resp.results[0].verdict == "accepted", resp.results[0]
    got = _instructions(platform)
    assert [(i["node_id"], i["root_code"]) for i in got] == [(R, chain["codes"]["meat_out"])]


def test_a_passing_result_from_any_node_is_stored(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    ok = _fail_record(C, chain["codes"]["wholesale"])
    ok["detection_result"] = "1"
    r, resp = platform.upload(C, "qmarket_detection_info", [ok])
    assert resp.results[0].verdict == "accepted", resp.results[0]
