"""profiles.envelope, judged by whole finding lists and exact boundaries (issue 11: mutation survivors).

Every check compares the complete list (rule, field, severity, value and, where the text is the
contract, the message), so an extra finding fails as surely as a missing one.
"""

import datetime as dt
import random

import pytest

from profiles import load_profile
from profiles.envelope import ReplayGuard, beijing, format_request_time, parse_request_time
from profiles.findings import Finding
from profiles.record_examples import example_record

P = load_profile()
ENV, CAT = P.envelope, P.records
NODE, KEY = "650102009", "demo-secret"
WHEN = dt.datetime(2024, 5, 18, 20, 30, 0)
T = "retail_market_tran_info_summ"


def recs(t=T, n=2, seed=1):
    rng = random.Random(seed)
    return [example_record(CAT, t, rng, node=NODE, day=WHEN.date()) for _ in range(n)]


def build(t=T, n=2, fmt="xml", **kw):
    return ENV.build(NODE, t, recs(t, n), KEY, request_time=WHEN, fmt=fmt, **kw)


def sub(data: bytes, old: str, new: str) -> bytes:
    out = data.replace(old.encode(), new.encode(), 1)
    assert out != data
    return out


def rows(fs):
    return [(f.rule, f.field, f.severity, f.value) for f in fs]


# -- RequestTime ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "s,want",
    [
        ("20240518235959999", dt.datetime(2024, 5, 18, 23, 59, 59, 999000)),
        ("00010101000000000", dt.datetime(1, 1, 1)),
        ("20240518240000000", None),
        ("20240518236000000", None),
        ("20240518235960000", None),
        ("2024051823595999", None),
        ("202405182359599990", None),
        ("2024051823595999９", None),
        ("2024051823595999\n", None),
        (20240518235959999, None),
        ("", None),
    ],
)
def test_parse_request_time_boundaries(s, want):
    assert parse_request_time(s) == want


def test_format_request_time_keeps_milliseconds_and_pads():
    assert format_request_time(dt.datetime(2024, 1, 2, 3, 4, 5, 6000)) == "20240102030405006"
    assert format_request_time(dt.datetime(2024, 1, 2, 3, 4, 5, 999999)) == "20240102030405999"


def test_beijing_converts_aware_and_keeps_naive():
    assert beijing(WHEN) is WHEN
    assert beijing(dt.datetime(2024, 5, 18, 12, 30, tzinfo=dt.timezone.utc)) == WHEN
    assert beijing(dt.datetime(2024, 5, 18, 12, 30, tzinfo=dt.timezone.utc), 9) == WHEN + dt.timedelta(hours=1)


# -- clock window --------------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_clock_window_is_inclusive(offset):
    assert ENV.parse(build(), key=KEY, now=WHEN + dt.timedelta(seconds=offset)).findings == []


def test_clock_finding_names_the_signed_skew():
    res = ENV.parse(build(), key=KEY, now=WHEN + dt.timedelta(seconds=301))
    assert res.findings == [
        Finding(
            "TRAN-ENV-04",
            "RequestTime",
            "RequestTime 与平台时钟相差 -301 秒，超出 ±300 秒",
            "RequestTime is -301 s off the receiver's clock, outside ±300 s",
            value="20240518203000000",
        )
    ]
    res = ENV.parse(build(), key=KEY, now=WHEN - dt.timedelta(seconds=400))
    assert [f.en for f in res.findings] == ["RequestTime is 400 s off the receiver's clock, outside ±300 s"]


# -- DataDate -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ddate",
    [
        "20240230",
        "20231301",
        "20240500",
        "20240001",
        "2024051",
        "202405180",
        "２０２４０５１８",
        "2024-5-18",
        "00000518",
    ],
)
def test_impossible_data_dates_are_one_finding(ddate):
    res = ENV.parse(build(data_date=ddate), key=KEY)
    assert rows(res.findings) == [("TRAN-ENV-08", "DataDate", "error", ddate)]
    assert res.findings[0].en == "DataDate must be a valid yyyyMMdd date"
    # an invalid DataDate does not judge the records' dates against it
    assert res.record_findings == [[], []]


