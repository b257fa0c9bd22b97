"""The node's HTTP face over real HTTP: a handheld terminal uploads into the outbox; health; outbox listing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from simulators.devices.handheld import HandheldTerminal
from simulators.node.config import load_config

from nodekit import RT_ENTRY, entry_records, free_port, node_http, write_config

NODE, NAME = "650104002", "超艺蔬菜批发市场"
KEY = "handheld-test-key"


@pytest.fixture
def node(tmp_path):
    # the platform URL points nowhere: uploads fail and back off, records stay pending for inspection
    cfg = load_config(
        write_config(
            tmp_path / "n.toml",
            NODE,
            NAME,
            "vegetable_wholesale",
            f"http://127.0.0.1:{free_port()}",
            KEY,
            upload={"backoff_first_s": 5, "backoff_max_s": 5},
        )
    )
    with node_http(cfg) as (rt, url):
        yield rt, url


def test_handheld_terminal_uploads_into_the_outbox(node, profile):
    rt, url = node
    # an aware clock: the terminal reads a naive one as Beijing time (wrong on a UTC machine)
    hh = HandheldTerminal(
        NODE, NAME, url + "/api/v1/exchange", KEY, node_kind="wholesale", now=lambda: dt.datetime.now(dt.timezone.utc)
    )
    base, details = hh.register_market_entry(
        "6501040020003",
        "源晟蔬菜",
        [("01210002", Decimal("83.5")), ("01202002", "20")],
        prov_id="VO370783202503100001",
        origin_region="370783",
    )
    outcomes = hh.upload()
    assert [(o.record_type, o.status, o.accepted) for o in outcomes] == [
        ("market_in_info_base", "accepted", 1),
        ("market_in_info_detail", "accepted", 2),
    ]
    counts = httpx.get(url + "/api/v1/outbox", trust_env=False).json()["counts"]
    assert counts["pending"] + counts["sent"] == 3
    rows = httpx.get(url + "/api/v1/outbox?state=pending", trust_env=False).json()["rows"]
    assert {r["rtype"] for r in rows} <= {"market_in_info_base", "market_in_info_detail"}
    # the same records again (a handheld retry): duplicate, not queued twice
    hh.outbox = [("market_in_info_base", base)]
    assert hh.upload()[0].duplicate == 1
    counts = httpx.get(url + "/api/v1/outbox", trust_env=False).json()["counts"]
    assert counts["pending"] + counts["sent"] == 3


def _post(url, body):
    r = httpx.post(url + "/api/v1/exchange", content=body, headers={"Content-Type": "application/xml"}, trust_env=False)
    return r.status_code, r.content


def test_refusals_and_rejections(node, profile):
    rt, url = node
    env = profile.envelope
    now = dt.datetime.now(dt.timezone.utc)
    recs = entry_records(profile, 2, NODE)  # retail records: this node is wholesale, but they are its own
    status, body = _post(url, env.build(NODE, RT_ENTRY, recs, "wrong-key", request_time=now))
    resp, _ = env.parse_response(body)
    assert status == 401 and resp.code == "1105"
    status, body = _post(
        url, env.build("650103002", RT_ENTRY, entry_records(profile, 1, "650103002"), KEY, request_time=now)
    )
    assert status == 401 and env.parse_response(body)[0].code == "1111"
    # a record naming another node is rejected (2008), the other accepted
    foreign = entry_records(profile, 1, "650103002", seed=5)
    signed = env.build(NODE, RT_ENTRY, [recs[0], foreign[0]], KEY, request_time=now)
    status, body = _post(url, signed)
    resp, _ = env.parse_response(body)
    assert status == 200 and [v.verdict for v in resp.results] == ["accepted", "rejected"]
    assert resp.results[1].reason == "2008"
    status, body = _post(url, signed)  # the same envelope again: a replay
    assert status == 409 and env.parse_response(body)[0].code == "1110"
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><DataExchangeReq>&e;</DataExchangeReq>'
    status, body = _post(url, hostile)
    assert status == 400 and env.parse_response(body)[0].code == "1002"
    big = b"<" + b"x" * (env.limits.max_bytes + 10)
    status, body = _post(url, big)
    assert status == 413
    assert rt.outbox.counts()["pending"] + rt.outbox.counts()["sent"] == 1


def test_health_and_errors(node):
    rt, url = node
    h = httpx.get(url + "/healthz", trust_env=False).json()
    assert h["node"] == NODE and set(h["outbox"]) == {"pending", "sent", "acknowledged", "rejected", "invalid"}
    r = httpx.get(url + "/api/v1/outbox?state=bogus", trust_env=False)
    assert r.status_code == 400 and r.json()["error"]["en"]
    r = httpx.get(url + "/nope", trust_env=False)
    assert r.status_code == 404 and r.json()["error"]["zh"]
    assert httpx.get(url + "/api/v1/stoptrade", trust_env=False).json() == {"instructions": []}
