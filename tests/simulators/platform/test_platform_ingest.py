"""Ingest over real HTTP: verdicts, idempotency, ownership, authentication, clock, replay, limits, hostile input."""

import datetime as dt
import socket

import httpx
from hypothesis import HealthCheck, given, settings, strategies as st

from platformkit import CST, P, R, S, W, code, meat_chain, rec, today

LEAKS = ("Traceback", "sqlite", "SELECT", "INSERT", "psycopg", 'File "', "Error:")


def _no_leak(text: str) -> None:
    for word in LEAKS:
        assert word not in text, word


def test_accepted_then_duplicate_stored_once_xml_and_json(platform):
    recs = meat_chain()["uploads"][-1][2]
    r, resp = platform.upload(R, "retail_market_tran_info_summ", recs)
    assert r.status_code == 200 and resp.code == "0000" and resp.results[0].verdict == "accepted"
    r, resp = platform.upload(R, "retail_market_tran_info_summ", recs, fmt="json")
    assert r.headers["content-type"].startswith("application/json")
    assert resp.results[0].verdict == "duplicate" and resp.results[0].reason == "2009"
    assert platform.count() == 1


def test_same_record_twice_in_one_envelope_is_one_accept_one_duplicate(platform):
    r1 = rec("retail_market_tran_info_summ", R, retail_market_id=R, sale_tran_id=code(R + "0001", 9))
    _, resp = platform.upload(R, "retail_market_tran_info_summ", [r1, dict(r1)])
    assert [x.verdict for x in resp.results] == ["accepted", "duplicate"]
    assert platform.count() == 1


def test_changed_content_under_same_identity_keeps_the_stored_version(platform):
    r1 = rec("retail_market_tran_info_summ", R, retail_market_id=R, sale_tran_id=code(R + "0001", 9))
    platform.upload(R, "retail_market_tran_info_summ", [r1])
    r2 = dict(r1, retailer_name="另一个名字")
    _, resp = platform.upload(R, "retail_market_tran_info_summ", [r2])
    assert resp.results[0].verdict == "duplicate" and "内容不同" in resp.results[0].message
    with platform.svc.store.read() as tx:
        assert "另一个名字" not in tx.scalar("SELECT body FROM records")


def test_bad_record_rejected_with_reason_others_accepted_nothing_of_it_stored(platform):
    good = rec("retail_market_tran_info_summ", R, seed=1, retail_market_id=R, sale_tran_id=code(R + "0001", 1))
    bad = rec("retail_market_tran_info_summ", R, seed=2, retail_market_id=R, sale_tran_id=code(R + "0001", 2))
    bad["weight"] = "1.2345"
    _, resp = platform.upload(R, "retail_market_tran_info_summ", [good, bad])
    assert [(x.verdict, x.reason) for x in resp.results] == [("accepted", "0000"), ("rejected", "2004")]
    assert resp.results[1].field == "weight"
    assert platform.count() == 1
    assert platform.count("SELECT COUNT(*) FROM records WHERE own_code = ?", (code(R + "0001", 2),)) == 0


def test_a_node_cannot_upload_another_nodes_records(platform):
    other = rec("retail_market_tran_info_summ", R, retail_market_id=R, sale_tran_id=code(R + "0001", 5))
    _, resp = platform.upload(W, "retail_market_tran_info_summ", [other])  # W signs R's record
    assert resp.results[0].verdict == "rejected" and resp.results[0].reason == "2008"
    # a detail record (no node field) issuing a code of another node
    det = rec("meat_out_info_detail", S, tran_id=code(W + "0001", 7))
    _, resp = platform.upload(S, "meat_out_info_detail", [det])
    assert resp.results[0].reason == "2008"
    assert platform.count() == 0


def test_wrong_key_unknown_node_and_disabled_node_are_refused(platform):
    recs = meat_chain()["uploads"][-1][2]
    body = P.envelope.build(R, "retail_market_tran_info_summ", recs, "not-the-key")
    r = platform.client.post("/api/v1/exchange", content=body)
    assert r.status_code == 401 and "<ResultCode>1105</ResultCode>" in r.text
    body = P.envelope.build("650102009", "retail_market_tran_info_summ", recs, "whatever")
    r = platform.client.post("/api/v1/exchange", content=body)
    assert r.status_code == 401 and "<ResultCode>1111</ResultCode>" in r.text
    platform.svc.registry.set_status(R, "disabled")
    r, resp = platform.upload(R, "retail_market_tran_info_summ", recs)
    assert r.status_code == 401 and resp.code == "1111"
    assert platform.count() == 0


