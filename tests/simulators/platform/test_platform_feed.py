"""Upward feed: a city platform pushes its daily aggregates to a central instance."""

import httpx

from platformkit import P, feed_summary, meat_chain, today, upload_all, veg_chain
from simulators.platform import nodeauth
from simulators.platform.config import PlatformConfig
from simulators.platform.feed import FeedPusher
from simulators.platform.launcher import ThreadedPlatform


def test_city_feeds_central_and_central_totals_equal_the_city(platform, tmp_path):
    cfg = PlatformConfig(db=str(tmp_path / "central.db"), role="central", port=0, log_level="warning")
    with ThreadedPlatform(cfg) as central:
        central.services.registry.register_node("650100", "乌鲁木齐市追溯平台", "city_platform")
        key = central.services.registry.issue_key("650100")
        upload_all(platform, meat_chain())
        upload_all(platform, veg_chain())
        pusher = FeedPusher(platform.svc.store, P.envelope, central.url, "650100", key, 1.0)
        with httpx.Client(timeout=10) as c:
            assert pusher.push_once(c) > 0
            upload_all(platform, meat_chain(n=2))  # more data, pushed on the next round
            assert pusher.push_once(c) > 0
        got = feed_summary(central, today()).json()["cities"]["650100"]
        city = platform.client.get("/api/v1/stats/totals", params={"date": today()}).json()
        assert got["records"] == sum(v["records"] for v in city["by_node"].values()) == 2 * 11 + 3
        assert {t: v["records"] for t, v in got["by_node_type"].items()} == {
            t: v["records"] for t, v in city["by_node_type"].items()
        }
        assert got["by_node_type"]["slaughter_pig"]["weight_kg"] == city["by_node_type"]["slaughter_pig"]["weight_kg"]
        # resending is harmless (absolute values)
        with httpx.Client(timeout=10) as c:
            pusher._save(0, None)
            pusher.push_once(c)
        again = feed_summary(central, today()).json()["cities"]["650100"]
        assert again["records"] == got["records"]
        # the summary answers a regulator only, and only the cities of its province (regulator_gate.py)
        r = httpx.get(central.url + "/api/v1/feed/summary", params={"date": today()}, timeout=10)
        assert r.status_code == 401 and "cities" not in r.json(), r.text[:200]
        assert feed_summary(central, today(), "650100").json()["cities"].keys() == {"650100"}
        assert feed_summary(central, today(), "620000").json()["cities"] == {}  # 甘肃: not Urumqi's province


def test_central_refuses_unsigned_unknown_and_out_of_region_feeds(tmp_path):
    cfg = PlatformConfig(db=str(tmp_path / "central.db"), role="central", port=0, log_level="warning")
    with ThreadedPlatform(cfg) as central:
        reg = central.services.registry
        reg.register_node("650100", "乌鲁木齐市追溯平台", "city_platform")
        key = reg.issue_key("650100")
        reg.register_node("650102001", "某市场", "farmers_market")
        node_key = reg.issue_key("650102001")

        def post(node, k, payload):
            import json

            body = json.dumps(payload).encode()
            h = nodeauth.sign(P.envelope, k, node, "POST", "/api/v1/feed", body)
            return httpx.post(central.url + "/api/v1/feed", content=body, headers=h, timeout=10)

        row = {
            "node_id": "650102001",
            "node_type": "farmers_market",
            "data_date": today(),
            "rtype": "retail_market_tran_info_summ",
            "goods_code": "21111001",
            "records": 3,
            "weight_kg": "1.500",
        }
        assert httpx.post(central.url + "/api/v1/feed", content=b"{}", timeout=10).status_code == 401
        assert post("650102001", node_key, {"city_id": "650102001", "rows": [row]}).status_code == 403
        lanzhou = dict(row, node_id="620102001")
        r = post("650100", key, {"city_id": "650100", "rows": [lanzhou]})
        assert r.status_code == 400 and "not in city" in r.json()["error"]["en"]
        assert post("650100", key, {"city_id": "650100", "rows": [dict(row, records=-1)]}).status_code == 400
        assert post("650100", key, {"city_id": "650100", "rows": [row]}).json() == {"stored": 1}


def test_city_role_has_no_feed_receiver(platform):
    assert platform.client.post("/api/v1/feed", content=b"{}").status_code in (404, 405)
    assert platform.client.get("/api/v1/feed/status").json()["upstream"] is None
