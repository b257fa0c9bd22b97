"""District figures (属地管理) equal the truth the harness computes from what it uploaded: the simulated day.

The period is the ISO week of the simulated day (no other test uploads records of that week), so the week's
figures are the day's.  The endpoints answer a registered regulator only: the requests are signed as the
``regulator`` fixture (conftest.py), whose jurisdiction is the whole city.  Definitions: ``profiles/reference/assessment.toml`` (read here as data, not through the
reference platform's code), docs/regulator.md.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest

from conformance.platform.conftest import cite_day_upload, registered_nodes
from conformance.queries import district_assessment, regulator_stats
from conformance.simday import DAY, grams
from conformance.testrecords import role_of
from profiles.assessment import load_assessment

PLATFORM = ("city_platform",)
RULES = load_assessment()
DIGITS = int(RULES["district"]["digits"])
_y, _w, _ = DAY.isocalendar()
WEEK = f"{_y:04d}-W{_w:02d}"


def _price(text) -> Decimal | None:
    try:
        p = Decimal(str(text).strip()) if text not in (None, "") else None
    except InvalidOperation:
        return None
    return p if p is not None and p.is_finite() and p >= 0 else None


def _avg(value: Decimal, g: int) -> str | None:
    return str((value / g).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) if g else None


def _kg(g: int) -> str:
    return f"{g // 1000}.{g % 1000:03d}"


def _truth_cells(records, key_of, types) -> dict:
    """group -> goods -> [records, grams, priced grams, Σ price × grams] over the records of ``types``."""
    out = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, Decimal(0)]))
    for r in records:
        if r["type"] not in types:
            continue
        d = r["data"]
        goods = d.get("goods_code") or d.get("meat_code") or ""
        c = out[key_of(r)][goods]
        g = grams(d.get("weight"))
        c[0] += 1
        c[1] += g
        p = _price(d.get(RULES["statistics"]["price_field"]))
        if p is not None:
            c[2] += g
            c[3] += p * g
    return out


def _compare(label: str, truth: dict, got, with_price: bool) -> list[str]:
    """Every group and commodity of ``truth`` against the platform's table ``got``; and nothing extra."""
    if not isinstance(got, dict) or not isinstance(got.get("groups"), list):
        return [f"{label}: not a table: {got!r:.200}"]
    wrong = []
    groups = {g.get("key"): g for g in got["groups"] if isinstance(g, dict)}
    for key in sorted(set(truth) | set(groups)):
        t, g = truth.get(key, {}), groups.get(key) or {}
        cells = {c.get("goods_code"): c for c in g.get("commodities", []) if isinstance(c, dict)}
        t_total = sum(v[1] for v in t.values())
        if g.get("weight_kg") != _kg(t_total) or g.get("records") != sum(v[0] for v in t.values()):
            wrong.append(
                f"{label} {key}: {g.get('records')} records, {g.get('weight_kg')} kg; truth "
                f"{sum(v[0] for v in t.values())} records, {_kg(t_total)} kg"
            )
        for goods in sorted(set(t) | set(cells)):
            tv, c = t.get(goods, [0, 0, 0, Decimal(0)]), cells.get(goods, {})
            want = {"records": tv[0], "weight_kg": _kg(tv[1])}
            if with_price:
                want["avg_price"] = _avg(tv[3], tv[2])
            have = {k: c.get(k) for k in want}
            if have != want:
                wrong.append(f"{label} {key}/{goods}: {have}, truth {want}")
    return wrong


