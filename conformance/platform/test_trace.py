"""Trace queries: the chain of every code of a simulated day equals the simulator's ground truth."""

from __future__ import annotations

import re
from html import unescape

import pytest

from conformance.notjudgeable import NotJudgeable
from conformance.platform.conftest import cite_day_upload
from conformance.queries import DROPPED, trace, trace_page

PLATFORM = ("city_platform",)


def _compare(ans: dict, truth: dict) -> list[str]:
    """What differs between a trace answer and the truth (empty: equal)."""
    if ans.get("status") != "found":
        return [f"status {ans.get('status')!r}, expected 'found'"]
    chain = ans.get("chain") or []
    out = []
    issued = [h.get("code") for h in chain if h.get("kind") == "issued"]
    if issued != truth["issued"]:
        out.append(f"trade hops {issued} != truth {truth['issued']}")
    if truth["batch"]:
        received = [h.get("code") for h in chain if h.get("kind") == "received"]
        if not received or received[-1] != truth["batch"]:
            out.append(f"wholesale batch {received[-1:] or None} != truth {truth['batch']}")
    if truth["intake"]:
        intake = [h for h in chain if h.get("kind") == "intake"]
        got = {r["fields"].get("quarantine_id") for h in intake for r in h.get("records", [])}
        if got != {truth["intake"]}:
            out.append(f"slaughter intake quarantine ids {sorted(got)} != truth {truth['intake']}")
    origin = [h for h in chain if h.get("kind") == "origin"]
    if truth["origin_region"] and (not origin or origin[-1].get("region_code") != truth["origin_region"]):
        out.append(
            f"origin region {origin[-1].get('region_code') if origin else None} != truth {truth['origin_region']}"
        )
    if not ans.get("complete"):
        out.append("answer says the chain is incomplete")
    return out


