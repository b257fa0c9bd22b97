"""Stop-trade broadcast: a failed wholesale test reaches every downstream holder; fetch and acknowledge."""

from platformkit import MEAT, P, R, W, M, code, meat_chain, rec, upload_all
from simulators.platform import nodeauth


def signed(platform, node, method, path, body=b""):
    h = nodeauth.sign(P.envelope, platform.keys[node], node, method, path, body)
    return platform.client.request(method, path, content=body, headers=h)


def _fail(chain):
    for node, rtype, recs in chain["uploads"]:
        if rtype == "qmarket_detection_info":
            recs[0].update(detection_result="0", result_expl="瘦肉精阳性")
    return chain


def test_failed_test_instructs_downstream_holders_who_fetch_and_ack(platform):
    chain = _fail(meat_chain())
    upload_all(platform, chain)
    pending = signed(platform, R, "GET", "/api/v1/stoptrade").json()["instructions"]
    assert [(i["node_id"], i["batch_code"], i["root_code"]) for i in pending] == [
        (R, chain["codes"]["wholesale"], chain["codes"]["meat_out"])
    ]
    assert "不合格" in pending[0]["reason"] and pending[0]["goods_code"] == MEAT.code
    # the testing wholesale market is not "downstream"; nodes without the batch get nothing
    assert signed(platform, W, "GET", "/api/v1/stoptrade").json()["instructions"] == []
    assert signed(platform, M, "GET", "/api/v1/stoptrade").json()["instructions"] == []
    iid = pending[0]["id"]
    assert signed(platform, R, "POST", f"/api/v1/stoptrade/{iid}/ack").json()["result"] == "acked"
    assert signed(platform, R, "POST", f"/api/v1/stoptrade/{iid}/ack").json()["result"] == "already"
    assert signed(platform, M, "POST", f"/api/v1/stoptrade/{iid}/ack").status_code == 404  # not M's instruction
    assert signed(platform, R, "GET", "/api/v1/stoptrade").json()["instructions"] == []
    listing = platform.client.get("/api/v1/stoptrade/broadcasts").json()
    assert listing["pending"] == 0 and listing["instructions"][0]["acked_ms"] is not None


def test_holder_whose_entry_arrives_after_the_test_is_instructed_too(platform):
    chain = _fail(meat_chain())
    late = [u for u in chain["uploads"] if u[0] == R]
    chain["uploads"] = [u for u in chain["uploads"] if u[0] != R]
    upload_all(platform, chain)
    assert signed(platform, R, "GET", "/api/v1/stoptrade").json()["instructions"] == []
    # a second trade line of the stopped batch to the supermarket, uploaded after the test
    t = code(W + "0001", 50)
    upload_all(
        platform,
        {
            "uploads": [
                (
                    W,
                    "market_tran_info_detail",
                    [
                        rec(
                            "market_tran_info_detail",
                            W,
                            market_id=W,
                            wholesaler_id=W + "0001",
                            tran_id=t,
                            batch_id=chain["codes"]["meat_out"],
                            goods_code=MEAT.code,
                        )
                    ],
                ),
                (
                    M,
                    "super_market_in_info_base",
                    [rec("super_market_in_info_base", M, supermarket_id=M, tran_id=t, batch_id=t)],
                ),
            ]
            + late
        },
    )
    assert len(signed(platform, R, "GET", "/api/v1/stoptrade").json()["instructions"]) == 1
    got = signed(platform, M, "GET", "/api/v1/stoptrade").json()["instructions"]
    assert [(i["batch_code"], i["root_code"]) for i in got] == [(t, chain["codes"]["meat_out"])]


def test_passing_test_stops_nothing(platform):
    upload_all(platform, meat_chain())
    assert platform.client.get("/api/v1/stoptrade/broadcasts").json()["instructions"] == []


def test_fetch_requires_a_valid_signature_and_refuses_replays(platform):
    assert platform.client.get("/api/v1/stoptrade").status_code == 401
    h = nodeauth.sign(P.envelope, "wrong-key", R, "GET", "/api/v1/stoptrade")
    assert platform.client.get("/api/v1/stoptrade", headers=h).status_code == 401
    h = nodeauth.sign(P.envelope, platform.keys[R], R, "GET", "/api/v1/stoptrade")
    assert platform.client.get("/api/v1/stoptrade", headers=h).status_code == 200
    assert platform.client.get("/api/v1/stoptrade", headers=h).status_code == 409
    # a signature for one path does not open another
    h = nodeauth.sign(P.envelope, platform.keys[R], R, "GET", "/api/v1/stoptrade")
    assert platform.client.post("/api/v1/stoptrade/1/ack", headers=h).status_code == 401


def test_overdue_flag_is_the_ack_delay_against_the_deadline():
    from simulators.platform.stoptrade import StopTrade

    items = [
        {"created_ms": 0, "acked_ms": 600_000},
        {"created_ms": 0, "acked_ms": 600_001},
        {"created_ms": 0, "acked_ms": None},
        {"created_ms": 500_000, "acked_ms": None},
    ]
    assert StopTrade.flag_overdue(items, now=700_000, deadline_ms=600_000) == 1
    assert [i["overdue"] for i in items] == [False, True, True, False]


def test_stop_ack_deadline_is_bounded(tmp_path):
    import pytest as _pytest

    from simulators.platform.config import ConfigError, PlatformConfig

    db = str(tmp_path / "p.db")
    for bad in (0, 0.5, 86401):
        with _pytest.raises(ConfigError, match="stop-ack-deadline"):
            PlatformConfig(db=db, stop_ack_deadline_s=bad).validate()
    PlatformConfig(db=db, stop_ack_deadline_s=3).validate()
