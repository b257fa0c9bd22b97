"""profiles.codes, judged by whole finding lists and exact boundaries (issue 11: mutation survivors).

Each test compares the complete list of findings (rule, field, both messages, severity, value), so
an extra or a wrong finding fails it, not only a missing one.
"""

import pytest

from profiles import load_profile
from profiles.codes import CodeBook, CodeError
from profiles.findings import Finding

P = load_profile()
BOOK = P.codes


def _char(i, ch, kind_zh="追溯码", kind_en="trace code", rule="CODE-TRACE-01"):
    """The finding the profile documents for a non-digit at index i (built here, independently)."""
    if "０" <= ch <= "９":
        ascii_digit = str("０１２３４５６７８９".index(ch))
        return Finding(
            rule,
            f"[{i}]",
            f"第{i + 1}位「{ch}」是全角数字，应为半角数字「{ascii_digit}」",
            f"position {i + 1} is the full-width digit {ch!r}; use the ASCII digit {ascii_digit!r}",
            value=ch,
        )
    return Finding(
        rule,
        f"[{i}]",
        f"第{i + 1}位「{ch}」不是数字，{kind_zh}只含数字0-9",
        f"position {i + 1} is {ch!r}, not a digit; a {kind_en} has digits 0-9 only",
        value=ch,
    )


@pytest.mark.parametrize("ch", ["０", "９", "５"])
def test_full_width_digits_at_both_ends_of_the_range(ch):
    code = "6501020010012000034" + ch
    assert BOOK.findings(code, "trace") == [_char(19, ch)]
    assert not BOOK.is_valid(code, "trace")


@pytest.mark.parametrize("ch", ["／", "：", "/", ":"])
def test_characters_just_outside_the_digit_ranges_are_not_digits(ch):
    # U+FF0F / U+FF1A border the full-width digits, '/' and ':' border the ASCII digits
    assert BOOK.findings("65010200100" + ch + "20000345", "trace") == [_char(11, ch)]


def test_ascii_digits_at_both_ends_are_digits():
    assert BOOK.findings("65010200100190000345", "trace") == []
    assert BOOK.findings("65010200100100000345", "trace") == []


def test_white_space_is_named_by_its_code_point():
    assert BOOK.findings("650102\t01", "node") == [
        Finding(
            "CODE-NODE-01",
            "[6]",
            "第7位是空白字符（U+0009），流通节点编码不能含空格",
            "position 7 is white space (U+0009); a node code has no spaces",
            value="\t",
        )
    ]


def test_wrong_length_and_bad_characters_are_both_reported_in_order():
    assert BOOK.findings("65010x", "node") == [
        Finding(
            "CODE-NODE-01", "length", "流通节点编码应为9位，实为6位", "a node code has 9 digits, this has 6", value="6"
        ),
        _char(5, "x", "流通节点编码", "node code", "CODE-NODE-01"),
    ]


def test_bad_characters_at_the_right_length_stop_before_the_parts():
    # an unknown region would give CODE-NODE-02; with a bad character the parts are not judged
    assert BOOK.findings("9901020010012000034A", "trace") == [_char(19, "A")]


def test_wrong_length_of_digits_is_the_only_finding():
    assert BOOK.findings("9901020010012", "trace") == [
        Finding(
            "CODE-TRACE-01", "length", "追溯码应为20位，实为13位", "a trace code has 20 digits, this has 13", value="13"
        )
    ]


def test_empty_code():
    assert BOOK.findings("", "operator") == [
        Finding("CODE-OPER-01", "code", "经营者编码为空", "the operator code is empty")
    ]


@pytest.mark.parametrize(
    "region,zh,en",
    [
        (
            "990102",
            "区域码「990102」不是GB/T 2260行政区划代码",
            "region '990102' is not a GB/T 2260 administrative division code",
        ),
        (
            "650000",
            "区域码「650000」是省级代码（新疆维吾尔自治区），节点编码应使用县级代码",
            "region '650000' is a province-level code (新疆维吾尔自治区); node codes use a county-level code",
        ),
        (
            "650100",
            "区域码「650100」是地级代码（乌鲁木齐市），节点编码应使用县级代码",
            "region '650100' is a prefecture-level code (乌鲁木齐市); node codes use a county-level code",
        ),
    ],
)
def test_region_findings_are_exact(region, zh, en):
    for kind, code in (
        ("node", region + "001"),
        ("operator", region + "0010012"),
        ("trace", region + "00100120000345"),
        ("batch", region + "0010000001"),
    ):
        assert BOOK.findings(code, kind) == [Finding("CODE-NODE-02", "[0:6]", zh, en, value=region)], kind
        assert not BOOK.is_valid(code, kind)


