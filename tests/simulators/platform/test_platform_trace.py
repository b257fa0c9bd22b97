"""Trace query: the whole chain behind a trace code, as JSON and as the consumer's Chinese page."""

from platformkit import BASE_ID, EAR_TAGS, MEAT, R, S, V, VEG_CERT, W, meat_chain, upload_all, veg_chain


def test_meat_sale_traces_back_through_wholesale_and_slaughter_to_the_farm(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    r = platform.client.get(f"/api/v1/trace/{chain['sale']}")
    assert r.status_code == 200
    ans = r.json()
    assert ans["status"] == "found" and ans["complete"] is True
    steps = [
        (h["kind"], h.get("node", {}).get("node_id"), sorted({x["type"] for x in h.get("records", [])}))
        for h in ans["chain"]
    ]
    assert steps == [
        ("issued", R, ["retail_market_tran_info_summ"]),
        ("received", R, ["retail_market_in_info_base", "retail_market_in_info_detail"]),
        ("issued", W, ["market_tran_info_detail"]),
        ("received", W, ["market_in_info_base", "market_in_info_detail", "qmarket_detection_info"]),
        ("issued", S, ["meat_out_info_base", "meat_out_info_detail"]),
        ("quarantine", S, ["quarantine_info"]),
        ("intake", S, ["animal_in_info"]),
        ("origin", None, []),
    ]
    assert ans["chain"][-1]["region_code"] == "650121" and ans["chain"][-1]["place"] == "南山养殖场"
    assert ans["chain"][2]["code"] == chain["codes"]["wholesale"]
    origin = ans["chain"][-1]  # 源头衔接: the farm's ear-tag range and the origin quarantine certificate
    assert (origin["ear_tag_start"], origin["ear_tag_end"], origin["certificate"], origin["certificate_kind"]) == (
        *EAR_TAGS,
        "AQ00000001",
        "animal_quarantine",
    )
    assert [s["place"] for s in origin["sources"]] == ["南山养殖场"] and origin["base_id"] is None


def test_intermediate_code_traces_from_its_own_hop(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    ans = platform.client.get(f"/api/v1/trace/{chain['codes']['wholesale']}").json()
    assert [h["kind"] for h in ans["chain"]][:2] == ["issued", "received"]
    assert ans["chain"][0]["node"]["node_id"] == W and ans["complete"]


def test_vegetable_sale_ends_at_the_origin_base(platform):
    chain = veg_chain()
    upload_all(platform, chain)
    ans = platform.client.get(f"/api/v1/trace/{chain['sale']}").json()
    kinds = [h["kind"] for h in ans["chain"]]
    assert kinds == ["issued", "issued", "received", "origin"], kinds
    assert ans["chain"][1]["node"]["node_id"] == V
    assert ans["chain"][-1]["region_code"] == "370783" and ans["complete"]
    origin = ans["chain"][-1]  # 源头衔接: the production base and its origin certificate
    assert (origin["base_id"], origin["certificate"], origin["certificate_kind"], origin["ear_tag_start"]) == (
        BASE_ID,
        VEG_CERT,
        "veg_origin",
        None,
    )
    html = platform.client.get("/trace", params={"code": chain["sale"]}).text
    for text in ("生产基地编号", BASE_ID, "产地证明号", VEG_CERT, "寿光蔬菜基地"):
        assert text in html, text


def test_missing_upstream_is_reported_as_an_incomplete_chain(platform):
    chain = meat_chain()
    chain["uploads"] = [u for u in chain["uploads"] if u[1] != "market_tran_info_detail"]
    upload_all(platform, chain)
    ans = platform.client.get(f"/api/v1/trace/{chain['sale']}").json()
    assert ans["complete"] is False
    assert any(h["kind"] == "missing" and h["code"] == chain["codes"]["wholesale"] for h in ans["chain"])


def test_unknown_and_malformed_codes_get_the_profiles_answer(platform):
    r = platform.client.get("/api/v1/trace/65010300200010000001")
    assert r.status_code == 404 and r.json()["status"] == "unknown"
    r = platform.client.get("/api/v1/trace/6501030020001000000５")
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "invalid" and body["findings"][0]["rule"] == "CODE-TRACE-01"


def test_consumer_page_is_chinese_html_with_every_stage(platform):
    chain = meat_chain()
    upload_all(platform, chain)
    r = platform.client.get("/trace", params={"code": chain["sale"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for text in (
        "追溯链完整",
        "零售销售",
        "批发交易",
        "批发市场进场",
        "检测结果",
        "肉品出厂",
        "生猪进厂",
        "产地",
        MEAT.name_zh,
        "合格",
        "昊嘉农贸市场",
        'lang="zh-CN"',
        "畜禽标识（耳标号段）",
        f"{EAR_TAGS[0]} – {EAR_TAGS[1]}",
        "产地检疫证号（动物检疫合格证明）",
        "AQ00000001",
        "南山养殖场",
    ):
        assert text in html, text
    assert html.index("南山养殖场") < html.index(EAR_TAGS[0])  # in the origin hop, after the farm
    en = platform.client.get("/trace", params={"code": chain["sale"], "lang": "en"}).text
    assert "retail sale" in en and "Complete chain" in en and "Ear tags (range)" in en


def test_consumer_page_escapes_and_answers_unknown(platform):
    r = platform.client.get("/trace", params={"code": "<script>alert(1)</script>"})
    assert r.status_code == 400 and "<script>alert" not in r.text and "追溯码格式不正确" in r.text
    r = platform.client.get("/trace", params={"code": "65010300200010000001"})
    assert r.status_code == 404 and "未查询到" in r.text
    assert platform.client.get("/trace").status_code == 200