@pytest.mark.requirement("PLAT-DIST-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("regulator_statistics",))
def test_district_and_node_type_volumes_and_prices_equal_the_truth(
    day_upload, city, http, platform, evidence, profile, regulator
):
    """For the week of the simulated day, per district (the node code's first 6 digits) and per node type, every
    commodity's kg, record count and weighted average price equal those of the volume records the harness
    uploaded (each record once)."""
    cite_day_upload(evidence, day_upload)
    types = set(RULES["statistics"]["volume_types"])
    ntype = {n.code: n.type for n in city.nodes}
    recs = day_upload.day.records
    wrong, seen = [], {}
    for by, key_of in (
        ("district", lambda r: r["node"][:DIGITS]),
        ("node_type", lambda r: ntype.get(r["node"], "unregistered")),
    ):
        truth = _truth_cells(recs, key_of, types)
        status, got = regulator_stats(http, platform.url, WEEK, by, profile, regulator)
        seen[by] = {
            "platform": got,
            "truth": {k: {g: [v[0], _kg(v[1]), _avg(v[3], v[2])] for g, v in c.items()} for k, c in truth.items()},
        }
        if status != 200:
            wrong.append(f"by={by}: HTTP {status} {got!r:.200}")
            continue
        wrong += _compare(f"by={by}", truth, got, with_price=True)
    evidence.attach_json("district-volumes.json", seen)
    assert not wrong, f"{len(wrong)} figures differ from the uploaded records (period {WEEK}), e.g. " + "; ".join(
        wrong[:5]
    )


@pytest.mark.requirement("PLAT-DIST-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("regulator_statistics",))
def test_inflow_by_province_of_origin_equals_the_truth(day_upload, http, platform, evidence, profile, regulator):
    """For the week of the simulated day, the kg entering wholesale markets per province of origin (the origin
    code's first 2 digits) equal the entry records the harness uploaded."""
    cite_day_upload(evidence, day_upload)
    st = RULES["statistics"]

    def province(r):
        c = r["data"].get(st["origin_field"]) or ""
        return c[:2] + "0000" if len(c) == 6 and c.isdigit() else "unknown"

    truth = _truth_cells(day_upload.day.records, province, set(st["origin_types"]))
    status, got = regulator_stats(http, platform.url, WEEK, "origin", profile, regulator)
    evidence.attach_json(
        "origin-inflow.json",
        {"platform": got, "truth": {k: {g: [v[0], _kg(v[1])] for g, v in c.items()} for k, c in truth.items()}},
    )
    assert status == 200, f"GET /api/v1/regulator/stats?period={WEEK}&by=origin: HTTP {status} {got!r:.300}"
    assert truth, "the simulated day uploaded no wholesale entry: nothing to compare"
    wrong = _compare("by=origin", truth, got, with_price=False)
    assert not wrong, f"{len(wrong)} inflow figures differ from the uploaded entries, e.g. " + "; ".join(wrong[:5])


@pytest.mark.requirement("PLAT-DIST-03")
@pytest.mark.applies(kinds=PLATFORM, needs=("district_assessment",))
def test_district_indicators_and_score_equal_the_truth(
    day_upload, city, records, uploader, http, platform, profile, evidence, regulator
):
    """For the week of the simulated day (7 days), per district of the registered nodes: coverage = nodes that
    uploaded ÷ nodes, report rate = node-days with records ÷ (nodes × 7), timeliness = 0 ÷ the records (all sent
    long after their day), completeness = Σ over the node-days with records of the share of their role's expected
    record types sent ÷ those node-days; the score = 100 × Σ weight × rate ÷ Σ weight over the platform's own rates
    (assessment.toml).  The day after the simulated day, one retail node uploads one record type only (an
    incomplete node-day: completeness below 1, a second reporting day).  Scale usage, chain completeness and
    problems are compared only through the score (judged by PLAT-KPI-01, PLAT-KPI-04 and PLAT-PROB-*)."""
    cite_day_upload(evidence, day_upload)
    registered = registered_nodes(http, platform.url, city, evidence)
    extra_type = "retail_market_in_info_base"
    extra_node, extra_day = records.node_for(extra_type), DAY + _dt.timedelta(days=1)
    a = uploader.upload(
        extra_node,
        extra_type,
        [records.make(extra_type, extra_day, node=extra_node)],
        header={"DataDate": extra_day.strftime("%Y%m%d")},
    )
    assert a.verdicts in (["accepted"], ["duplicate"]), f"{extra_type} of {extra_node} on {extra_day} not accepted: {a}"
    recs = [
        *({"node": r["node"], "type": r["type"], "day": DAY} for r in day_upload.day.records),
        {"node": extra_node, "type": extra_type, "day": extra_day},
    ]
    types_of = defaultdict(set)  # (node, day) -> record types
    records_of = defaultdict(int)
    for r in recs:
        types_of[(r["node"], r["day"])].add(r["type"])
        records_of[r["node"][:DIGITS]] += 1
    occasional = set(_platform_rules().get("completeness", {}).get("occasional", []))
    expected = {
        role: {n for n, t in profile.records.types.items() if t.node_type == role and n not in occasional}
        for role in {role_of(t) for t in registered.values()}
    }
    truth = defaultdict(
        lambda: {"coverage": [0, 0], "report_rate": [0, 0], "timeliness": [0, 0], "completeness": [0.0, 0]}
    )
    for node, ntype in registered.items():
        t = truth[node[:DIGITS]]
        days = [types for (n, _d), types in types_of.items() if n == node]
        t["coverage"][0] += bool(days)
        t["coverage"][1] += 1
        t["report_rate"][0] += len(days)
        t["report_rate"][1] += 7
        exp = expected.get(role_of(ntype))
        for types in days if exp else ():
            t["completeness"][0] += len(types & exp) / len(exp)
            t["completeness"][1] += 1
    for d, n in records_of.items():
        if d in truth:
            truth[d]["timeliness"][1] = n
    status, got = district_assessment(http, platform.url, WEEK, profile, regulator)
    evidence.attach_json("district-assessment.json", {"platform": got, "truth": truth})
    assert status == 200 and isinstance(got, dict), (
        f"GET /api/v1/regulator/districts?period={WEEK}: HTTP {status} {got!r:.300}"
    )
    rows = {d.get("code"): d for d in got.get("districts", []) if isinstance(d, dict)}
    wrong = []
    if set(rows) != set(truth):
        wrong.append(
            f"districts {sorted(rows)}, truth {sorted(truth)} (the first {DIGITS} digits of the "
            "registered nodes' codes)"
        )
    weights = RULES["assessment"]["weights"]
    for code in sorted(set(rows) & set(truth)):
        ind = rows[code].get("indicators") or {}
        for k, (num, den) in truth[code].items():
            g = ind.get(k) or {}
            want = round(num / den, 4) if den else None
            ok = (
                g.get("den") == den
                and abs(float(g.get("num") or 0) - num) < 1e-3
                and (
                    (want is None and g.get("rate") is None)
                    or (want is not None and g.get("rate") is not None and abs(g["rate"] - want) < 1e-3)
                )
            )
            if not ok:
                wrong.append(
                    f"{code} {k}: {g.get('num')}/{g.get('den')} = {g.get('rate')}, truth {round(num, 4)}/{den} = {want}"
                )
        rated = [(w, (ind.get(k) or {}).get("rate")) for k, w in weights.items()]
        rated = [(w, r) for w, r in rated if isinstance(r, (int, float))]
        want = round(100 * sum(w * r for w, r in rated) / sum(w for w, _ in rated), 2) if rated else None
        score = rows[code].get("score")
        if (want is None) != (score is None) or (want is not None and abs(float(score) - want) > 0.01):
            wrong.append(f"{code} score {score}, the profile's method on the platform's own rates gives {want}")
    assert not wrong, f"{len(wrong)} district figures differ from the truth ({WEEK}), e.g. " + "; ".join(wrong[:6])


def _platform_rules() -> dict:
    """The reference platform's completeness rule (platform.toml [completeness]: the occasional record types),
    the definition assessment.toml names; read as data."""
    path = Path(__file__).resolve().parents[2] / "simulators" / "platform" / "platform.toml"
    return tomllib.loads(path.read_text("utf-8"))