def test_zero_trace_sequence_is_exact():
    assert BOOK.findings("65010200100120000000", "trace") == [
        Finding(
            "CODE-TRACE-03",
            "[13:20]",
            "追溯码流水号（第14-20位）不能全为0",
            "the trace sequence (positions 14-20) cannot be all zeros",
            value="0000000",
        )
    ]
    assert BOOK.findings("65010200100120000001", "trace") == []


def test_zero_batch_sequence_is_exact():
    assert BOOK.findings("6501020010000000", "batch") == [
        Finding(
            "CODE-BATCH-01",
            "[9:16]",
            "批次码流水号（第10-16位）不能全为0",
            "the batch sequence (positions 10-16) cannot be all zeros",
            value="0000000",
        )
    ]
    assert not BOOK.is_valid("6501020010000000", "batch")
    assert BOOK.is_valid("6501020010000001", "batch")


def test_both_region_and_zero_sequence_are_reported():
    assert [f.rule for f in BOOK.findings("99010200100120000000", "trace")] == ["CODE-NODE-02", "CODE-TRACE-03"]
    assert [f.rule for f in BOOK.findings("9901020010000000", "batch")] == ["CODE-NODE-02", "CODE-BATCH-01"]


def test_zero_node_sequence_advice_is_exact_for_every_kind_but_commodity():
    want = [
        Finding(
            "CODE-NODE-03",
            "[6:9]",
            "节点备案流水号（第7-9位）为000：实践中可见，本配置建议从001起",
            "the node registration sequence (positions 7-9) is 000: seen in practice; the profile "
            "recommends starting at 001",
            severity="warning",
            value="000",
        )
    ]
    for kind, code in (
        ("node", "650102000"),
        ("operator", "6501020000001"),
        ("trace", "65010200000010000001"),
        ("batch", "6501020000000001"),
    ):
        assert BOOK.findings(code, kind) == want, kind
    assert BOOK.findings("650102001", "node") == []


def test_commodity_findings_are_exact():
    assert BOOK.findings("21113002", "commodity") == []
    assert BOOK.findings("21199999", "commodity") == [
        Finding(
            "CODE-COMM-02",
            "[0:4]",
            "商品编码「21199999」不以肉类前缀2111或蔬菜前缀012开头",
            "commodity code '21199999' starts with neither the meat prefix 2111 nor the vegetable prefix 012",
            value="21199999",
        )
    ]
    assert BOOK.findings("01299999", "commodity") == [
        Finding(
            "CODE-COMM-03",
            "code",
            "商品编码「01299999」不在本配置的商品码表中（实践中可见，按原样接收）",
            "commodity code '01299999' is not in the profile's commodity table (seen in practice; accepted as sent)",
            severity="warning",
            value="01299999",
        )
    ]


def test_without_a_commodity_table_the_prefixes_decide():
    bare = CodeBook(BOOK.regions, BOOK.spec)
    assert bare.is_valid("21119999", "commodity") and bare.is_valid("01299999", "commodity")
    assert not bare.is_valid("21199999", "commodity")
    assert bare.parts("21113002", "commodity").to_dict() == {"kind": "commodity", "code": "21113002"}
    assert BOOK.parts("21113002", "commodity").to_dict() == {
        "kind": "commodity",
        "code": "21113002",
        "commodity_name": "羊前腿肉",
    }


