"""A consumer's receipt code traced back to the farm or the base: every receipt line of the simulated day.

The simulated day (``day_upload``) sends the retail end as daily summaries, whose codes no consumer ever holds.  Here
the same day is simulated again with ``retail_upload = "lines"`` (``simulators.market.retail``: one
``retail_market_tran_info_summ`` per traced scale sale line, ``sale_tran_id`` = the receipt's 20-digit trace code;
practice: Ningbo 鄞州's trigger, deployed/ningbo_yinzhou_retail.md).  Every other record of that run equals the
day's (checked as set-up), so the upstream chain (slaughter intake with ear tags and certificate, meat out, wholesale
entry and trade, retail entry; or the vegetable base's first entry) is what ``day_upload`` already sent; only the
per-line retail records are uploaded (:func:`receipt_lines`).  Several receipts come from one lot, as at a stall.

Their business date is moved to :data:`RECEIPT_DAY` (five weeks after the day: another ISO week, month and quarter
than the day's, a date no other test uses) so that the day's statistics, and those of its week, month and quarter,
stay exactly the day's whatever order the tests run in (tests/conformance/test_platform_periods.py); the run-wide
statistics invariant counts them on their own date (they go through an uploader that feeds the ``acknowledged``
ledger).  Then, for EVERY receipt code sent (no sample):

* PLAT-TRACE-01: the JSON answer is ``found`` and its hops equal the ledger's truth (the receipt's own code first,
  every trade hop, the wholesale batch, the slaughter intake's certificate, the origin), ``complete``;
* PLAT-SRC-01: the JSON answer and the consumer page carry the source identifiers uploaded with the intake (ear-tag
  range, 动物检疫合格证明) or with the vegetable's first entry (production base id, 产地证明号).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import httpx
import pytest

from conformance.notjudgeable import NotJudgeable
from conformance.platform.conftest import cite_day_upload
from conformance.platform.test_trace import _answer_text, _compare, _page_text
from conformance.conftest import run_uploader
from conformance.queries import trace, trace_page
from conformance.simday import DAY, SimulatedDay
from simulators.tls import client_verify

PLATFORM = ("city_platform",)
RETAIL = "retail_market_tran_info_summ"
#: the business date the receipt lines are uploaded on (module docstring): 20250414, in 2025Q2, not the day's 2025Q1
RECEIPT_DAY = DAY + _dt.timedelta(days=35)


@dataclass
class ReceiptLines:
    day: SimulatedDay  # the day simulated with per-line retail records (its truth is the day's)
    codes: dict = field(default_factory=dict)  # receipt code -> the record as sent
    refused: dict = field(default_factory=dict)  # receipt code -> the platform's verdict, when not acknowledged
    evidence_files: list = field(default_factory=list)


def _same_upstream(lines: SimulatedDay, summary: SimulatedDay) -> bool:
    """Whether every record of the lines run other than the retail sales equals the summary run's, in order."""
    other = [(r["node"], r["type"], r["data"]) for r in lines.records if r["type"] != RETAIL]
    return other == [(r["node"], r["type"], r["data"]) for r in summary.records if r["type"] != RETAIL]


@pytest.fixture(scope="module")
def receipt_lines(request, day_upload, profile, capabilities, seed, platform, acknowledged, accepted_envelopes):
    """The day's receipt lines (per-line retail records), uploaded after the day on :data:`RECEIPT_DAY`; HTTP
    exchanges in the evidence folder ``session-receipt-lines``."""
    from conformance.evidence import Evidence
    from conformance.plugin import PLUGIN_NAME

    lines = SimulatedDay(profile, str(capabilities.capabilities.get("city_preset", "tiny")), seed, "lines")
    assert _same_upstream(lines, day_upload.day), (
        "set-up: the day simulated with per-line retail records differs from the simulated day above the retail sale"
    )
    date = RECEIPT_DAY.strftime("%Y%m%d")
    out = ReceiptLines(lines)
    groups: dict[str, list[dict]] = {}
    for r in lines.records:
        d = r["data"]
        if r["type"] == RETAIL and d.get("sale_tran_id") and d.get("sale_date", "").startswith(lines.date):
            rec = {**d, "sale_date": date + d["sale_date"][len(lines.date) :]}
            groups.setdefault(r["node"], []).append(rec)
            out.codes[rec["sale_tran_id"]] = rec
    s = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    ev = Evidence(s.evidence_root, "session-receipt-lines", s.report_root)
    with httpx.Client(
        timeout=httpx.Timeout(30.0, connect=5.0), event_hooks=ev.httpx_hooks(), trust_env=False, verify=client_verify()
    ) as c:
        up = run_uploader(c, profile, platform, acknowledged, accepted_envelopes)
        step = min(profile.envelope.max_count, 200)
        for node, recs in sorted(groups.items()):
            for i in range(0, len(recs), step):
                chunk = recs[i : i + step]
                a = up.upload(node, RETAIL, chunk, header={"DataDate": date})
                verdicts = a.verdicts if a.code == "0000" else [f"envelope {a.code}"] * len(chunk)
                for rec, v in zip(chunk, verdicts):
                    if v not in ("accepted", "duplicate"):
                        out.refused[rec["sale_tran_id"]] = v
    out.evidence_files = list(ev.files)
    return out