def test_data_date_after_the_request_date_and_on_it():
    res = ENV.parse(build(data_date="20240519"), key=KEY)
    assert res.findings == [
        Finding(
            "TRAN-ENV-08",
            "DataDate",
            "DataDate 20240519 晚于 RequestTime 的日期",
            "DataDate 20240519 is after the RequestTime's date",
            value="20240519",
        )
    ]
    assert ENV.parse(build(data_date="20240518"), key=KEY).findings == []


def test_record_dates_against_a_valid_data_date():
    # every record earlier than DataDate: a warning each; later: an error each
    early = ENV.parse(
        ENV.build(NODE, T, recs(), KEY, request_time=WHEN + dt.timedelta(days=1), data_date="20240519"), key=KEY
    )
    assert [rows(rf) for rf in early.record_findings] == [[("TRAN-ENV-08", "sale_date", "warning", "20240518")]] * 2
    late = ENV.parse(build(data_date="20240517"), key=KEY)
    assert [rows(rf) for rf in late.record_findings] == [[("TRAN-ENV-08", "sale_date", "error", "20240518")]] * 2
    assert late.record_findings[0][0].en == "the record's business date 20240518 is after the DataDate 20240517"
    assert late.envelope_ok and not late.ok and early.ok


# -- Count, Index, elements -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "count,want",
    [
        ("02", [("TRAN-ENV-07", "Count", "error", "02")]),
        ("-2", [("TRAN-ENV-07", "Count", "error", "-2")]),
        ("1000000000", [("TRAN-ENV-07", "Count", "error", "1000000000")]),
        ("3", [("TRAN-ENV-07", "Count", "error", "3")]),
        ("0", [("TRAN-ENV-07", "Count", "error", "0")]),
    ],
)
def test_count_findings_are_exact(count, want):
    res = ENV.parse(sub(build(), "<Count>2</Count>", f"<Count>{count}</Count>"))
    assert rows(res.findings) == want


def test_max_count_boundary():
    assert ENV.parse(build(n=3), max_count=3).findings == []
    assert ENV.parse(build(n=3), max_count=2).findings == [
        Finding(
            "TRAN-ENV-07",
            "Count",
            "记录 3 条，超过每个报文上限 2 条",
            "3 records, over the limit of 2 per envelope",
            value="3",
        )
    ]


def test_index_of_another_type_is_one_finding_at_the_first_record():
    res = ENV.parse(sub(build(), "<Index>A03003</Index>", "<Index>A03001</Index>"))
    assert rows(res.findings) == [("TRAN-ENV-06", "Address[1]", "error", T)]
    assert res.record_type == "retail_market_in_info_base"
    res = ENV.parse(sub(build(), "<Index>A03003</Index>", "<Index>Z99999</Index>"))
    assert rows(res.findings) == [("TRAN-ENV-06", "Index", "error", "Z99999")] and res.record_type is None


def test_missing_and_empty_header_elements():
    res = ENV.parse(sub(build(), "<DataDate>20240518</DataDate>", "<DataDate></DataDate>"), key=KEY)
    # nothing to verify against without every element: no VerifyCode verdict, only the missing element
    assert rows(res.findings) == [("TRAN-ENV-01", "DataDate", "error", None)] and not res.authenticated


def test_node_id_findings_carry_the_code_rule():
    res = ENV.parse(sub(build(), f"<NodeId>{NODE}</NodeId>", "<NodeId>990102001</NodeId>"))
    assert res.findings == [
        Finding(
            "TRAN-ENV-02",
            "NodeId",
            "NodeId：区域码「990102」不是GB/T 2260行政区划代码（CODE-NODE-02）",
            "NodeId: region '990102' is not a GB/T 2260 administrative division code (CODE-NODE-02)",
            value="990102001",
        )
    ]
    # a valid node code with sequence 000 is only advised about, never an envelope finding
    ok = ENV.build("650102000", T, recs(), KEY, request_time=WHEN)
    assert ENV.parse(ok, key=KEY).findings == []


