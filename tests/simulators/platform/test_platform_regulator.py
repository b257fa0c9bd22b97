"""Regulator statistics, district assessment and the district report of the reference platform (issue 14)."""

import datetime as dt

import pytest
from platformkit import (
    MEAT,
    VEG,
    P,
    R,
    S,
    V,
    W,
    code,
    meat_chain,
    rec,
    today,
    upload_all,
    veg_chain,
)

from simulators.platform import periods
from simulators.platform.assessment import Assessment
from simulators.platform.pages.district_report import render_district_report
from simulators.platform.regstats import RegulatorStats, to_csv
from simulators.platform.stats import PeriodError


def _day(offset: int) -> str:
    d = dt.datetime.strptime(today(), "%Y%m%d").date() + dt.timedelta(days=offset)
    return d.strftime("%Y%m%d")


@pytest.mark.parametrize(
    "text,kind,first,last,prev",
    [
        ("2026-W49", "week", "20261130", "20261206", "2026-W48"),
        ("2021-W01", "week", "20210104", "20210110", "2020-W53"),
        ("2024-02", "month", "20240201", "20240229", "2024-01"),
        ("2025-01", "month", "20250101", "20250131", "2024-12"),
        ("2025Q1", "quarter", "20250101", "20250331", "2024Q4"),
        ("20250301", "day", "20250301", "20250301", "20250228"),
    ],
)
def test_periods(text, kind, first, last, prev):
    p = periods.parse(text)
    assert (p.kind, p.first, p.last, p.previous().label) == (kind, first, last, prev)
    assert p.days[0] == first and p.days[-1] == last and len(p.days) == len(set(p.days))


@pytest.mark.parametrize(
    "bad", ["", "2026-W54", "2025-W53", "2026-13", "0000-01", "2026W49", "20250230", "２０２５Q1", "2025Q5", "x" * 20]
)
def test_bad_periods_are_refused(bad):
    with pytest.raises(PeriodError):
        periods.parse(bad)


def test_volumes_prices_origin_operators_and_trend(platform):
    before = _day(-1)
    for node, rtype, recs in meat_chain(day=before, n=7)["uploads"]:  # the day before: the trend's base
        _r, resp = platform.upload(node, rtype, recs, data_date=before)
        assert [x.verdict for x in resp.results] == ["accepted"], resp.results
    upload_all(platform, meat_chain())
    upload_all(platform, veg_chain())
    reg = RegulatorStats(platform.svc.store, P)
    day = periods.parse(today())
    chain = {
        node: recs[0]
        for node, rtype, recs in meat_chain()["uploads"] + veg_chain()["uploads"]
        if rtype in ("meat_out_info_detail", "market_tran_info_detail", "retail_market_tran_info_summ")
    }
    t = reg.table(day, "district")
    by = {g["key"]: g for g in t["groups"]}
    assert set(by) == {S[:6], W[:6]}  # 650104: S and V; 650103: W and R
    # 650104: S ships 100 kg of meat, V sells 30 kg of vegetables
    assert by[S[:6]]["weight_kg"] == "130.000" and by[S[:6]]["records"] == 2 and by[S[:6]]["name"] == "新市区"
    assert by[S[:6]]["previous_kg"] == "100.000" and by[S[:6]]["change"] == 0.3
    cells = {c["goods_code"]: c for c in by[W[:6]]["commodities"]}
    sale, whole = chain[R], chain[W]
    want = (float(sale["price"]) * 2500 + float(whole["price"]) * 40000) / 42500
    assert cells[MEAT.code]["weight_kg"] == "42.500" and abs(float(cells[MEAT.code]["avg_price"]) - want) < 0.006
    origin = {g["key"]: g for g in reg.table(day, "origin")["groups"]}
    assert origin["370000"]["weight_kg"] == "500.000" and origin["370000"]["name"] == "山东省"
    assert origin["unknown"]["weight_kg"] == "100.000"  # the meat entry names no origin
    ops = reg.table(day, "operator", top=2)["groups"]
    assert [g["key"] for g in ops] == [S, W + "0001"]  # 100 kg (the slaughterhouse), then 40 kg
    assert [g["weight_kg"] for g in ops] == ["100.000", "40.000"]
    types = {g["key"]: g["weight_kg"] for g in reg.table(day, "node_type")["groups"]}
    assert types == {
        "slaughter_pig": "100.000",
        "meat_wholesale": "40.000",
        "vegetable_wholesale": "30.000",
        "farmers_market": "3.700",
    }


def test_csv_has_totals_and_commodities_and_defuses_formulas(platform):
    upload_all(platform, veg_chain())
    reg = RegulatorStats(platform.svc.store, P)
    table = reg.table(periods.parse(today()), "district")
    table["groups"][0]["name"] = '=HYPERLINK("http://x")'
    lines = to_csv(table).splitlines()
    assert lines[0].startswith("period,by,key,name,goods_code")
    assert any("'=HYPERLINK" in x for x in lines) and not any(",=HYPERLINK" in x or ',"=HYPERLINK' in x for x in lines)
    assert len(lines) == 1 + sum(1 + len(g["commodities"]) for g in table["groups"])


