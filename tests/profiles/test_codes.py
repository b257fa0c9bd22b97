"""profiles.codes: structure, explanations, generators (hypothesis for round trips)."""

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.codes import CodeError

P = load_profile()
BOOK = P.codes
URUMQI = ["650102", "650103", "650104", "650105", "650106", "650107", "650109", "650121"]
GOOD_TRACE = "65010200100120000345"


def rules(code, kind=None):
    return [f.rule for f in BOOK.findings(code, kind)]


def test_good_trace_code_from_urumqi_node_parses():
    rep = BOOK.check(GOOD_TRACE)
    assert rep.ok and rep.findings == []
    parts = rep.details["parts"]
    assert parts["region_code"] == "650102"
    assert parts["region_name"] == "新疆维吾尔自治区乌鲁木齐市天山区"
    assert (parts["node_code"], parts["operator_code"], parts["trace_seq"]) == ("650102001", "6501020010012", "0000345")


@pytest.mark.parametrize(
    "code,rule,field",
    [
        ("6501020010012000034", "CODE-TRACE-01", "length"),  # 19 digits
        ("650102001001200003451", "CODE-TRACE-01", "length"),  # 21 digits
        ("6501020010012000034５", "CODE-TRACE-01", "[19]"),  # full-width digit
        ("65010200100120 00345", "CODE-TRACE-01", "[14]"),  # a space
        ("6501020010012000034A", "CODE-TRACE-01", "[19]"),  # a letter
        ("99010200100120000345", "CODE-NODE-02", "[0:6]"),  # unknown region
        ("65000000100120000345", "CODE-NODE-02", "[0:6]"),  # province-level region
        ("65010000100120000345", "CODE-NODE-02", "[0:6]"),  # prefecture with counties
        ("65010200100120000000", "CODE-TRACE-03", "[13:20]"),  # zero trace sequence
    ],
)
def test_malformed_trace_codes_rejected_with_reason(code, rule, field):
    found = BOOK.findings(code, "trace")
    assert (rule, field) in [(f.rule, f.field) for f in found]
    assert all(f.zh and f.en for f in found)
    assert not BOOK.is_valid(code, "trace")


def test_full_width_message_names_the_ascii_digit():
    (f,) = BOOK.findings("6501020010012000034５", "trace")
    assert "全角" in f.zh and "'5'" in f.en


def test_prefecture_without_counties_is_a_node_region():
    # 东莞市 (441900) has no county-level children
    assert BOOK.is_valid("441900001", "node")


def test_operator_self_record():
    rep = BOOK.check("6501020010000")
    assert rep.ok and rep.details["node_self"] is True


def test_kind_is_guessed_by_length():
    assert BOOK.check("650102001").details["kind"] == "node"
    assert BOOK.check("6501020010001").details["kind"] == "operator"
    assert BOOK.check("21113002").details["kind"] == "commodity"
    assert BOOK.check("123").details["kind"] == "commodity"


def test_commodity_codes():
    assert BOOK.is_valid("21113002", "commodity")  # 羊前腿肉
    assert rules("21199999", "commodity") == ["CODE-COMM-02"]
    assert rules("21119999", "commodity") == ["CODE-COMM-03"]  # outside the table: a warning (practice)
    assert BOOK.check("21113011", "commodity").ok  # Ningbo's pork


def test_zero_node_sequence_is_a_warning():
    rep = BOOK.check("65010200000120000345", "trace")
    assert rep.ok and [(f.rule, f.severity, f.field) for f in rep.findings] == [("CODE-NODE-03", "warning", "[6:9]")]


def test_batch_codes():
    assert BOOK.batch_code("440106001", 1) == "4401060010000001"
    rep = BOOK.check("4401060010000001")
    assert rep.ok and rep.details["kind"] == "batch" and rep.details["parts"]["batch_seq"] == "0000001"
    assert rules("4401060010000000", "batch") == ["CODE-BATCH-01"]
    assert rules("1000000000000123", "batch") == ["CODE-NODE-02"]  # Ningbo's local ids are no batch codes


def test_generators_refuse_invalid_parts():
    with pytest.raises(CodeError) as e:
        BOOK.node_code("990102", 1)
    assert e.value.findings[0].rule == "CODE-NODE-02"
    with pytest.raises(CodeError):
        BOOK.trace_code("6501020010012", 0)
    with pytest.raises(CodeError):
        BOOK.trace_code("6501020010012", 10_000_000)


def test_findings_reject_non_str():
    with pytest.raises(TypeError):
        BOOK.findings(65010200100120000345)


regions = st.sampled_from(sorted(BOOK.regions.node_prefixes))


@settings(max_examples=300, deadline=None)
@given(regions, st.integers(1, 999), st.integers(0, 9999), st.integers(1, 9_999_999))
def test_generated_codes_always_validate_and_round_trip(region, n, o, t):
    node = BOOK.node_code(region, n)
    op = BOOK.operator_code(node, o)
    trace = BOOK.trace_code(op, t)
    assert BOOK.is_valid(node, "node") and BOOK.is_valid(op, "operator") and BOOK.is_valid(trace, "trace")
    parts = BOOK.check(trace).details["parts"]
    assert parts["region_code"] == region and int(parts["node_seq"]) == n
    assert int(parts["operator_seq"]) == o and int(parts["trace_seq"]) == t
    assert BOOK.operator_of(trace) == op and BOOK.node_of(trace) == node


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_any_text_gives_findings_never_an_exception(text):
    for kind in (None, "node", "operator", "trace", "commodity"):
        found = BOOK.findings(text, kind)
        assert BOOK.is_valid(text, kind or BOOK.guess_kind(text)) == (found == [])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 19), st.characters(blacklist_categories=("Nd",)))
def test_any_non_digit_anywhere_is_located(pos, ch):
    code = GOOD_TRACE[:pos] + ch + GOOD_TRACE[pos + 1 :]
    fields = [f.field for f in BOOK.findings(code, "trace")]
    assert f"[{pos}]" in fields or "length" in fields
