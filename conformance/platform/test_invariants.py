"""Run-wide invariants of the platform: every observation judged, not samples.

* every record of the simulated day that the platform acknowledged (accepted or duplicate) and that carries the
  trace code it issues is in the trace answer of that code, every field as sent (PLAT-TRACE-01);
* a record is traceable as soon as it is acknowledged: no answer from before the upload is served after it;
* for every trace code of the day the consumer page shows every hop of the JSON answer and exactly its test
  results (PLAT-TRACE-02, PLAT-TRACE-03: what consumers are shown is what was stored);
* every node-facing endpoint (upload, stop-trade fetch and acknowledgement) refuses every request that is
  unsigned, signed with another key, signed outside the clock window, or replayed (PLAT-SEC-01);
* a rate whose denominator is zero or unknown is not computable (PLAT-KPI-03, PLAT-KPI-04);
* the stop-trade listing shows exactly what each node fetched and acknowledged (PLAT-STOP-02);
* every daily statistics cell (node, record type, commodity) of every business day the harness sent records of in
  the whole run, and the day's KPI counts, equal the records acknowledged, each once, on its business day in
  Beijing time, re-sends and corrections included (PLAT-KPI-04; :mod:`conformance.acknowledged`; runs last).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from html import unescape

import pytest

from conformance.platform.conftest import cite_day_upload, registered_nodes
from conformance.platform.test_districts import _platform_rules
from conformance.queries import DROPPED, day_rows, kpis, quarter_kpis, stats_totals, trace, trace_page
from conformance.simday import OWN_CODE, grams
from conformance.testrecords import role_of

PLATFORM = ("city_platform",)
ACKED = ("accepted", "duplicate")
#: a test result as a consumer reads it: 合格 / 不合格, not part of a certificate's name (检疫合格证号)
RESULT_WORD = re.compile(r"(不?)合格(?!证)")


def acknowledged(up) -> list[tuple[str, str, dict]]:
    """``(node, record type, record)`` of every record the platform answered accepted or duplicate, once each."""
    out, seen = [], set()
    for node, rtype, recs, _rep, a in up.answers:
        if a.code != "0000":
            continue
        for rec, verdict in zip(recs, a.verdicts):
            key = (node, rtype, tuple(sorted(rec.items())))
            if verdict in ACKED and key not in seen:
                seen.add(key)
                out.append((node, rtype, rec))
    return out


def issuing(up) -> dict[str, list[tuple[str, str, dict]]]:
    """Trace code -> the acknowledged records at the issuing node (the code's first 9 digits) that carry it in the
    field naming the code a record issues (``tran_id`` / ``sale_tran_id``, base and detail lines alike)."""
    fields = set(OWN_CODE.values())
    codes = set(up.day.own_codes())
    out: dict[str, list] = {c: [] for c in codes}
    for node, rtype, rec in acknowledged(up):
        for f in fields:
            c = rec.get(f)
            if c in codes and c[:9] == node:
                out[c].append((node, rtype, rec))
                break
    return out


def same_record(sent: dict, shown: dict) -> list[str]:
    """The fields of ``sent`` that ``shown`` (a record of a trace answer: its ``fields``) does not repeat exactly."""
    fields = shown.get("fields") if isinstance(shown.get("fields"), dict) else {}
    return [k for k, v in sent.items() if (fields.get(k) or "") != (v or "")]


def _missing_in(ans: dict, expected: list[tuple[str, str, dict]]) -> list[str]:
    """Each expected record must match a record of its own in the answer (any hop): what is missing or differs."""
    shown = [r for h in ans.get("chain") or [] for r in h.get("records") or [] if isinstance(r, dict)]
    used: set[int] = set()
    out = []
    for node, rtype, rec in expected:
        candidates = [
            (i, same_record(rec, r)) for i, r in enumerate(shown) if i not in used and r.get("type") in (None, rtype)
        ]
        exact = next((i for i, diff in candidates if not diff), None)
        if exact is not None:
            used.add(exact)
        elif not candidates:
            out.append(f"{rtype} of {node} is not in the answer")
        else:
            closest = min((diff for _i, diff in candidates), key=len)
            out.append(f"{rtype} of {node}: no record of the answer repeats it (closest differs in {closest[:4]})")
    return out


@pytest.mark.requirement("PLAT-TRACE-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_every_acknowledged_record_is_in_its_trace_answer_in_full(day_upload, http, platform, evidence):
    """For every trace code the simulated day issued, every acknowledged record of the issuing node that carries
    the code (base and every detail line) is in the code's trace answer with every field exactly as uploaded —
    no hop may drop, truncate, reorder into another record or alter one of them."""
    cite_day_upload(evidence, day_upload)
    expected = issuing(day_upload)
    wrong, checked = {}, 0
    for code in sorted(expected):
        status, ans = trace(http, platform.url, code)
        if status != 200 or not isinstance(ans, dict):
            wrong[code] = [f"HTTP {status}"]
            continue
        checked += len(expected[code])
        diff = _missing_in(ans, expected[code])
        if diff:
            wrong[code] = diff
    evidence.note(
        f"{len(expected)} 个追溯码，逐条核对 {checked} 条已确认记录的全部字段；{len(wrong)} 个应答不符",
        f"{len(expected)} trace codes, every field of {checked} acknowledged records checked; "
        f"{len(wrong)} answers differ",
    )
    evidence.attach_json("differences.json", wrong)
    assert checked, "the simulated day acknowledged no record that issues a trace code"
    assert not wrong, (
        f"{len(wrong)} of {len(expected)} trace answers lack or alter acknowledged records (every "
        "record of every hop, every field, must be as uploaded), e.g. "
        + "; ".join(f"{c}: {', '.join(d[:2])}" for c, d in list(wrong.items())[:3])
    )


@pytest.mark.requirement("PLAT-TRACE-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_a_record_is_traceable_as_soon_as_it_is_acknowledged(records, uploader, http, platform, evidence):
    """A sale's trace code queried before its upload is unknown (JSON and page); once the upload is acknowledged
    the very next queries find it with the uploaded weight: no answer is served from before the upload."""
    d = records.fresh_day()
    rtype = "retail_market_tran_info_summ"
    node = records.node_for(rtype)
    rec = records.make(rtype, d, weight="7.431")
    code = rec["sale_tran_id"]
    before, _a = trace(http, platform.url, code)
    pbefore, _p = trace_page(http, platform.url, code)
    assert before == 404 and pbefore == 404, (
        f"set-up: {code} is not uploaded yet but answers JSON {before}, page {pbefore}"
    )
    a = uploader.upload(node, rtype, [rec], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.verdicts == ["accepted"], f"set-up: {a}"
    status, ans = trace(http, platform.url, code)
    pstatus, html = trace_page(http, platform.url, code)
    evidence.note(
        f"上传前 {before}/{pbefore}，上传后 {status}/{pstatus}",
        f"before the upload {before}/{pbefore}, after {status}/{pstatus}",
    )
    assert status == 200 and isinstance(ans, dict), (
        f"{code} was acknowledged but its trace answer is still HTTP {status} (a stale answer from before the upload)"
    )
    weights = [r.get("fields", {}).get("weight") for h in ans.get("chain", []) for r in h.get("records", [])]
    assert "7.431" in weights, f"the trace answer of {code} does not show the uploaded sale: weights {weights}"
    assert pstatus == 200 and "7.431" in html, (
        f"{code} was acknowledged but the consumer page still answers HTTP {pstatus} without the sale"
    )


def _page_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _results(ans: dict) -> tuple[int, int]:
    """(passed, failed) test results among the records of every hop of a JSON trace answer."""
    vals = [r.get("fields", {}).get("detection_result") for h in ans.get("chain", []) for r in h.get("records", [])]
    return sum(v == "1" for v in vals), sum(v not in (None, "", "1") for v in vals)


@pytest.mark.requirement("PLAT-TRACE-02", "PLAT-TRACE-03")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_consumer_page_shows_every_hop_and_the_stored_test_results(day_upload, http, platform, evidence):
    """For every trace code of the day, the consumer page (zh) shows, in the JSON answer's order, every hop's
    business (or origin), and exactly the test results stored in the chain: as many 合格 and 不合格 as the
    chain's records hold passed and failed results."""
    cite_day_upload(evidence, day_upload)
    codes = sorted(day_upload.day.own_codes())
    problems, results = [], [0, 0]
    for code in codes:
        status, ans = trace(http, platform.url, code)
        pstatus, html = trace_page(http, platform.url, code)
        if status != 200 or pstatus != 200 or not isinstance(ans, dict) or status == DROPPED:
            problems.append(f"{code}: JSON HTTP {status}, page HTTP {pstatus}")
            continue
        text = _page_text(html)
        at = 0
        for h in ans.get("chain", []):
            w = (h.get("node") or {}).get("name") if h.get("kind") != "origin" else h.get("region")
            found = text.find(w, at) if w else at
            if found < 0:
                problems.append(f"{code}: the page lacks {w!r} ({h.get('kind')} hop) after position {at}")
                break
            at = found
        passed, failed = _results(ans)
        results[0] += passed
        results[1] += failed
        shown = RESULT_WORD.findall(text)
        shown_fail = shown.count("不")
        shown_pass = len(shown) - shown_fail
        if (shown_pass, shown_fail) != (passed, failed):
            problems.append(
                f"{code}: the page shows {shown_pass} 合格 and {shown_fail} 不合格, the stored chain holds "
                f"{passed} passed and {failed} failed test results"
            )
    evidence.note(
        f"{len(codes)} 个追溯码的网页逐一核对；链中检测结果 合格 {results[0]}、不合格 {results[1]}",
        f"the pages of {len(codes)} codes checked; test results in the chains: {results[0]} passed, "
        f"{results[1]} failed",
    )
    evidence.attach_json("problems.json", problems)
    assert codes, "the simulated day issued no trace code"
    assert sum(results), "no chain of the day holds a test result: the test results on the page were not exercised"
    assert not problems, f"{len(problems)} consumer pages differ from the stored chain: " + "; ".join(problems[:4])


def _signed_get(profile, key: str, node: str, path: str, now=None) -> dict:
    from simulators.platform.nodeauth import sign

    return sign(profile.envelope, key, node, "GET", path, b"", now=now)


@pytest.mark.requirement("PLAT-SEC-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("stop_trade_broadcast",))
def test_every_node_facing_endpoint_authenticates_every_request(
    message_authentication, profile, records, uploader, http, platform, evidence
):
    """Upload, stop-trade fetch and stop-trade acknowledgement each refuse: no signature, a wrong VerifyCode,
    another node's key, a RequestTime outside the clock window, and a replay of a request that was accepted.
    The correctly signed request is accepted (so the refusals are for the signature, not the request)."""
    from conformance.uploads import envelope

    message_authentication()

    keys = platform.keys
    node, other = sorted(keys)[:2]
    stale = _dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=2)
    got: dict[str, object] = {}
    # signed GET: the stop-trade fetch
    path = "/api/v1/stoptrade"
    good = _signed_get(profile, keys[node], node, path)
    cases = {
        "unsigned": {},
        "wrong VerifyCode": {**good, "X-Verify-Code": "0" * 32},
        "another node's key": _signed_get(profile, keys[other], node, path),
        "outside the clock window": _signed_get(profile, keys[node], node, path, now=stale),
    }
    for what, heads in cases.items():
        got[f"GET {path}: {what}"] = http.get(platform.url + path, headers=heads).status_code
    first = http.get(platform.url + path, headers=good).status_code
    assert first == 200, f"set-up: a correctly signed fetch of {path} answered {first}"
    got[f"GET {path}: replay"] = http.get(platform.url + path, headers=good).status_code
    # signed POST: an acknowledgement (of an instruction that need not exist: refusal must come first)
    ack = "/api/v1/stoptrade/999999999/ack"
    from simulators.platform.nodeauth import sign

    for what, heads in {
        "unsigned": {},
        "another node's key": sign(profile.envelope, keys[other], node, "POST", ack),
        "outside the clock window": sign(profile.envelope, keys[node], node, "POST", ack, now=stale),
    }.items():
        got[f"POST {ack}: {what}"] = http.post(platform.url + ack, content=b"", headers=heads).status_code
    # upload
    d = records.fresh_day()
    rtype = "retail_market_in_info_base"
    un = records.node_for(rtype)
    rec = records.make(rtype, d)
    date = {"DataDate": d.strftime("%Y%m%d")}
    ups = {
        "unsigned": envelope(profile, un, keys[un], rtype, [rec], header=date, omit=("VerifyCode",)),
        "wrong VerifyCode": envelope(profile, un, keys[un], rtype, [rec], header={**date, "VerifyCode": "0" * 32}),
        "another node's key": envelope(profile, un, keys[other if other != un else node], rtype, [rec], header=date),
        "outside the clock window": envelope(
            profile,
            un,
            keys[un],
            rtype,
            [rec],
            header={
                **date,
                "RequestTime": (_dt.datetime.now(_dt.UTC) + _dt.timedelta(hours=6)).strftime("%Y%m%d%H%M%S") + "000",
            },
        ),
    }
    for what, body in ups.items():
        a = uploader.post(body)
        got[f"upload: {what}"] = a.code
    body = envelope(profile, un, keys[un], rtype, [rec], header=date)
    a = uploader.post(body)
    assert a.verdicts == ["accepted"], f"set-up: a correctly signed upload was answered {a}"
    got["upload: replay"] = uploader.post(body).code
    evidence.attach_json("answers.json", got)
    let_in = {k: v for k, v in got.items() if v in (200, "0000") or (isinstance(v, int) and v < 400)}
    evidence.note(
        f"{len(got)} 个未正确签名的请求，{len(let_in)} 个被接受",
        f"{len(got)} badly signed requests, {len(let_in)} let in",
    )
    assert not let_in, f"node-facing endpoints let badly signed requests in: {let_in}"
    assert all(v is not None for v in got.values()), f"unreadable answers: {got}"


EMPTY_QUARTER = "2022Q2"  # no test uploads records of this quarter, and no enterprise count is entered for it


@pytest.mark.requirement("PLAT-KPI-03", "PLAT-KPI-04")
@pytest.mark.applies(kinds=PLATFORM, needs=("statistics", "quarterly_kpis"))
def test_rates_with_a_zero_denominator_are_not_computable(records, http, platform, evidence):
    """A rate whose denominator is zero or unknown is answered ``null`` (not computable), never 0 or 100 %: the
    upload timeliness and chain rates of a business day without any record, and the coverage rate of a node type
    whose enterprise count is not entered (or 0); a composite is the mean of the computable rates only."""
    date = records.fresh_day().strftime("%Y%m%d")
    status, k = kpis(http, platform.url, date)
    assert status == 200 and isinstance(k, dict), f"GET /api/v1/kpis?date={date}: HTTP {status} {k!r:.300}"
    wrong = []
    t = k.get("timeliness") or {}
    if t.get("records") != 0 or t.get("overall") is not None:
        wrong.append(f"timeliness of {date} (no record): {t.get('on_time')}/{t.get('records')} = {t.get('overall')!r}")
    for role, v in (t.get("by_role") or {}).items():
        if v.get("records") == 0 and v.get("rate") is not None:
            wrong.append(f"timeliness of {role} on {date} with 0 records = {v.get('rate')!r}")
    c = k.get("chain") or {}
    if c.get("linked") == 0 and c.get("overall") is not None:
        wrong.append(f"chain rate of {date} with 0 linked records = {c.get('overall')!r}")
    status, q = quarter_kpis(http, platform.url, EMPTY_QUARTER)
    assert status == 200 and isinstance(q, dict), f"GET /api/v1/kpis/quarter?quarter={EMPTY_QUARTER}: HTTP {status}"
    rates = []
    for ntype, g in sorted((q.get("by_node_type") or {}).items()):
        cov = g.get("coverage") or {}
        if not cov.get("enterprises"):
            if cov.get("rate") is not None:
                wrong.append(
                    f"{EMPTY_QUARTER} coverage of {ntype} with enterprises {cov.get('enterprises')!r} = "
                    f"{cov.get('rate')!r}"
                )
        elif cov.get("rate") is not None:
            rates.append(cov["rate"])
    comp = (q.get("composite") or {}).get("coverage")
    want = round(sum(rates) / len(rates), 4) if rates else None
    if (comp is None) != (want is None) or (comp is not None and abs(comp - want) > 1e-3):
        wrong.append(f"{EMPTY_QUARTER} composite coverage {comp!r}, mean of the computable rates {want!r}")
    evidence.attach_json("zero-denominators.json", {"date": date, "kpis": k, "quarter": q})
    assert not wrong, "rates with a zero or unknown denominator must be null (not computable): " + "; ".join(wrong[:6])


@pytest.mark.requirement("PLAT-STOP-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("stop_trade_broadcast",))
def test_stop_trade_listing_shows_what_each_node_fetched_and_acknowledged(
    day_upload, records, uploader, http, platform, profile, evidence
):
    """After a failed test of a batch of the day, every instruction any node fetches is in the broadcast listing
    addressed to that node with the same batch code; once the node acknowledges it, the listing shows it
    acknowledged, and every instruction not acknowledged shows no acknowledgement."""
    from conformance.platform.test_stoptrade import _fail_test, _holders
    from conformance.queries import broadcasts, stop_ack, stop_pending

    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    batch, ws, *_ = _holders(day)[-1]
    _fail_test(day, records, uploader, batch, ws, "INV")
    fetched: dict[int, tuple[str, str]] = {}
    for node in sorted(platform.keys):
        status, doc = stop_pending(http, platform.url, profile, node, platform.keys[node])
        assert status == 200, f"{node} could not fetch its instructions: HTTP {status}"
        for i in doc.get("instructions", []):
            fetched[i["id"]] = (node, i.get("batch_code"))
    assert fetched, "set-up: the failed test produced no stop-trade instruction"
    acked = sorted(fetched)[::2]
    for iid in acked:
        node = fetched[iid][0]
        s, _ = stop_ack(http, platform.url, profile, node, platform.keys[node], iid)
        assert s == 200, f"set-up: {node} could not acknowledge instruction {iid}: HTTP {s}"
    status, listing = broadcasts(http, platform.url)
    assert status == 200 and isinstance(listing, dict), f"GET /api/v1/stoptrade/broadcasts: HTTP {status}"
    items = {i.get("id"): i for i in listing.get("instructions", [])}
    wrong = []
    for iid, (node, code) in sorted(fetched.items()):
        i = items.get(iid)
        if i is None:
            wrong.append(f"instruction {iid} fetched by {node} is not listed")
        elif (i.get("node_id"), i.get("batch_code")) != (node, code):
            wrong.append(
                f"instruction {iid} fetched by {node} for {code} is listed for {i.get('node_id')} / "
                f"{i.get('batch_code')}"
            )
        elif bool(i.get("acked_ms")) != (iid in acked):
            wrong.append(
                f"instruction {iid} of {node}: acknowledged {iid in acked}, listed acked_ms {i.get('acked_ms')!r}"
            )
    evidence.attach_json(
        "fetched-vs-listed.json",
        {"fetched": {str(k): v for k, v in fetched.items()}, "acknowledged": acked, "listing": listing},
    )
    assert not wrong, "the stop-trade listing differs from what the nodes fetched and acknowledged: " + "; ".join(
        wrong[:5]
    )


#: times of day (Beijing) of the business-day boundary probe, as (day offset, hh, mm, ss): each side of midnight,
#: the last second before 08:00 (midnight UTC) and 16:00 (midnight UTC+16): a platform that takes the date in UTC,
#: or shifts it by 8 h either way, puts some of them on a neighbouring day
BOUNDARY = ((1, 0, 0, 0), (1, 23, 59, 59), (2, 0, 0, 0), (2, 7, 59, 59), (2, 16, 0, 0))


def _with_time(profile, rtype: str, d: _dt.date, hh: int, mm: int, ss: int) -> str | None:
    """``d`` at ``hh:mm:ss`` in a form of ``rtype``'s business-date field that carries the time, or ``None``."""
    rt = profile.records.types[rtype]
    f = rt.by_name.get(rt.date_field) if rt.date_field else None
    forms = [name for name, _rx in (f.date_forms if f is not None else ())]
    t = _dt.datetime(d.year, d.month, d.day, hh, mm, ss)
    for form, fmt in (("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"), ("yyyyMMddHHmmss", "%Y%m%d%H%M%S")):
        if form in forms:
            return t.strftime(fmt)
    return None


def _boundary_probe(profile, records, uploader) -> list[_dt.date]:
    """Sales on both sides of the business-day boundaries of two consecutive fresh days (with a fresh day before
    and after, where nothing is sent), one envelope per business day and node; then the first day's envelope sent
    again (re-sends) and one record sent again with another weight (a correction).  ``uploader`` tells its ledger
    of every answer.  Returns the four days ([] when no record type can carry a time of day)."""
    days = [records.fresh_day() for _ in range(4)]
    assert all(b - a == _dt.timedelta(days=1) for a, b in itertools.pairwise(days)), f"set-up: fresh days {days}"
    sent = []
    for rtype in ("retail_market_tran_info_summ", "market_tran_info_detail"):
        node = records.node_for(rtype)
        by_day: dict[_dt.date, list[dict]] = {}
        for off, hh, mm, ss in BOUNDARY:
            when = _with_time(profile, rtype, days[off], hh, mm, ss)
            if when is None:
                continue
            rec = records.make(rtype, days[off], node=node)
            rec[profile.records.types[rtype].date_field] = when
            by_day.setdefault(days[off], []).append(rec)
        for d, recs in sorted(by_day.items()):
            date = d.strftime("%Y%m%d")
            a = uploader.upload(node, rtype, recs, header={"DataDate": date})
            assert a.verdicts == ["accepted"] * len(recs), f"set-up: {rtype} of {node} on {date}: {a}"
            sent.append((node, rtype, recs, date))
    if sent:
        node, rtype, recs, date = sent[0]
        uploader.upload(node, rtype, recs, header={"DataDate": date})
        fix = {**recs[-1], "weight": f"{grams(recs[-1].get('weight')) / 1000 + 1.25:.3f}"}
        uploader.upload(node, rtype, [fix], header={"DataDate": date})
    return days if sent else []


def _completeness_truth(truth: dict, registered: dict[str, str], expected: dict[str, set]) -> dict:
    """``{"by_role": {role: mean share}, "overall": mean}`` of the registered nodes with records in ``truth``
    (cells of one day): each node's share of its role's expected record types that it sent (the platform's
    definition, simulators/platform/stats.py; the expected types are the role's catalogue types without the
    occasional ones of platform.toml [completeness]); roles without expected types are left out."""
    sent: dict[str, set] = {}
    for node, rtype, _g in truth:
        sent.setdefault(node, set()).add(rtype)
    shares: dict[str, list[float]] = {}
    for node, types in sent.items():
        exp = expected.get(role_of(registered[node])) if node in registered else None
        if exp:
            shares.setdefault(role_of(registered[node]), []).append(len(types & exp) / len(exp))
    every = [x for v in shares.values() for x in v]
    return {
        "by_role": {r: round(sum(v) / len(v), 4) for r, v in sorted(shares.items())},
        "overall": round(sum(every) / len(every), 4) if every else None,
    }


def _completeness_differs(want: dict, got) -> bool:
    got = got if isinstance(got, dict) else {}
    by_role = got.get("by_role") if isinstance(got.get("by_role"), dict) else {}
    pairs = [(want["overall"], got.get("overall"))] + [(v, by_role.get(r)) for r, v in want["by_role"].items()]
    pairs += [(None, v) for r, v in by_role.items() if r not in want["by_role"]]
    return any(
        (w is None) != (g is None) or (w is not None and (not isinstance(g, (int, float)) or abs(g - w) > 1e-3))
        for w, g in pairs
    )


def _totals_truth(truth: dict, node_types: dict[str, str]) -> dict:
    """Records and kg of one day's cells per node, node type (``node_types``; "unregistered" for a node it does
    not name) and commodity ("" for records without one), as ``GET /api/v1/stats/totals`` answers them."""
    out: dict = {"by_node": {}, "by_node_type": {}, "by_commodity": {}}
    for (node, _rtype, goods), (n, g) in truth.items():
        for part, key in (
            ("by_node", node),
            ("by_node_type", node_types.get(node, "unregistered")),
            ("by_commodity", goods),
        ):
            cell = out[part].setdefault(key, [0, 0])
            cell[0] += n
            cell[1] += g
    return {
        part: {k: {"records": n, "weight_kg": f"{g // 1000}.{g % 1000:03d}"} for k, (n, g) in sorted(d.items())}
        for part, d in out.items()
    }


@pytest.mark.requirement("PLAT-KPI-04")
@pytest.mark.applies(kinds=PLATFORM, needs=("statistics",))
def test_statistics_of_every_day_node_and_commodity_equal_what_was_acknowledged(
    day_upload, city, records, uploader, acknowledged, http, platform, profile, evidence
):
    """Runs last.  The truth is computed from exactly what the harness sent and the platform acknowledged over the
    whole run (every envelope of the simulated day with its re-sends, every upload of every other test, and a probe
    of the business-day boundary in Beijing time with a re-send and a correction): a record answered accepted
    counts once on the day its business date names, a duplicate not at all.  Every (node, record type, commodity)
    cell of every such day, and of the empty days around the probe, equals it: records and grams; and each day's
    KPI answer counts the same records and reporting nodes and gives each role's data completeness (the share of the
    role's expected record types each reporting node sent, averaged), and the day's totals per node, node type and
    commodity (``/api/v1/stats/totals``, where the platform serves it) add up the same records and kilograms.
    Days a raw or unanswered upload may have touched, and today (live traffic of a platform in service), are
    left out."""
    cite_day_upload(evidence, day_upload)
    ledger = acknowledged
    for node, rtype, recs, _rep, a in day_upload.answers:
        ledger.add(node, rtype, recs, a, day_upload.day.date)
    probe = _boundary_probe(profile, records, uploader)
    if not probe:
        evidence.note(
            "记录的业务日期字段不含时刻：未能检验营业日边界",
            "no business-date form with a time of day: the business-day boundary was not probed",
        )
    today = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=8))).strftime("%Y%m%d")
    left_out = sorted(ledger.uncertain | {today})
    dates = sorted((ledger.dates() | {d.strftime("%Y%m%d") for d in probe}) - set(left_out))
    registered = registered_nodes(http, platform.url, city, evidence)
    occasional = set(_platform_rules().get("completeness", {}).get("occasional", []))
    expected = {
        role: {n for n, t in profile.records.types.items() if t.node_type == role and n not in occasional}
        for role in {role_of(t) for t in registered.values()}
    }
    diff, kpi_diff, totals_diff, cells, no_totals = {}, {}, {}, 0, None
    for date in dates:
        truth = ledger.cells(date)
        got = day_rows(http, platform.url, date)
        for k in sorted(set(truth) | set(got)):
            cells += 1
            t, g = truth.get(k, [0, 0]), got.get(k, [0, 0, 0])
            if [g[0], g[1]] != t:
                diff[f"{date}/{'/'.join(k)}"] = {
                    "truth": {"records": t[0], "grams": t[1]},
                    "platform": {"records": g[0], "grams": g[1]},
                }
        status, k = kpis(http, platform.url, date)
        if status != 200 or not isinstance(k, dict):
            kpi_diff[date] = f"HTTP {status} {k!r:.200}"
            continue
        want = (sum(v[0] for v in truth.values()), len({n for n, _t, _g in truth}))
        seen = ((k.get("timeliness") or {}).get("records"), (k.get("report_rate") or {}).get("reporting"))
        comp = _completeness_truth(truth, registered, expected)
        if seen != want or _completeness_differs(comp, k.get("completeness")):
            kpi_diff[date] = {
                "truth": {"records": want[0], "reporting_nodes": want[1], "completeness": comp},
                "platform": {"records": seen[0], "reporting_nodes": seen[1], "completeness": k.get("completeness")},
            }
        if no_totals is None:
            status, tot = stats_totals(http, platform.url, date)
            if status in (404, 405):
                no_totals = f"HTTP {status}"  # the profile names no totals endpoint: the reference's own
                continue
            want_t = _totals_truth(truth, {**{n.code: n.type for n in city.nodes}, **registered})
            got_t = {p: tot.get(p) for p in want_t} if status == 200 and isinstance(tot, dict) else None
            if got_t != want_t:
                totals_diff[date] = {"truth": want_t, "platform": got_t if got_t is not None else f"HTTP {status}"}
    evidence.attach_json(
        "statistics-vs-acknowledged.json",
        {"dates": dates, "left_out": left_out, "cells": diff, "kpis": kpi_diff, "totals": totals_diff},
    )
    evidence.note(
        f"{len(dates)} 个营业日的 {cells} 个统计单元逐一核对；{len(diff)} 个单元、{len(kpi_diff)} 天的 KPI、"
        f"{len(totals_diff)} 天的合计不符",
        f"{cells} statistics cells of {len(dates)} business days checked one by one; {len(diff)} cells, "
        f"the KPIs of {len(kpi_diff)} days and the totals of {len(totals_diff)} days differ",
    )
    if no_totals:
        evidence.note(
            f"平台不提供 /api/v1/stats/totals（{no_totals}）：合计未核对",
            f"the platform serves no /api/v1/stats/totals ({no_totals}): totals not checked",
        )
    assert cells, "nothing acknowledged: no statistics cell was judged"
    assert not diff, (
        f"{len(diff)} daily statistics cells differ from the records acknowledged (each record once, on "
        f"its business day in Beijing time; re-sends and kept-version corrections add nothing), e.g. "
        f"{dict(list(diff.items())[:3])}"
    )
    assert not kpi_diff, (
        f"the KPIs of {len(kpi_diff)} days count other records or nodes, or another data completeness: "
        f"{dict(list(kpi_diff.items())[:3])}"
    )
    assert not totals_diff, (
        f"the totals of {len(totals_diff)} days differ from the records acknowledged: "
        f"{dict(list(totals_diff.items())[:2])}"
    )