def test_revoked_key_no_longer_works(platform):
    recs = meat_chain()["uploads"][-1][2]
    old = platform.keys[R]
    platform.keys[R] = platform.svc.registry.issue_key(R)
    body = P.envelope.build(R, "retail_market_tran_info_summ", recs, old)
    assert platform.client.post("/api/v1/exchange", content=body).status_code == 401
    assert platform.upload(R, "retail_market_tran_info_summ", recs)[0].status_code == 200


def test_request_time_outside_the_window_is_refused(platform):
    recs = meat_chain()["uploads"][-1][2]
    for minutes in (-6, 6):
        t = dt.datetime.now(CST).replace(tzinfo=None) + dt.timedelta(minutes=minutes)
        r, resp = platform.upload(R, "retail_market_tran_info_summ", recs, request_time=t, data_date=today())
        assert r.status_code == 400 and resp.code == "1104", minutes
    # inside the window (ahead, so that DataDate is never after the RequestTime's date around midnight)
    t = dt.datetime.now(CST).replace(tzinfo=None) + dt.timedelta(minutes=4)
    assert platform.upload(R, "retail_market_tran_info_summ", recs, request_time=t)[0].status_code == 200


def test_replayed_envelope_is_refused_even_after_a_restart(platform, tmp_path):
    recs = meat_chain()["uploads"][-1][2]
    body = platform.envelope(R, "retail_market_tran_info_summ", recs)
    assert platform.client.post("/api/v1/exchange", content=body).status_code == 200
    r = platform.client.post("/api/v1/exchange", content=body)
    assert r.status_code == 409 and "<ResultCode>1110</ResultCode>" in r.text
    # a second server on the same database (fresh memory) still refuses it
    from simulators.platform.config import PlatformConfig
    from simulators.platform.launcher import ThreadedPlatform

    with ThreadedPlatform(PlatformConfig(db=platform.tp.config.db, port=0, log_level="warning")) as tp2:
        r = httpx.post(tp2.url + "/api/v1/exchange", content=body, timeout=10)
        assert r.status_code == 409


def test_oversized_body_refused_before_it_is_read(platform):
    host, port = platform.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            b"POST /api/v1/exchange HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
            b"Content-Length: 1000000000\r\n\r\n<DataExchangeReq>"
        )
        s.settimeout(5)
        head = s.recv(65536).decode("utf-8", "replace")  # answered without sending the gigabyte
    assert head.startswith("HTTP/1.1 413") and "<ResultCode>1003</ResultCode>" in head


def test_oversized_chunked_body_is_cut_off(platform):
    def gen():
        for _ in range(200):
            yield b"<a>" + b"x" * 65536 + b"</a>"

    r = platform.client.post("/api/v1/exchange", content=gen())
    assert r.status_code == 413


def test_hostile_xml_refused_cleanly(platform):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<DataExchangeReq>&lol2;</DataExchangeReq>"
    )
    r = platform.client.post("/api/v1/exchange", content=bomb)
    assert r.status_code == 400 and "<ResultCode>1002</ResultCode>" in r.text
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<DataExchangeReq>&x;</DataExchangeReq>"
    )
    r = platform.client.post("/api/v1/exchange", content=xxe)
    assert r.status_code == 400 and "root:" not in r.text
    r = platform.client.post("/api/v1/exchange", content=b"<DataExchangeReq><NodeId>6501")
    assert r.status_code == 400 and "<ResultCode>1001</ResultCode>" in r.text
    _no_leak(r.text)


def test_error_bodies_do_not_leak_internals(platform):
    for method, path, kw in [
        ("GET", "/api/v1/stats/daily", {"params": {"date": "x' OR 1=1 --"}}),
        ("GET", "/nope", {}),
        ("POST", "/api/v1/trace/1", {}),
        ("GET", "/api/v1/stoptrade", {}),
        ("POST", "/api/v1/stoptrade/abc/ack", {}),
    ]:
        r = platform.client.request(method, path, **kw)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        _no_leak(r.text)
        assert "error" in r.json()