@pytest.mark.requirement("PLAT-TRACE-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_every_code_of_the_day_traces_to_the_truth(day_upload, http, platform, evidence):
    """Each trace code the simulated day issued (sales summaries, wholesale trades, meat out) is queried;
    the answer's hops (codes), the wholesale batch, the slaughter intake and the origin region equal
    the market simulator's ledger."""
    cite_day_upload(evidence, day_upload)
    codes = day_upload.day.own_codes()
    wrong = {}
    for code in sorted(codes):
        status, ans = trace(http, platform.url, code)
        diff = (
            [f"HTTP {status}"]
            if status != 200 or not isinstance(ans, dict)
            else _compare(ans, day_upload.day.truth_of(code))
        )
        if diff:
            wrong[code] = diff
    evidence.note(
        f"查询了模拟日的 {len(codes)} 个追溯码，{len(wrong)} 个与真值不符",
        f"queried {len(codes)} trace codes of the simulated day; {len(wrong)} differ from the truth",
    )
    evidence.attach_json("differences.json", wrong)
    assert codes, "the simulated day issued no trace code"
    assert not wrong, (
        f"{len(wrong)} of {len(codes)} trace answers differ from the ground truth (the chain must "
        f"follow every uploaded hop back to the intake/origin), e.g. "
        + "; ".join(f"{c}: {', '.join(d)}" for c, d in list(wrong.items())[:3])
    )


def _page_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _sample(day, kinds=("retail_market_tran_info_summ", "market_tran_info_base")):
    """A meat sale and a vegetable sale of the day (retail summaries), and one wholesale trade."""
    codes = day.own_codes()
    meat = next(c for c, r in sorted(codes.items()) if r["type"] == kinds[0] and day.truth_of(c)["intake"])
    veg = next(c for c, r in sorted(codes.items()) if r["type"] == kinds[0] and day.truth_of(c)["batch"])
    trade = next(c for c, r in sorted(codes.items()) if r["type"] == kinds[1])
    return [meat, veg, trade]


@pytest.mark.requirement("PLAT-TRACE-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_web_page_and_json_give_the_same_answer(day_upload, http, platform, evidence):
    """The consumer web page and the JSON interface answer the same for a meat sale, a vegetable sale and
    a wholesale trade: every hop's trace code and node name, and the origin, appear on the page."""
    cite_day_upload(evidence, day_upload)
    problems = []
    for code in _sample(day_upload.day):
        status, ans = trace(http, platform.url, code)
        pstatus, html = trace_page(http, platform.url, code)
        if status != 200 or pstatus != 200:
            problems.append(f"{code}: JSON HTTP {status}, page HTTP {pstatus}")
            continue
        text = _page_text(html)
        want = [
            (h["kind"], (h.get("node") or {}).get("name") if h["kind"] != "origin" else h.get("region"))
            for h in ans["chain"]
        ]
        at = 0
        for kind, w in want:  # every hop's business (or the origin), in the JSON answer's order
            found = text.find(w, at) if w else at
            if found < 0:
                problems.append(f"{code}: the page lacks {w!r} ({kind} hop of the JSON answer) after position {at}")
            else:
                at = found
    assert not problems, "the web page must show the same chain as the JSON interface: " + "; ".join(problems[:6])


@pytest.mark.requirement("PLAT-TRACE-03")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_consumer_answer_shows_what_a_buyer_needs_in_chinese(day_upload, http, platform, evidence):
    """For a meat sale, the Chinese page shows the commodity, stall and market, sale date, weight and unit
    price, the wholesale market and wholesaler, the slaughterhouse and origin, the quarantine/inspection
    certificate numbers and a test result — with Chinese labels."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    meat, veg, _ = _sample(day)
    codes = day.own_codes()
    problems = []
    for code in (meat, veg):
        rec = codes[code]["data"]
        status, html = trace_page(http, platform.url, code)
        _s, ans = trace(http, platform.url, code)
        text = _page_text(html)
        d = rec["sale_date"]
        want = {
            "commodity": rec["goods_name"],
            "stall": rec["position_id"],
            "market": rec["retail_market_name"],
            "sale date": f"{d[:4]}-{d[4:6]}-{d[6:]}",
            "weight": rec["weight"],
            "unit price": rec["price"],
        }
        hops = ans.get("chain", []) if isinstance(ans, dict) else []
        for h in hops:
            if h["kind"] == "issued" and h.get("records") and h["records"][0]["type"].startswith("market_tran"):
                f = h["records"][0]["fields"]
                want["wholesale market"] = f.get("market_name")
                want["wholesaler"] = f.get("wholesaler_name")
            if h["kind"] in ("quarantine", "intake", "issued") and h.get("records"):
                for r in h["records"]:
                    f = r["fields"]
                    if f.get("quarantine_animal_products_id") and code == meat:
                        want["quarantine certificate"] = f["quarantine_animal_products_id"]
                    if f.get("butcher_fac_name") and code == meat:
                        want["slaughterhouse"] = f["butcher_fac_name"]
            if h["kind"] == "origin":
                want["origin"] = h.get("region")
        labels = ["追溯码", "商品", "重量", "单价", "产地"] + (["动物产品检疫合格证号"] if code == meat else [])
        if status != 200:
            problems.append(f"{code}: page HTTP {status}")
            continue
        problems += [f"{code}: no {k} ({v!r})" for k, v in want.items() if v and v not in text]
        problems += [f"{code}: no Chinese label {lab!r}" for lab in labels if lab not in text]
    evidence.attach_text("page-meat.html", trace_page(http, platform.url, meat)[1])
    evidence.note(
        "批发检测结果仅在该批次有检测记录时显示；摊位号按 position_id 核对",
        "a test result shows only where the batch has a test record; the stall is checked as position_id",
    )
    assert not problems, "the consumer's page must show, in Chinese: " + "; ".join(problems[:8])


@pytest.mark.requirement("PLAT-TRACE-04")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_malformed_and_unknown_codes(profile, records, http, platform, evidence):
    """A malformed code is answered 'invalid' naming the profile's code rule it breaks (HTTP 400), a valid code nobody
    issued 'unknown' (HTTP 404), on the JSON interface and the page; never a server error."""
    unknown = records.trace_code(records.node_for("retail_market_tran_info_summ"))
    good = unknown[:-1]
    malformed = {"too short": good, "letters": unknown[:10] + "ABCDEFGHIJ", "bad region": "99" + unknown[2:]}
    problems = []
    status, ans = trace(http, platform.url, unknown)
    if status != 404 or not isinstance(ans, dict) or ans.get("status") != "unknown":
        problems.append(f"unknown code {unknown}: HTTP {status} {ans!r:.200} (expected 404, status 'unknown')")
    for what, code in malformed.items():
        expected = {f.rule for f in profile.codes.findings(code, "trace")}
        if not expected:
            continue
        status, ans = trace(http, platform.url, code)
        rules = {f.get("rule", "") for f in ans.get("findings", [])} if isinstance(ans, dict) else set()
        if status != 400 or not isinstance(ans, dict) or ans.get("status") != "invalid" or not rules & expected:
            problems.append(
                f"{what} {code}: HTTP {status} {ans!r:.200} (expected 400, status 'invalid' and the "
                f"profile's rule {sorted(expected)})"
            )
        pstatus, _html = trace_page(http, platform.url, code)
        if pstatus >= 500 or pstatus == DROPPED:
            problems.append(f"{what} {code}: the page answered HTTP {pstatus}")
    pstatus, _html = trace_page(http, platform.url, unknown)
    if pstatus >= 500 or pstatus == DROPPED:
        problems.append(f"unknown code page: HTTP {pstatus}")
    assert not problems, "; ".join(problems)


def _answer_text(ans) -> str:
    """Every string and number of a JSON answer, one per line (where a value sits is the platform's choice)."""
    out, stack = [], [ans]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, (str, int)) and not isinstance(x, bool):
            out.append(str(x))
    return "\n".join(out)


@pytest.mark.requirement("PLAT-SRC-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_every_trace_answer_reaches_the_farm_or_the_base(day_upload, http, platform, evidence):
    """源头衔接: for every trace code the simulated day issued whose true chain starts at a slaughter intake or a
    vegetable base, the JSON answer carries the source identifiers uploaded with that intake (产地检疫证号, first and
    last ear tag) or with the goods' first entry (产地证明号, production base id); the consumer page of a meat sale
    and of a vegetable sale shows them too.  Where in the answer they sit is the platform's choice."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    codes = day.own_codes()
    wrong, judged = {}, 0
    for code in sorted(codes):
        want = day.source_of(code)
        if not want:
            continue
        judged += 1
        status, ans = trace(http, platform.url, code)
        text = _answer_text(ans) if status == 200 and isinstance(ans, dict) else ""
        missing = [f"{k} {v}" for k, v in sorted(want.items()) if v not in text]
        if missing:
            wrong[code] = [f"HTTP {status}"] if not text else missing
    pages = {}
    for code in _sample(day)[:2]:  # a meat sale and a vegetable sale
        pstatus, html = trace_page(http, platform.url, code)
        text = _page_text(html) if pstatus == 200 and isinstance(html, str) else ""
        missing = [f"{k} {v}" for k, v in sorted(day.source_of(code).items()) if v not in text]
        if missing:
            pages[code] = [f"page HTTP {pstatus}"] if not text else [f"page lacks {m}" for m in missing]
    evidence.note(
        f"核对了 {judged} 个追溯码的源头信息（耳标号段、检疫证号、生产基地编号、产地证明号），{len(wrong)} 个缺失；"
        f"网页 {len(pages)} 个缺失",
        f"checked the source identifiers (ear-tag range, quarantine certificate, base id, origin certificate) "
        f"of {judged} trace codes: {len(wrong)} lack some; pages lacking them: {len(pages)}",
    )
    evidence.attach_json("missing-sources.json", {"json": wrong, "page": pages})
    if judged == 0:
        raise NotJudgeable(
            "该城市的记录格式不带源头标识（耳标号、检疫证号、基地编号）",
            "the city's form carries no source identifier (ear tags, certificates, base id)",
        )
    assert not wrong and not pages, (
        f"{len(wrong)} of {judged} trace answers (and {len(pages)} consumer pages) lose the link to the source: the "
        f"answer must carry the ear-tag range and quarantine certificate of the intake, or the base id and origin "
        f"certificate of the first entry, e.g. "
        + "; ".join(f"{c}: {', '.join(d)}" for c, d in list({**wrong, **pages}.items())[:3])
    )


@pytest.mark.requirement("PLAT-TRACE-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_a_chain_that_stops_before_the_origin_is_not_complete(profile, records, uploader, http, platform, evidence):
    """A retail market uploads a sale whose lot it numbered itself (batch_id: its own code, no upstream voucher,
    no certificate) and the entry of that lot without origin, certificate or upstream code: the chain has no
    missing hop, yet it ends at the market, not at an intake or origin.  The answer must not call it complete
    (``complete``: the trace answer's own flag, docs/platform.md, which the day's chains are judged by in
    :func:`test_every_code_of_the_day_traces_to_the_truth`).  The lot is a vegetable: meat without a
    certificate is rightly rejected (findings rule R_MEAT), which would make the chain impossible to build."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    node = records.node_for("retail_market_tran_info_summ")
    batch = records.trace_code(node)
    # optional in both (the entry has no quarantine_vege_id)
    bare = ("tran_id", "quarantine_animal_products_id", "inspection_meat_id", "prov_id", "quarantine_vege_id")
    veg = profile.commodities.of_kind("vegetable")[0]
    entry = records.make("retail_market_in_info_base", d, node=node, batch_id=batch)
    sale = records.make(
        "retail_market_tran_info_summ", d, node=node, batch_id=batch, goods_code=veg.code, goods_name=veg.name_zh
    )
    for rec in (entry, sale):
        for k in bare:
            rec.pop(k, None)
    sale["retailer_id"] = entry["retailer_id"]
    for rtype, rec in (("retail_market_in_info_base", entry), ("retail_market_tran_info_summ", sale)):
        a = uploader.upload(node, rtype, [rec], header={"DataDate": date})
        assert a.verdicts == ["accepted"], f"set-up: {rtype} not accepted: {a}"
    code = sale["sale_tran_id"]
    status, ans = trace(http, platform.url, code)
    evidence.attach_json("trace-answer.json", {"code": code, "status": status, "answer": ans})
    assert status == 200 and isinstance(ans, dict), f"{code} was acknowledged but its trace answer is HTTP {status}"
    kinds = [h.get("kind") for h in ans.get("chain") or []]
    evidence.note(
        f"{code} 的链：{kinds}，complete={ans.get('complete')!r}",
        f"chain of {code}: {kinds}, complete={ans.get('complete')!r}",
    )
    assert ans.get("complete") is not True, (
        f"the chain of {code} ends at the retail market (hops {kinds}: no intake, no origin), yet the answer "
        "calls it complete"
    )
