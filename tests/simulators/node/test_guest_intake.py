"""NODE-WHOL-01 at the node's handheld intake, over real HTTP: an operator of another node configured at this
wholesale market (its card, its home operator code) enters a lot here and the node accepts it; an operator of
another node the node does not know is still "not your record" (2008, issue 13 finding 7)."""

from __future__ import annotations

import datetime as dt
import random

import httpx
import pytest

from profiles.record_examples import example_record
from simulators.node.config import load_config

from nodekit import free_port, node_http, write_config

NODE, NAME, KEY = "650104002", "超艺蔬菜批发市场", "guest-test-key"
GUEST, STRANGER = "6501030010001", "6501030010002"  # both of the meat wholesale market 650103001
RTYPE = "market_in_info_base"


@pytest.fixture
def node(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path / "n.toml",
            NODE,
            NAME,
            "vegetable_wholesale",
            f"http://127.0.0.1:{free_port()}",
            KEY,
            operators=[(NODE + "0001", "本市场批发商"), (GUEST, "迪摩冷冻肉品批发商")],
            upload={"backoff_first_s": 5, "backoff_max_s": 5},
        )
    )
    with node_http(cfg) as (_rt, url):
        yield url


def _entry(profile, seller: str, seq: int) -> dict:
    r = example_record(profile.records, RTYPE, random.Random(seq), node=NODE)
    r.update(
        market_id=NODE,
        wholesaler_id=seller,
        wholesaler_name="批发商",
        batch_id=profile.codes.trace_code(NODE + "0000", 6_000_000 + seq),
    )
    assert profile.records.is_valid(RTYPE, r), profile.records.validate(RTYPE, r)
    return r


def test_configured_guest_accepted_unknown_operator_of_another_node_rejected(node, profile):
    recs = [_entry(profile, NODE + "0001", 1), _entry(profile, GUEST, 2), _entry(profile, STRANGER, 3)]
    body = profile.envelope.build(NODE, RTYPE, recs, KEY, request_time=dt.datetime.now(dt.timezone.utc))
    r = httpx.post(
        node + "/api/v1/exchange", content=body, headers={"Content-Type": "application/xml"}, trust_env=False
    )
    resp, _ = profile.envelope.parse_response(r.content)
    assert r.status_code == 200
    assert [(v.verdict, v.reason) for v in resp.results] == [
        ("accepted", "0000"),
        ("accepted", "0000"),
        ("rejected", "2008"),
    ], resp.results