def test_district_assessment_indicators_and_score(platform):
    upload_all(platform, meat_chain())
    a = Assessment(platform.svc.store, platform.svc.recmap, platform.svc.stats, P)
    out = a.districts(periods.parse(today()))
    rows = {d["code"]: d for d in out["districts"]}
    assert set(rows) == {"650103", "650104", "650109"} and out["problems"] == "included"
    assert rows["650103"]["problems"] == {"flagged": 0, "open": 0, "closed": 0, "mean_close_h": None}
    w = rows["650103"]["indicators"]  # W (meat wholesale), R (farmers' market) uploaded; C (canteen) did not
    assert (w["coverage"]["num"], w["coverage"]["den"]) == (2, 3)
    assert (w["report_rate"]["num"], w["report_rate"]["den"]) == (2, 3)
    assert w["completeness"]["rate"] == round((0.75 + 1.0) / 2, 4)  # W lacks market_tran_info_base
    assert (w["chain"]["num"], w["chain"]["den"]) == (7, 7) and w["scale_usage"]["rate"] is None
    m = rows["650109"]["indicators"]  # M (supermarket) silent
    assert m["coverage"]["rate"] == 0.0 and m["timeliness"]["rate"] is None
    weights = out["weights"]
    rated = [(weights[k], v["rate"]) for k, v in w.items() if v["rate"] is not None]
    assert rows["650103"]["score"] == round(100 * sum(x * r for x, r in rated) / sum(x for x, _ in rated), 2)
    assert rows["650109"]["score"] == 0.0 and rows["650109"]["grade"]["zh"] == "不合格"
    year, wk_no, _ = dt.datetime.strptime(today(), "%Y%m%d").date().isocalendar()
    week = a.districts(periods.parse(f"{year:04d}-W{wk_no:02d}"))
    wk = {d["code"]: d for d in week["districts"]}["650103"]["indicators"]
    assert (wk["report_rate"]["num"], wk["report_rate"]["den"]) == (2, 21) and week["days"] == 7


def test_report_page_escapes_and_draws(platform):
    upload_all(platform, meat_chain())
    a = Assessment(platform.svc.store, platform.svc.recmap, platform.svc.stats, P)
    p = periods.parse(today())
    doc = a.districts(p)
    doc["districts"][0]["name"] = "<script>alert(1)</script>"
    vols = RegulatorStats(platform.svc.store, P).table(p, "district")
    html = render_district_report(doc, vols, "zh")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<tr>") == 1 + len(doc["districts"]) and 'id="chart-score"' in html and "@media print" in html
    assert "<th>综合得分</th>" in html and "<th>未结问题</th>" in html and "从略" not in html
    doc["problems"] = None  # a platform without a problem store: the columns are left out
    html = render_district_report(doc, vols, "zh")
    assert "<th>未结问题</th>" not in html and "从略" in html
    en = render_district_report(doc, None, "en")
    assert (
        "Score" in en and 'id="chart-volume"' not in en and "http" not in en.replace("http://www.w3.org/2000/svg", "")
    )


def test_chain_leaves_out_a_nodes_own_batch_codes(platform):
    """A wholesale market's entry under its own 20-digit batch code names no upstream: not in the chain indicator
    (it is in the daily KPI's chain, which counts every code-shaped batch)."""
    own = code(V + "0002", 99)
    _r, resp = platform.upload(
        V,
        "market_in_info_detail",
        [
            rec(
                "market_in_info_detail",
                V,
                tran_id=None,
                batch_id=own,
                goods_code=VEG.code,
                goods_name=VEG.name_zh,
                quarantine_animal_products_id=None,
                inspection_meat_id=None,
                sale_tran_id=None,
            )
        ],
    )
    assert [x.verdict for x in resp.results] == ["accepted"], resp.results
    a = Assessment(platform.svc.store, platform.svc.recmap, platform.svc.stats, P)
    rows = {d["code"]: d for d in a.districts(periods.parse(today()))["districts"]}
    assert rows[V[:6]]["indicators"]["chain"] == {"rate": None, "num": 0, "den": 0}
    assert platform.svc.stats.kpis(today())["chain"]["linked"] == 1


def test_open_problems_time_to_close_and_closure(platform):
    """Problems flagged for the period's days: open (open or acknowledged), closed, mean hours to close, and the
    closure indicator closed ÷ flagged; a problem of a day outside the period does not count."""
    upload_all(platform, meat_chain())
    day, h = today(), 3_600_000
    rows = [
        ("silent_node", W, day, "open", 0, None),
        ("chain_break", W + "x", day, "acknowledged", 0, None),
        ("price_outlier", R, day, "closed", 10 * h, 12 * h),
        ("stock_imbalance", R, day, "closed", 0, 3 * h),
        ("silent_node", R, _day(-1), "closed", 0, h),
        ("silent_node", S, day, "closed", 5 * h, 6 * h),
    ]
    with platform.svc.store.write() as tx:
        for kind, subject, d, state, det, closed in rows:
            tx.execute(
                "INSERT INTO problems (kind, subject, data_date, node_id, district, records, codes, detail, state,"
                " detected_ms, closed_ms) VALUES (?, ?, ?, ?, ?, '[]', '[]', '{}', ?, ?, ?)",
                (kind, subject, d, subject[:9], subject[:6], state, det, closed),
            )
    a = Assessment(platform.svc.store, platform.svc.recmap, platform.svc.stats, P)
    got = {d["code"]: d for d in a.districts(periods.parse(today()))["districts"]}
    assert got[W[:6]]["problems"] == {"flagged": 4, "open": 2, "closed": 2, "mean_close_h": 2.5}
    assert got[W[:6]]["indicators"]["closure"] == {"rate": 0.5, "num": 2, "den": 4}
    assert got[S[:6]]["problems"] == {"flagged": 1, "open": 0, "closed": 1, "mean_close_h": 1.0}
    assert got["650109"]["indicators"]["closure"]["rate"] is None
