"""The platform as the receiving server: envelope-level verdicts (TRAN-ENV-*).

Raw mode: every wrong envelope is built with the profile's encoder and signed over exactly what is
sent (a wrong Count is signed as that Count), so the platform must refuse it for the fault under test,
with the profile's reason code — never because the signature broke.
"""

from __future__ import annotations

import pytest

from conformance.uploads import envelope, request_time

PLATFORM = ("city_platform",)
RTYPE = "retail_market_in_info_base"


def _setup(records, n: int = 1):
    d = records.fresh_day()
    node = records.node_for(RTYPE)
    return node, [records.make(RTYPE, d) for _ in range(n)], d.strftime("%Y%m%d")


def _refused(a, code: str | tuple[str, ...], what: str, statuses=(400,)):
    codes = (code,) if isinstance(code, str) else code
    assert a.status in statuses and a.code in codes and not a.verdicts, (
        f"{what}: expected the envelope refused whole with {'/'.join(codes)} (HTTP {'/'.join(map(str, statuses))}), "
        f"got {a}"
    )


@pytest.mark.requirement("TRAN-ENV-01")
@pytest.mark.applies(kinds=PLATFORM)
def test_envelope_elements_checked(profile, records, uploader):
    """Missing, repeated or unknown envelope elements and a wrong root are refused whole (1101)."""
    node, recs, date = _setup(records)
    key = uploader.keys[node]
    cases = {
        "DataDate missing": envelope(profile, node, key, RTYPE, recs, header={"DataDate": date}, omit=("DataDate",)),
        "unknown element <Remark>": envelope(
            profile, node, key, RTYPE, recs, header={"DataDate": date}, extra_xml="<Remark>test</Remark>"
        ),
        "Count twice": envelope(
            profile, node, key, RTYPE, recs, header={"DataDate": date}, extra_xml="<Count>1</Count>"
        ),
        "root DataExchange": envelope(profile, node, key, RTYPE, recs, header={"DataDate": date}).replace(
            b"DataExchangeReq>", b"DataExchange>"
        ),
    }
    for what, body in cases.items():
        _refused(uploader.post(body), "1101", what)