# -- VerifyCode -------------------------------------------------------------------------------------
def test_verify_code_form_and_key_lookup():
    data = build()
    vc = ENV.parse(data).header["VerifyCode"]
    res = ENV.parse(sub(data, vc, vc[:31]), key=KEY)
    assert res.findings == [
        Finding(
            "TRAN-ENV-05",
            "VerifyCode",
            "VerifyCode 应为32位十六进制字符",
            "VerifyCode must be 32 hex characters",
            value=vc[:31],
        )
    ]
    res = ENV.parse(sub(data, vc, "g" + vc[1:]), key=KEY)
    assert rows(res.findings) == [("TRAN-ENV-05", "VerifyCode", "error", "g" + vc[1:])]
    res = ENV.parse(data, key=lambda node: None)
    assert rows(res.findings) == [("TRAN-ENV-05", "NodeId", "error", NODE)] and not res.authenticated
    res = ENV.parse(data, key=lambda node: KEY if node == NODE else None)
    assert res.findings == [] and res.authenticated
    res = ENV.parse(data)
    assert res.findings == [] and not res.authenticated


# -- JSON positions -----------------------------------------------------------------------------------
def test_json_records_keep_their_positions_and_drop_nulls():
    import json

    body = json.loads(build(fmt="json"))
    good = body["DataExchangeReq"]["Address"][T]
    first = dict(good[0], extra_null=None)
    body["DataExchangeReq"]["Address"][T] = [first, 7, good[1]]
    res = ENV.parse(json.dumps(body).encode())
    assert [(r.type, r.position) for r in res.records] == [(T, 1), (T, 2), (T, 3)]
    assert res.records[0].record == good[0] and res.records[2].record == good[1]
    assert res.records[1].record == {} and res.records[1].findings == [
        Finding("TRAN-REC-01", "[2]", "记录应为 JSON 对象", "a record must be a JSON object")
    ]


def test_json_header_must_be_text_and_known():
    import json

    body = json.loads(build(fmt="json"))
    body["DataExchangeReq"]["Count"] = 2  # a number is read as its literal text (profiles.jsonsafe)
    assert ENV.parse(json.dumps(body).encode()).findings == []
    body["DataExchangeReq"]["Count"] = ["2"]
    body["DataExchangeReq"]["Extra"] = "x"
    res = ENV.parse(json.dumps(body).encode())
    assert rows(res.findings) == [("TRAN-ENV-01", "Count", "error", None), ("TRAN-ENV-01", "Extra", "error", None)]
    assert [f.en for f in res.findings] == ["Count must be text", "unknown element Extra in DataExchangeReq"]


# -- replay guard ----------------------------------------------------------------------------------------
def _rt(i):
    return format_request_time(WHEN + dt.timedelta(seconds=i))


def test_replay_guard_evicts_the_oldest_inserted_first():
    g = ReplayGuard(remember_seconds=600, max_entries=2)
    assert g.check_and_remember(NODE, _rt(5), "a", WHEN)  # inserted first, although later in time
    assert g.check_and_remember(NODE, _rt(1), "b", WHEN)
    assert g.check_and_remember(NODE, _rt(2), "c", WHEN)  # evicts a, the oldest inserted
    assert (len(g), g.evicted_live) == (2, 1)
    assert not g.check_and_remember(NODE, _rt(1), "b", WHEN)  # b and c are still remembered
    assert not g.check_and_remember(NODE, _rt(2), "c", WHEN)
    assert g.check_and_remember(NODE, _rt(5), "a", WHEN)  # a was forgotten: new again (evicts b)
    assert g.evicted_live == 2 and g.check_and_remember(NODE, _rt(1), "b", WHEN)


def test_replay_guard_key_has_all_three_parts():
    g = ReplayGuard()
    assert g.check_and_remember(NODE, _rt(0), "ab", WHEN)
    assert g.check_and_remember("650102008", _rt(0), "ab", WHEN)
    assert g.check_and_remember(NODE, _rt(1), "ab", WHEN)
    assert g.check_and_remember(NODE, _rt(0), "ac", WHEN)
    assert not g.check_and_remember(NODE, _rt(0), "AB", WHEN)
    assert len(g) == 4 and g.evicted_live == 0


def test_replay_guard_forgets_at_the_horizon_not_before():
    g = ReplayGuard(remember_seconds=600, max_entries=10)
    assert g.check_and_remember(NODE, _rt(0), "a", WHEN)
    assert not g.check_and_remember(NODE, _rt(0), "a", WHEN + dt.timedelta(seconds=600))  # exactly at the horizon
    assert g.check_and_remember(NODE, _rt(0), "a", WHEN + dt.timedelta(seconds=600, microseconds=1000))
    assert g.evicted_live == 0


