"""Security of the HTML pages (issue 13 findings 1 and 12): hostile record values are shown as text, never as
markup, and every HTML answer carries the security headers (CSP, nosniff, frame denial, referrer policy)."""

import pytest

from platformkit import meat_chain, upload_all

HOSTILE = "<span><img src=x onerror=alert(1)>"


def _hostile_chain():
    chain = meat_chain()
    for node, rtype, recs in chain["uploads"]:
        if rtype == "retail_market_tran_info_summ":
            recs[0]["goods_name"] = HOSTILE
        if rtype == "market_tran_info_detail":
            recs[0]["goods_name"] = '"><script>alert(2)</script>'
    return chain


def test_hostile_goods_name_is_rendered_as_text_on_the_trace_page(platform):
    chain = _hostile_chain()
    upload_all(platform, chain)
    r = platform.client.get("/trace", params={"code": chain["sale"]})
    assert r.status_code == 200
    html = r.text
    assert "<img" not in html and "<script" not in html
    assert "&lt;span&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    # the pass/fail marker is still markup built by the page itself
    assert '<span class="ok">' in html


def test_hostile_seller_name_is_rendered_as_text(platform):
    chain = meat_chain()
    for node, rtype, recs in chain["uploads"]:
        if rtype == "retail_market_tran_info_summ":
            recs[0]["retailer_name"] = "<span><img src=x onerror=alert(3)>"
    upload_all(platform, chain)
    html = platform.client.get("/trace", params={"code": chain["sale"]}).text
    assert "<img" not in html and "&lt;img src=x onerror=alert(3)&gt;" in html


@pytest.mark.parametrize("query", [{}, {"code": "65010300200010000001"}, {"code": "x<y"}, {"lang": "en"}])
def test_every_html_answer_has_security_headers(platform, query):
    r = platform.client.get("/trace", params=query)
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "script-src" not in csp.replace("script-src 'none'", "")
    assert "frame-ancestors 'none'" in csp
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("x-frame-options") == "DENY"
    assert r.headers.get("referrer-policy") == "no-referrer"


def test_docs_page_has_security_headers_and_no_cdn(platform):
    r = platform.client.get("/docs")
    assert r.status_code == 200
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("x-frame-options") == "DENY"
    assert "cdn.jsdelivr.net" not in r.text and "unpkg.com" not in r.text
    assert "content-security-policy" in r.headers
    for src in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"):
        assert src in r.text
        a = platform.client.get(src)
        assert a.status_code == 200 and len(a.content) > 10_000, src
