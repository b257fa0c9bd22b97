"""Issue 13 finding 10: one trace answer is bounded - at most `limit` records (default 100, at most 500) with a
`next_cursor` for the next page - so a node's crafted fan-out cannot make a public query expensive."""

from platformkit import MEAT, R, W, code, rec

N = 300


def _fan_out(platform) -> str:
    """A sale at R whose batch arrived in N entry lines; returns the sale's trace code."""
    batch = code(W + "0001", 1)
    entries = [
        rec(
            "retail_market_in_info_detail",
            R,
            tran_id=code(W + "0001", 100 + i),
            batch_id=batch,
            goods_code=MEAT.code,
            goods_name=MEAT.name_zh,
            weight="1.000",
        )
        for i in range(N)
    ]
    for part in (entries[:150], entries[150:]):
        r, resp = platform.upload(R, "retail_market_in_info_detail", part)
        assert r.status_code == 200 and resp.tally()["accepted"] == len(part), resp.results[:2]
    sale = code(R + "0001", 1)
    r, resp = platform.upload(
        R,
        "retail_market_tran_info_summ",
        [
            rec(
                "retail_market_tran_info_summ",
                R,
                retail_market_id=R,
                retailer_id=R + "0001",
                batch_id=batch,
                sale_tran_id=sale,
                tran_id=None,
                goods_code=MEAT.code,
            )
        ],
    )
    assert resp.tally()["accepted"] == 1, resp.results
    return sale


def _records(ans) -> list[int]:
    return [r["id"] for h in ans["chain"] for r in h.get("records", [])]


def test_trace_answers_are_paged(platform):
    sale = _fan_out(platform)
    r = platform.client.get(f"/api/v1/trace/{sale}")
    assert r.status_code == 200
    ans = r.json()
    assert len(_records(ans)) == 100 and ans["limit"] == 100
    assert ans["records_total"] >= 1 + 200 and ans["next_cursor"]
    seen = _records(ans)
    pages = 1
    while ans["next_cursor"] and pages < 20:
        ans = platform.client.get(f"/api/v1/trace/{sale}", params={"cursor": ans["next_cursor"]}).json()
        assert len(_records(ans)) <= 100
        seen += _records(ans)
        pages += 1
    assert ans["next_cursor"] is None
    assert len(seen) == len(set(seen)) == ans["records_total"]
    # the chain's shape is the same on every page
    assert [h["kind"] for h in ans["chain"]][:2] == ["issued", "received"]


def test_page_size_is_bounded(platform):
    sale = _fan_out(platform)
    assert len(_records(platform.client.get(f"/api/v1/trace/{sale}", params={"limit": 7}).json())) == 7
    for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "-1"}, {"cursor": "x"}):
        r = platform.client.get(f"/api/v1/trace/{sale}", params=bad)
        assert r.status_code == 400, (bad, r.status_code)