def test_replay_guard_dates_an_unparsable_request_time_by_now():
    g = ReplayGuard(remember_seconds=600, max_entries=10)
    assert g.check_and_remember(NODE, "garbage", "a", WHEN)
    assert not g.check_and_remember(NODE, "garbage", "a", WHEN + dt.timedelta(seconds=599))
    assert g.check_and_remember(NODE, "garbage", "a", WHEN + dt.timedelta(seconds=601))


@pytest.mark.parametrize("secs,n", [(0, 10), (-1, 10), (600, 0)])
def test_replay_guard_refuses_a_useless_size(secs, n):
    with pytest.raises(ValueError):
        ReplayGuard(remember_seconds=secs, max_entries=n)


def test_replay_guard_of_the_profile():
    g = ENV.replay_guard()
    assert g.max_entries == ENV.replay_max and g.remember == dt.timedelta(seconds=ENV.replay_seconds)
    assert ReplayGuard(remember_seconds=0.5, max_entries=1).max_entries == 1


# -- responses ------------------------------------------------------------------------------------------
def test_respond_with_overrides_duplicates_and_rejections():
    records = recs("market_tran_info_detail", 4)
    records[3]["weight"] = "1.2345"
    res = ENV.parse(ENV.build(NODE, "market_tran_info_detail", records, KEY, request_time=WHEN), key=KEY)
    resp = ENV.respond(
        res,
        now=WHEN,
        duplicates=[2, 3],
        overrides={1: ("2008", "卖方不符"), 3: ("2010", "某因", "some reason", "PLAT-X-01")},
    )
    got = [(r.seq, r.verdict, r.reason, r.field, r.message, r.message_en) for r in resp.results]
    assert got == [
        (1, "rejected", "2008", None, "卖方不符", ENV.reason_text("2008", "en")),
        (2, "duplicate", "2009", None, None, None),
        (3, "rejected", "2010", None, "某因", "some reason"),
        (
            4,
            "rejected",
            "2004",
            res.record_findings[3][0].field,
            res.record_findings[3][0].zh,
            res.record_findings[3][0].en,
        ),
    ]
    assert resp.results[0].findings[0] == {
        "rule": "",
        "field": "",
        "severity": "error",
        "zh": "卖方不符",
        "en": ENV.reason_text("2008", "en"),
    }
    assert resp.results[2].findings[0]["rule"] == "PLAT-X-01"
    assert (resp.code, resp.count, resp.tally()) == ("0000", 4, {"accepted": 0, "duplicate": 1, "rejected": 3})
    assert resp.response_time == "20240518203000000" and resp.message == "成功 / accepted"