def test_sql_metacharacters_are_data_not_sql(platform):
    evil = "x'); DROP TABLE records; --"
    r1 = rec(
        "retail_market_tran_info_summ",
        R,
        retail_market_id=R,
        retailer_name=evil[:50],
        sale_tran_id=code(R + "0001", 77),
    )
    _, resp = platform.upload(R, "retail_market_tran_info_summ", [r1])
    assert resp.results[0].verdict == "accepted"
    ans = platform.client.get(f"/api/v1/trace/{code(R + '0001', 77)}").json()
    assert ans["chain"][0]["records"][0]["fields"]["retailer_name"] == evil[:50]
    r = platform.client.get(f"/api/v1/trace/{evil}")
    assert r.status_code in (400, 404)
    assert platform.count() == 1


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_envelopes_get_a_clean_answer_and_store_only_valid_records(platform, data):
    """Random mutations of a valid envelope: always a DataExchangeResp (never 5xx, never a traceback), and
    every stored record is valid, owned by the uploader and counted once."""
    recs = [
        rec("retail_market_tran_info_summ", R, seed=i, retail_market_id=R, sale_tran_id=code(R + "0001", 1000 + i))
        for i in range(3)
    ]
    body = bytearray(
        platform.envelope(R, "retail_market_tran_info_summ", recs, fmt=data.draw(st.sampled_from(["xml", "json"])))
    )
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        i = data.draw(st.integers(0, max(0, len(body) - 1)))
        if op == "flip" and body:
            body[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[i : i + data.draw(st.integers(1, 40))]
        elif op == "insert":
            body[i:i] = data.draw(
                st.sampled_from([b"<x>", b"&", b"]]>", b"\xff\xfe", "摊".encode(), b"0", b'"', b"<!DOCTYPE a>"])
            )
        else:
            body[i:i] = body[i : i + 30]
    r = platform.client.post("/api/v1/exchange", content=bytes(body))
    assert r.status_code in (200, 400, 401, 409, 413), r.status_code
    _no_leak(r.text)
    resp, findings = P.envelope.parse_response(r.content)
    assert not findings and resp is not None
    with platform.svc.store.read() as tx:
        rows = tx.all("SELECT node_id, rtype, body FROM records")
    import json

    for node, rtype, b in rows:
        assert node == R and P.records.validate(rtype, json.loads(b)) == []
    assert len(rows) == len({b for _, _, b in rows})


def test_records_naming_unregistered_operators_are_rejected_2010(platform):
    """Operators under a registered node must be registered (PLAT-REG-01); codes under an unknown node pass."""
    seller = P.codes.operator_code(W, 7)
    platform.svc.registry.register_operator(seller, "批发商七")
    stranger = P.codes.operator_code("650102099", 5)  # node not registered here: not judged
    recs = [
        rec(
            "market_tran_info_base",
            W,
            seed=1,
            market_id=W,
            wholesaler_id=seller,
            retailer_id=stranger,
            tran_id=code(seller, 1),
        ),
        rec(
            "market_tran_info_base",
            W,
            seed=2,
            market_id=W,
            wholesaler_id=P.codes.operator_code(W, 8),
            retailer_id=stranger,
            tran_id=code(seller, 2),
        ),
        rec(
            "market_tran_info_base",
            W,
            seed=3,
            market_id=W,
            wholesaler_id=seller,
            retailer_id=P.codes.operator_code(R, 9),
            tran_id=code(seller, 3),
        ),
    ]
    _, resp = platform.upload(W, "market_tran_info_base", recs, operators=False)
    assert [(x.verdict, x.reason) for x in resp.results] == [
        ("accepted", "0000"),
        ("rejected", "2010"),
        ("rejected", "2010"),
    ]
    assert "未在本平台备案" in resp.results[1].message
    assert platform.count() == 1
    platform.svc.registry.register_operator(P.codes.operator_code(R, 9), "零售商九")
    _, resp = platform.upload(W, "market_tran_info_base", recs[2:], operators=False)
    assert [x.verdict for x in resp.results] == ["accepted"]


def test_time_service_is_beijing_time_with_milliseconds(platform):
    before = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    doc = platform.client.get("/api/v1/time").json()
    after = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    assert before <= doc["epoch_ms"] <= after
    t = dt.datetime.fromisoformat(doc["iso"])
    assert t.utcoffset() == dt.timedelta(hours=8) and int(t.timestamp() * 1000) == doc["epoch_ms"]
    assert doc["beijing_time"] == t.strftime("%Y%m%d%H%M%S") + doc["iso"][20:23]