def test_node_self_is_only_an_operator_with_sequence_0000():
    assert BOOK.check("6501020010000", "operator").details == {
        "kind": "operator",
        "node_self": True,
        "parts": {
            "kind": "operator",
            "code": "6501020010000",
            "region_code": "650102",
            "region_name": "新疆维吾尔自治区乌鲁木齐市天山区",
            "node_code": "650102001",
            "node_seq": "001",
            "operator_code": "6501020010000",
            "operator_seq": "0000",
        },
    }
    assert "node_self" not in BOOK.check("6501020010001", "operator").details
    assert "node_self" not in BOOK.check("6501020010010", "operator").details
    assert "node_self" not in BOOK.check("65010200100000000001", "trace").details
    assert "node_self" not in BOOK.check("6501020010000000", "batch").details


def test_parts_of_every_kind_are_exact():
    base = {
        "region_code": "650102",
        "region_name": "新疆维吾尔自治区乌鲁木齐市天山区",
        "node_code": "650102001",
        "node_seq": "001",
    }
    assert BOOK.check("650102001").details["parts"] == {"kind": "node", "code": "650102001", **base}
    assert BOOK.check("65010200100120000345").details["parts"] == {
        "kind": "trace",
        "code": "65010200100120000345",
        **base,
        "operator_code": "6501020010012",
        "operator_seq": "0012",
        "trace_seq": "0000345",
    }
    assert BOOK.check("6501020010000345", "batch").details["parts"] == {
        "kind": "batch",
        "code": "6501020010000345",
        **base,
        "batch_seq": "0000345",
    }
    # no parts for a code that is not all ASCII digits of the right length
    assert "parts" not in BOOK.check("6501020010012000034５").details
    assert "parts" not in BOOK.check("650102001001200003", "trace").details
    assert "parts" not in BOOK.check("650102001001200003451", "trace").details
    assert "node_self" not in BOOK.check("65010200100001", "operator").details


@pytest.mark.parametrize(
    "n,kind",
    [
        (0, "commodity"),
        (7, "commodity"),
        (8, "commodity"),
        (9, "node"),
        (10, "node"),
        (11, "operator"),
        (12, "operator"),
        (13, "operator"),
        (14, "operator"),
        (15, "batch"),
        (16, "batch"),
        (17, "batch"),
        (18, "trace"),
        (19, "trace"),
        (20, "trace"),
        (30, "trace"),
    ],
)
def test_kind_guess_by_length_with_ties(n, kind):
    assert BOOK.guess_kind("1" * n) == kind


def test_findings_refuse_what_is_not_text_or_not_a_kind():
    with pytest.raises(TypeError):
        BOOK.findings(65010200100120000345)
    with pytest.raises(ValueError):
        BOOK.findings("650102001", "stall")
    assert not BOOK.is_valid(65010200100120000345, "trace")
    assert not BOOK.is_valid(None, "node")


def _refused(call, rule, zh, en, value):
    with pytest.raises(CodeError) as e:
        call()
    assert e.value.findings == [Finding(rule, "seq", zh, en, value=value)]
    assert str(e.value) == en


def test_node_code_range():
    assert BOOK.node_code("650102", 1) == "650102001"
    assert BOOK.node_code("650102", 999) == "650102999"
    for bad in (0, 1000, -1):
        _refused(
            lambda: BOOK.node_code("650102", bad),
            "CODE-NODE-03",
            "节点流水号须为1-999",
            "node sequence must be 1..999",
            str(bad),
        )


def test_operator_code_range_and_node_self():
    assert BOOK.operator_code("650102001", 0) == "6501020010000"
    assert BOOK.operator_code("650102001", 9999) == "6501020019999"
    for bad in (-1, 10000):
        _refused(
            lambda: BOOK.operator_code("650102001", bad),
            "CODE-OPER-01",
            "经营者流水号须为0-9999",
            "operator sequence must be 0..9999",
            str(bad),
        )


def test_trace_code_range():
    assert BOOK.trace_code("6501020010012", 1) == "65010200100120000001"
    assert BOOK.trace_code("6501020010012", 9999999) == "65010200100129999999"
    for bad in (0, 10_000_000):
        _refused(
            lambda: BOOK.trace_code("6501020010012", bad),
            "CODE-TRACE-03",
            "追溯码流水号须为1-9999999",
            "trace sequence must be 1..9999999",
            str(bad),
        )