def test_refusal_names_the_first_error_and_has_no_results():
    res = ENV.parse(build(), key="wrong")
    resp = ENV.respond(res, now=WHEN.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert (resp.code, resp.count, resp.results, resp.index) == ("1105", 0, [], "A03003")
    assert resp.response_time == "20240518203000000"
    assert ENV.reason_for(Finding("NO-SUCH-RULE", "f", "z", "e")) == "1199"
    assert ENV.reason_text("nope") == "" and ENV.result_message("nope") == ""


def test_refuse_only_with_a_refusal_reason():
    r = ENV.refuse("1111", now=WHEN, header={"NodeId": NODE, "RequestTime": "x", "Index": "A03003"})
    assert (r.node_id, r.request_time, r.index, r.code, r.count, r.results) == (NODE, "x", "A03003", "1111", 0, [])
    assert r.response_time == "20240518203000000" and r.message == ENV.result_message("1111")
    for bad in ("0000", "9999"):
        with pytest.raises(ValueError):
            ENV.refuse(bad)


def test_response_counts_are_checked_against_the_results():
    res = ENV.parse(build(), key=KEY)
    good = ENV.build_response(ENV.respond(res, now=WHEN, duplicates=[2])).decode()
    for old, new, field in (
        ("<Count>2</Count>", "<Count>3</Count>", "Count"),
        ("<Duplicate>1</Duplicate>", "<Duplicate>0</Duplicate>", "Accepted"),
    ):
        resp, fs = ENV.parse_response(good.replace(old, new, 1).encode())
        assert resp is None and rows(fs) == [("TRAN-ENV-09", field, "error", None)]


def test_long_values_are_quoted_to_40_characters():
    data = build()
    vc = ENV.parse(data).header["VerifyCode"]
    long_vc = vc + "0" * 13
    assert rows(ENV.parse(sub(data, vc, long_vc)).findings) == [("TRAN-ENV-05", "VerifyCode", "error", long_vc[:40])]
    tag = "x" * 50
    odd = sub(sub(data, f"<{T}>", f"<{tag}>"), f"</{T}>", f"</{tag}>")
    res = ENV.parse(odd)
    assert rows(res.findings)[:1] == [("TRAN-ENV-06", "Address[1]", "error", tag[:40])]


def test_children_of_a_header_element_are_not_records():
    res = ENV.parse(sub(build(), f"<NodeId>{NODE}</NodeId>", f"<NodeId>{NODE}<x>1</x></NodeId>"))
    assert rows(res.findings) == [("TRAN-ENV-01", "NodeId", "error", None)]
    assert res.findings[0].en == "<NodeId> must not contain elements"
    assert [(r.type, r.position) for r in res.records] == [(T, 1), (T, 2)]


def test_reason_text_is_chinese_unless_english_is_asked():
    zh, en = ENV.reasons["0000"]["zh"], ENV.reasons["0000"]["en"]
    assert zh != en
    assert [ENV.reason_text("0000", lang) for lang in ("zh", "en", "de", "", "fr")] == [zh, en, zh, zh, zh]


def test_unknown_response_element_is_quoted_to_40_characters():
    res = ENV.parse(build(), key=KEY)
    good = ENV.build_response(ENV.respond(res, now=WHEN)).decode()
    tag = "Y" * 50
    resp, fs = ENV.parse_response(good.replace("</Count>", f"</Count><{tag}>1</{tag}>", 1).encode())
    assert resp is None and rows(fs) == [("TRAN-ENV-09", tag[:40], "error", None)]


def test_a_response_of_300_records_reads_back_without_findings():
    t = "market_tran_info_detail"
    res = ENV.parse(ENV.build(NODE, t, recs(t, 300), KEY, request_time=WHEN), key=KEY)
    resp = ENV.respond(res, now=WHEN)
    back, fs = ENV.parse_response(ENV.build_response(resp))
    assert fs == [] and back == resp and back.count == 300


def test_a_record_error_read_from_data_refuses_the_record():
    from profiles.envelope import EnvelopeResult

    severity = "".join(["err", "or"])  # as read from a profile's data, not the literal
    bad = EnvelopeResult("xml", record_findings=[[], [Finding("TRAN-REC-02", "weight", "z", "e", severity)]])
    assert bad.envelope_ok and not bad.ok
    assert EnvelopeResult("xml", record_findings=[[Finding("X", "f", "z", "e", "warning")]]).ok


def test_records_of_a_type_that_sorts_before_the_index_type_are_one_finding():
    """The type check is inequality, not an order: records of retail_market_in_info_base under the Index of
    retail_market_tran_info_summ (a name that sorts after theirs)."""
    t = "retail_market_in_info_base"
    res = ENV.parse(sub(build(t), "<Index>A03001</Index>", "<Index>A03003</Index>"))
    assert rows(res.findings) == [("TRAN-ENV-06", "Address[1]", "error", t)]
    assert res.record_type == T


def test_a_rejection_that_carries_the_accepted_or_duplicate_reason_is_one_finding():
    """A row answered ``rejected`` whose Reason is 0000 (accepted) or 2009 (duplicate); the verdict is read from
    the document (not an interned literal), and the counts agree, so it is the only finding."""
    res = ENV.parse(build(), key=KEY)
    good = ENV.build_response(ENV.respond(res, now=WHEN, overrides={2: ("2008", "卖方不符")})).decode()
    assert "<Verdict>rejected</Verdict><Reason>2008</Reason>" in good
    for reason in ("0000", "2009"):
        bad = good.replace("<Reason>2008</Reason>", f"<Reason>{reason}</Reason>", 1).encode()
        resp, fs = ENV.parse_response(bad)
        assert resp is None and rows(fs) == [("TRAN-ENV-09", "Results[2]", "error", reason)]
    resp, fs = ENV.parse_response(good.encode())
    assert fs == [] and [(r.verdict, r.reason) for r in resp.results] == [("accepted", "0000"), ("rejected", "2008")]


def test_an_envelope_error_read_from_data_makes_the_envelope_not_ok():
    from profiles.envelope import EnvelopeResult

    severity = "".join(["err", "or"])  # as read from a profile's data, not the literal
    bad = EnvelopeResult("xml", findings=[Finding("TRAN-ENV-02", "NodeId", "z", "e", severity)])
    assert not bad.envelope_ok and not bad.ok


def test_respond_rejects_a_record_whose_error_was_read_from_data():
    severity = "".join(["err", "or"])
    res = ENV.parse(build(), key=KEY)
    res.record_findings[1] = [Finding("TRAN-REC-02", "weight", "重量错", "bad weight", severity)]
    resp = ENV.respond(res, now=WHEN)
    assert [(r.seq, r.verdict, r.field) for r in resp.results] == [(1, "accepted", None), (2, "rejected", "weight")]


def test_an_override_with_its_english_text_and_no_rule():
    res = ENV.parse(build(), key=KEY)
    resp = ENV.respond(res, now=WHEN, overrides={1: ("2008", "卖方不符", "seller mismatch")})
    r = resp.results[0]
    assert (r.verdict, r.reason, r.message, r.message_en) == ("rejected", "2008", "卖方不符", "seller mismatch")
    assert r.findings == [{"rule": "", "field": "", "severity": "error", "zh": "卖方不符", "en": "seller mismatch"}]


@pytest.mark.parametrize("root", ["AnAnswer", "Zz"])  # sorts before and after DataExchangeResp
def test_a_response_with_another_root_is_one_finding(root):
    res = ENV.parse(build(), key=KEY)
    good = ENV.build_response(ENV.respond(res, now=WHEN)).decode()
    bad = good.replace("DataExchangeResp>", f"{root}>")
    assert bad != good
    resp, fs = ENV.parse_response(bad.encode())
    assert resp is None and rows(fs) == [("TRAN-ENV-09", root, "error", None)]


def test_only_finding_children_of_findings_are_read():
    res = ENV.parse(build(), key=KEY)
    good = ENV.build_response(
        ENV.respond(res, now=WHEN, overrides={1: ("2008", "卖方不符", "seller mismatch")})
    ).decode()
    assert good.count("</Finding></Findings>") == 1
    extra = good.replace("</Finding></Findings>", "</Finding><Note><Rule>X</Rule></Note></Findings>", 1)
    resp, fs = ENV.parse_response(extra.encode())
    assert fs == []
    assert resp.results[0].findings == [
        {"rule": "", "field": "", "severity": "error", "zh": "卖方不符", "en": "seller mismatch"}
    ]


def test_a_long_node_id_is_quoted_to_40_characters():
    node = "6501020" + "9" * 43
    res = ENV.parse(sub(build(), f"<NodeId>{NODE}</NodeId>", f"<NodeId>{node}</NodeId>"))
    assert [f.value for f in res.findings if f.field == "NodeId"] == [node[:40]]


def test_records_of_another_type_are_not_dated_against_the_index_type():
    """market_tran_info_detail records (dated by tran_date, a name that sorts after the base's) under the Index
    of market_tran_info_base, with a DataDate before their date: one type finding, and no record is judged by
    the Index type's date rule."""
    t = "market_tran_info_detail"
    data = build(t, data_date=(WHEN.date() - dt.timedelta(days=1)).strftime("%Y%m%d"))
    res = ENV.parse(sub(data, "<Index>A02005</Index>", "<Index>A02004</Index>"))
    assert rows(res.findings) == [("TRAN-ENV-06", "Address[1]", "error", t)]
    assert res.record_findings == [[], []]


def test_beijing_time_is_the_default_when_the_profile_names_no_offset():
    import copy

    from profiles.envelope import EnvelopeSpec

    class WithoutOffset:  # the reference profile, its envelope data without clock.utc_offset_hours
        def __getattr__(self, name):
            return getattr(P, name)

        def data(self, name):
            d = copy.deepcopy(P.data(name))
            if name == "envelope":
                del d["clock"]["utc_offset_hours"]
            return d

    spec = EnvelopeSpec(WithoutOffset())
    noon_utc = dt.datetime(2024, 5, 18, 12, 0, tzinfo=dt.timezone.utc)
    body = spec.build(NODE, T, recs(), KEY, request_time=noon_utc)
    assert spec.parse(body).header["RequestTime"] == "20240518200000000"