@pytest.mark.requirement("TRAN-ENV-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_malformed_nodeid_refused(profile, records, uploader):
    """A NodeId that is not a valid node code (unknown region, wrong length) is refused whole: 1102 (malformed)
    or 1111 (unknown node; such a code can never be registered)."""
    node, recs, date = _setup(records)
    for bad in ("990101001", node + "0"):
        assert profile.codes.findings(bad, "node"), bad
        _refused(
            uploader.upload(node, RTYPE, recs, key=uploader.keys[node], header={"DataDate": date, "NodeId": bad}),
            ("1102", "1111"),
            f"NodeId {bad}",
            (400, 401, 403),
        )


@pytest.mark.requirement("TRAN-ENV-03")
@pytest.mark.applies(kinds=PLATFORM)
def test_malformed_requesttime_refused(profile, records, uploader):
    """A RequestTime that is not 17 digits, or not a real instant (30 February), is refused whole (1103)."""
    node, recs, date = _setup(records)
    now = request_time(profile.envelope)
    for bad in (now[:14], now[:4] + "0230" + now[8:], now[:8] + "25" + now[10:]):
        _refused(
            uploader.upload(node, RTYPE, recs, header={"DataDate": date, "RequestTime": bad}),
            "1103",
            f"RequestTime {bad}",
        )


@pytest.mark.requirement("TRAN-ENV-04")
@pytest.mark.applies(kinds=PLATFORM)
def test_requesttime_outside_the_clock_window_refused(profile, records, uploader):
    """RequestTime more than the profile's window (±300 s) off the platform's clock is refused (1104), in
    the past or the future; one well inside the window is accepted."""
    spec = profile.envelope
    w = spec.window.total_seconds()
    node, recs, date = _setup(records)
    for off in (-(w + 120), w + 120):
        _refused(
            uploader.upload(node, RTYPE, recs, header={"DataDate": date, "RequestTime": request_time(spec, off)}),
            "1104",
            f"RequestTime {off:+.0f} s off",
        )
    a = uploader.upload(node, RTYPE, recs, header={"DataDate": date, "RequestTime": request_time(spec, -(w - 60))})
    assert a.verdicts == ["accepted"], f"RequestTime {w - 60:.0f} s in the past is inside the window: {a}"


@pytest.mark.requirement("TRAN-ENV-05")
@pytest.mark.applies(kinds=PLATFORM)
def test_verifycode_checked(message_authentication, profile, records, uploader):
    """A VerifyCode made with another key, or not 32 hex digits, is refused (1105); the right one written in
    upper case is accepted."""
    message_authentication()
    node, recs, date = _setup(records)
    other = next(k for n, k in sorted(uploader.keys.items()) if n != node)
    _refused(
        uploader.upload(node, RTYPE, recs, key=other, header={"DataDate": date}),
        "1105",
        "VerifyCode made with another node's key",
        (401, 403),
    )
    _refused(
        uploader.upload(node, RTYPE, recs, header={"DataDate": date, "VerifyCode": "z" * 32}),
        "1105",
        "VerifyCode of 32 non-hex characters",
        (400, 401, 403),
    )
    body = envelope(profile, node, uploader.keys[node], RTYPE, recs, header={"DataDate": date})
    head, _, tail = body.partition(b"<VerifyCode>")
    upper = head + b"<VerifyCode>" + tail[:32].upper() + tail[32:]
    a = uploader.post(upper)
    assert a.verdicts == ["accepted"], f"a correct VerifyCode in upper case must be accepted: {a}"


@pytest.mark.requirement("TRAN-ENV-06")
@pytest.mark.applies(kinds=PLATFORM)
def test_index_checked(profile, records, uploader):
    """An unknown Index, or an Index naming another record type than the payload's, is refused (1106)."""
    node, recs, date = _setup(records)
    _refused(uploader.upload(node, RTYPE, recs, header={"DataDate": date, "Index": "Z99999"}), "1106", "Index Z99999")
    other = profile.records.types["retail_market_in_info_detail"].index
    _refused(
        uploader.upload(node, RTYPE, recs, header={"DataDate": date, "Index": other}),
        "1106",
        f"Index {other} over {RTYPE} records",
    )


@pytest.mark.requirement("TRAN-ENV-07")
@pytest.mark.applies(kinds=PLATFORM)
def test_count_checked(profile, records, uploader):
    """A Count that differs from the records, or more records than the profile's maximum, is refused (1107)."""
    node, recs, date = _setup(records, 2)
    _refused(
        uploader.upload(node, RTYPE, recs, header={"DataDate": date, "Count": "3"}), "1107", "Count 3 over 2 records"
    )
    many = [records.make(RTYPE, records.fresh_day()) for _ in range(profile.envelope.max_count + 1)]
    for r in many:
        r["in_date"] = date
    _refused(
        uploader.upload(node, RTYPE, many, header={"DataDate": date}),
        "1107",
        f"{len(many)} records (maximum {profile.envelope.max_count})",
    )


@pytest.mark.requirement("TRAN-ENV-08")
@pytest.mark.applies(kinds=PLATFORM)
def test_datadate_checked(profile, records, uploader):
    """An impossible DataDate, or one after the RequestTime's date, refuses the envelope (1108); a record
    whose business date is not the DataDate is rejected (1108) while its sibling is accepted."""
    node, recs, date = _setup(records, 2)
    _refused(uploader.upload(node, RTYPE, recs, header={"DataDate": "20250230"}), "1108", "DataDate 20250230")
    future = str(int(request_time(profile.envelope)[:4]) + 1) + "0101"
    _refused(uploader.upload(node, RTYPE, recs, header={"DataDate": future}), "1108", f"DataDate {future} (future)")
    recs[1]["in_date"] = records.fresh_day().strftime("%Y%m%d")
    a = uploader.upload(node, RTYPE, recs, header={"DataDate": date})
    assert a.verdicts == ["accepted", "rejected"] and a.reasons[1] == "1108", (
        f"a record dated {recs[1]['in_date']} in an envelope of DataDate {date}: expected [accepted, rejected 1108]: {a}"
    )


@pytest.mark.requirement("TRAN-ENV-09")
@pytest.mark.applies(kinds=PLATFORM)
def test_response_gives_a_verdict_per_record_in_order(profile, records, uploader):
    """The answer is a well-formed DataExchangeResp (XML for XML, JSON for JSON) with one Result per record in
    order — accepted, rejected with its reason, duplicate — and a refused envelope has a code and no Results."""
    node, recs, date = _setup(records, 3)
    first = uploader.upload(node, RTYPE, [recs[2]], header={"DataDate": date})
    assert first.verdicts == ["accepted"], f"set-up: {first}"
    broken = {k: v for k, v in recs[1].items() if k != "retailer_name"}
    for fmt in ("xml", "json"):
        a = uploader.upload(node, RTYPE, [recs[0], broken, recs[2]], fmt=fmt, header={"DataDate": date})
        assert a.response is not None and not a.findings, (
            f"{fmt}: the answer is not a valid DataExchangeResp: {a.findings}"
        )
        assert a.body.lstrip()[:1] == (b"{" if fmt == "json" else b"<"), f"a {fmt} envelope must be answered in {fmt}"
        want = ["duplicate" if fmt == "json" else "accepted", "rejected", "duplicate"]
        assert a.response.count == 3 and a.verdicts == want, f"{fmt}: verdicts {a.verdicts}, expected {want}"
        assert a.reasons[1] == "2002" and a.reasons[2] == "2009", f"{fmt}: reasons {a.reasons}"
    r = uploader.upload(node, RTYPE, recs, key="0" * 32, header={"DataDate": date})
    assert r.response is not None and not r.findings and r.code != "0000" and not r.verdicts, (
        f"a refused envelope must be answered with its code and no per-record results: {r}"
    )


@pytest.mark.requirement("TRAN-ENV-10")
@pytest.mark.applies(kinds=PLATFORM)
def test_replayed_envelope_refused(profile, records, uploader):
    """The same envelope (NodeId, RequestTime, VerifyCode) sent twice: the second is refused whole (1110)
    and none of its records is processed again; the records themselves were stored once."""
    node, recs, date = _setup(records, 2)
    body = envelope(profile, node, uploader.keys[node], RTYPE, recs, header={"DataDate": date})
    first = uploader.post(body)
    assert first.verdicts == ["accepted", "accepted"], f"set-up: {first}"
    _refused(uploader.post(body), "1110", "the same envelope again", (409, 400, 401, 403))
    again = uploader.upload(node, RTYPE, recs, header={"DataDate": date})
    assert again.verdicts == ["duplicate", "duplicate"], (
        f"the records of the first envelope must be stored once: {again}"
    )