def test_batch_code_range():
    assert BOOK.batch_code("650102001", 1) == "6501020010000001"
    assert BOOK.batch_code("650102001", 9999999) == "6501020019999999"
    for bad in (0, 10_000_000):
        _refused(
            lambda: BOOK.batch_code("650102001", bad),
            "CODE-BATCH-01",
            "批次码流水号须为1-9999999",
            "batch sequence must be 1..9999999",
            str(bad),
        )


def test_generators_refuse_an_invalid_region_with_its_finding():
    with pytest.raises(CodeError) as e:
        BOOK.node_code("990102", 1)
    assert [(f.rule, f.field) for f in e.value.findings] == [("CODE-NODE-02", "[0:6]")]


def test_operator_and_node_of_a_trace_code():
    assert BOOK.operator_of("65010200100120000345") == "6501020010012"
    assert BOOK.node_of("65010200100120000345") == "650102001"


def test_batch_length_defaults_to_node_plus_trace_sequence():
    spec = {k: v for k, v in BOOK.spec.items() if k != "batch"}
    bare = CodeBook(BOOK.regions, spec)
    assert bare.len["batch"] == 9 + 7
    assert bare.batch_code("650102001", 1) == "6501020010000001"
    assert bare.findings("6501020010000000", "batch")[0].rule == "CODE-BATCH-01"


def test_white_space_position_at_an_odd_index():
    assert [f.zh for f in BOOK.findings("6501020\t1", "node")] == ["第8位是空白字符（U+0009），流通节点编码不能含空格"]


def test_node_self_follows_the_profile_and_a_kind_read_from_input():
    kind = "".join(["oper", "ator"])  # not the interned literal: read from input
    assert BOOK.check("6501020010000", kind).details["node_self"] is True
    spec = dict(BOOK.spec, operator=dict(BOOK.spec["operator"], self_seq="0001"))
    other = CodeBook(BOOK.regions, spec)
    assert other.check("6501020010001", "operator").details["node_self"] is True
    assert "node_self" not in other.check("6501020010000", "operator").details


def test_a_refused_code_is_a_non_conformance_exit_1():
    with pytest.raises(CodeError) as e:
        BOOK.node_code("650102", 1000)
    assert e.value.exit_code == 1


def test_operator_width_follows_another_layout():
    """A profile whose lengths differ from the reference's (operator 12 = node 9 + 3, trace 19): the operator
    sequence's width is the difference of the lengths, whatever the numbers (13 - 9 and 13 ^ 9 are both 4)."""
    spec = dict(
        BOOK.spec,
        operator=dict(BOOK.spec["operator"], length=12, seq_digits=3, self_seq="000"),
        trace=dict(BOOK.spec["trace"], length=19),
    )
    book = CodeBook(BOOK.regions, spec)
    assert book.operator_code("650102001", 1) == "650102001001"
    with pytest.raises(CodeError) as e:
        book.operator_code("650102001", 1000)
    assert [(f.field, f.en, f.value) for f in e.value.findings] == [("seq", "operator sequence must be 0..999", "1000")]


def test_zero_batch_sequence_width_follows_another_layout():
    """Batch codes of node 9 + a 10-digit sequence (length 19): the all-zero sequence is the 10 digits after the
    node code, a difference of the lengths (19 - 9), not a remainder (19 % 9 = 1)."""
    spec = dict(BOOK.spec, batch=dict(BOOK.spec["batch"], length=19, seq_digits=10))
    book = CodeBook(BOOK.regions, spec)
    assert [(f.rule, f.field, f.value) for f in book.findings("650102001" + "0" * 10, "batch")] == [
        ("CODE-BATCH-01", "[9:19]", "0" * 10)
    ]
    assert not book.is_valid("650102001" + "0" * 10, "batch")
    assert book.findings("650102001" + "0" * 9 + "1", "batch") == []


def test_is_valid_refuses_a_zero_batch_sequence_for_a_kind_read_from_input():
    kind = "".join(["bat", "ch"])  # not the interned literal: read from input
    assert not BOOK.is_valid("6501020010000000", kind)
    assert BOOK.is_valid("6501020010000001", kind)