def _cite(evidence, day_upload, got: ReceiptLines) -> None:
    cite_day_upload(evidence, day_upload)
    for f in got.evidence_files:
        if f not in evidence.files:
            evidence.files.append(f)
    if not got.codes:
        raise NotJudgeable(
            "该城市的零售记录不带逐笔追溯码（sale_tran_id），没有小票追溯码送达平台",
            "the city's retail sale record carries no per-line trace code (sale_tran_id), so no receipt code "
            "reaches the platform",
        )


@pytest.mark.requirement("PLAT-TRACE-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_every_receipt_code_traces_to_the_truth(day_upload, receipt_lines, http, platform, evidence):
    """Every receipt code sent (per-line retail records) is queried: the answer is found, complete, and its hops (the
    receipt's code first, every trade hop), the wholesale batch, the slaughter intake and the origin equal the
    ledger.  A receipt line the platform refused counts as wrong: it was a valid record of a real sale."""
    _cite(evidence, day_upload, receipt_lines)
    day = receipt_lines.day
    wrong = {c: [f"upload answered {v}"] for c, v in receipt_lines.refused.items()}
    for code in sorted(set(receipt_lines.codes) - set(wrong)):
        status, ans = trace(http, platform.url, code)
        diff = [f"HTTP {status}"] if status != 200 or not isinstance(ans, dict) else _compare(ans, day.truth_of(code))
        if diff:
            wrong[code] = diff
    n = len(receipt_lines.codes)
    evidence.note(
        f"逐条上传了 {n} 张小票的追溯码（零售逐笔记录，业务日 {RECEIPT_DAY:%Y%m%d}），逐一查询，{len(wrong)} 个与真值不符",
        f"uploaded {n} receipt codes (per-line retail records, business day {RECEIPT_DAY:%Y%m%d}) and queried each: "
        f"{len(wrong)} differ from the truth",
    )
    evidence.attach_json("differences.json", wrong)
    assert not wrong, (
        f"{len(wrong)} of {n} receipt codes do not trace back along their true chain (a consumer's receipt must reach "
        f"the slaughter intake or the origin through every hop), e.g. "
        + "; ".join(f"{c}: {', '.join(d)}" for c, d in list(wrong.items())[:3])
    )


@pytest.mark.requirement("PLAT-SRC-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_every_receipt_code_reaches_the_farm_or_the_base(day_upload, receipt_lines, http, platform, evidence):
    """源头衔接 from the consumer's end: for every receipt code sent, the JSON answer and the consumer page carry the
    source identifiers uploaded with the slaughter intake (产地检疫证号, first and last ear tag) or with the vegetable's
    first entry (产地证明号, production base id), exactly as sent.  Where they sit is the platform's choice."""
    _cite(evidence, day_upload, receipt_lines)
    day = receipt_lines.day
    wrong, kinds = {}, {"meat": 0, "vegetable": 0}
    for code in sorted(receipt_lines.codes):
        want = day.source_of(code)
        if not want:
            continue
        kinds["meat" if day.truth_of(code)["intake"] else "vegetable"] += 1
        if code in receipt_lines.refused:
            wrong[code] = [f"upload answered {receipt_lines.refused[code]}"]
            continue
        status, ans = trace(http, platform.url, code)
        text = _answer_text(ans) if status == 200 and isinstance(ans, dict) else ""
        problems = [f"HTTP {status}"] if not text else [f"{k} {v}" for k, v in sorted(want.items()) if v not in text]
        pstatus, html = trace_page(http, platform.url, code)
        page = _page_text(html) if pstatus == 200 and isinstance(html, str) else ""
        problems += (
            [f"page HTTP {pstatus}"]
            if not page
            else [f"page lacks {k} {v}" for k, v in sorted(want.items()) if v not in page]
        )
        if problems:
            wrong[code] = problems
    judged = sum(kinds.values())
    evidence.note(
        f"核对了 {judged} 个小票追溯码（肉 {kinds['meat']}，菜 {kinds['vegetable']}）的源头信息（JSON 与网页），"
        f"{len(wrong)} 个缺失",
        f"checked the source identifiers of {judged} receipt codes (meat {kinds['meat']}, vegetables "
        f"{kinds['vegetable']}) on the JSON answer and the page: {len(wrong)} lack some",
    )
    evidence.attach_json("missing-sources.json", wrong)
    if judged == 0:
        raise NotJudgeable(
            "该城市的记录格式不带源头标识（耳标号、检疫证号、基地编号）",
            "the city's form carries no source identifier (ear tags, certificates, base id)",
        )
    assert not wrong, (
        f"{len(wrong)} of {judged} receipt codes lose the link to the farm or base (JSON answer or consumer page): "
        f"it must carry the intake's ear-tag range and quarantine certificate, or the base id and origin "
        f"certificate of the first entry, e.g. " + "; ".join(f"{c}: {', '.join(d)}" for c, d in list(wrong.items())[:3])
    )
