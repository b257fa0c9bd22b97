"""profiles.records: catalogue, validation TRAN-REC-01..07, XML/JSON round trips (hypothesis)."""

import datetime as dt
import random
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.findings import Finding
from profiles.record_examples import example_record
from profiles.records import RecordEncodeError

P = load_profile()
CAT = P.records
TYPES = sorted(CAT.types)
EXPECTED_TYPES = {
    "animal_in_info",
    "quarantine_info",
    "meat_out_info_base",
    "meat_out_info_detail",
    "market_in_info_base",
    "market_in_info_detail",
    "retail_market_in_info_base",
    "retail_market_in_info_detail",
    "super_market_in_info_base",
    "super_market_in_info_detail",
    "qmarket_detection_info",
    "market_tran_info_detail",
    "retail_market_tran_info_summ",
    "team_buy_acceptance_info",
    "manager_base_info",
}
COUNTIES = sorted(P.regions.node_prefixes)[:400]
MEAT = [c.code for c in P.commodities.of_kind("meat")]
VEG = [c.code for c in P.commodities.of_kind("vegetable")]


def rules(findings):
    return [f.rule for f in findings]


# -- catalogue ----------------------------------------------------------------
def test_catalogue_has_every_record_type_of_the_brief():
    assert EXPECTED_TYPES <= set(CAT.types)


def test_every_type_is_described():
    for t in CAT.types.values():
        assert re.fullmatch(r"A0[1-5]00[1-9]", t.index)
        assert t.evidence in ("standard", "practice", "profile") and t.source and t.zh and t.en
        assert all(re.fullmatch(r"[a-z][a-z_]*", f.name) for f in t.fields)
        assert t.required <= {f.name for f in t.fields}
        if t.date_field:
            assert t.by_name[t.date_field].type in ("date", "datetime")
        if t.node_field:
            assert t.by_name[t.node_field].type == "node_code"
    assert len({t.index for t in CAT.types.values()}) == len(CAT.types)
    assert CAT.types["manager_base_info"].index == "A01002"  # the one Index seen in practice


def test_standard_field_lists_are_verbatim():
    # standards.md §4.1 (12) and (14): order and names as seen
    assert [f.name for f in CAT["retail_market_in_info_base"].fields] == [
        "retail_market_id",
        "retail_market_name",
        "in_date",
        "retailer_id",
        "retailer_name",
        "tran_id",
        "quarantine_animal_products_id",
        "inspection_meat_id",
        "prov_id",
        "batch_id",
    ]
    assert [f.name for f in CAT["retail_market_tran_info_summ"].fields] == [
        "retail_market_id",
        "retail_market_name",
        "in_date",
        "sale_date",
        "retailer_id",
        "retailer_name",
        "position_id",
        "tran_id",
        "quarantine_animal_products_id",
        "batch_id",
        "goods_code",
        "goods_name",
        "weight",
        "price",
        "sale_tran_id",
    ]


def test_units_are_the_profile_definition():
    q = CAT.quantities
    assert (q["weight"].unit, q["weight"].decimals) == ("kg", 3)
    assert (q["price"].unit_en, q["price"].decimals) == ("yuan/kg", 2)
    assert (q["amount"].unit_en, q["amount"].decimals) == ("yuan", 2)


# -- strategies ---------------------------------------------------------------
@st.composite
def node_codes(draw):
    return draw(st.sampled_from(COUNTIES)) + f"{draw(st.integers(1, 999)):03d}"


@st.composite
def field_value(draw, f):
    t = f.type
    if t == "node_code":
        return draw(node_codes())
    if t == "operator_code":
        return draw(node_codes()) + f"{draw(st.integers(0, 9999)):04d}"
    if t in ("trace_code", "batch"):  # a batch id is valid in any form; a trace code links it without a warning
        return draw(node_codes()) + f"{draw(st.integers(0, 9999)):04d}" + f"{draw(st.integers(1, 9_999_999)):07d}"
    if t == "commodity_code":
        return draw(st.sampled_from(MEAT if f.kind == "meat" else MEAT + VEG))
    if t == "region_code":
        return draw(st.sampled_from(COUNTIES))
    if t == "date":
        return draw(st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31))).strftime("%Y%m%d")
    if t == "datetime":
        return draw(st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2099, 12, 31))).strftime("%Y%m%d%H%M%S")
    if t == "enum":
        return draw(st.sampled_from(sorted(f.values)))
    if t == "integer":
        return str(draw(st.integers(0, 10 ** (f.max or 6) - 1)))
    if t == "decimal":
        q = f.quantity
        k = draw(st.integers(0, q.decimals))
        n = draw(st.integers(1, 10 ** (q.int_digits + k) - 1))
        return f"{n // 10**k}.{n % 10**k:0{k}d}" if k else str(n)
    if f.pattern is not None:
        return draw(st.from_regex(f.pattern, fullmatch=True))
    return draw(
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=f.max or 50)
    )


@st.composite
def valid_records(draw, type_name):
    rt = CAT[type_name]
    rec = {}
    for f in rt.fields:
        if f.name in rt.required or draw(st.booleans()):
            rec[f.name] = draw(field_value(f))
    for a, b in rt.not_greater:
        if a in rec and b in rec and int(rec[a]) > int(rec[b]):
            rec[a], rec[b] = rec[b], rec[a]
    if rt.meat_rule and rt.meat_certs and CAT.is_meat(rec[rt.meat_rule]) and not any(rec.get(c) for c in rt.meat_certs):
        c = draw(st.sampled_from(rt.meat_certs))
        rec[c] = draw(field_value(rt.by_name[c]))
    return type_name, rec


any_valid = st.sampled_from(TYPES).flatmap(valid_records)


# -- properties -----------------------------------------------------------------
@settings(max_examples=250, deadline=None)
@given(any_valid)
def test_generated_records_validate_and_round_trip_exactly(item):
    t, rec = item
    assert CAT.validate(t, rec) == []
    dec = CAT.decode_xml(CAT.encode_xml(t, rec))
    assert dec.findings == [] and dec.shape == "record"
    (got,) = dec.items
    assert (got.type, got.record, got.findings) == (t, rec, [])
    dec = CAT.decode_json(CAT.encode_json(t, rec))
    (got,) = dec.items
    assert (dec.shape, got.type, got.record) == ("record", t, rec)


@settings(max_examples=40, deadline=None)
@given(st.lists(any_valid, max_size=6))
def test_list_round_trips(items):
    for enc, dec in ((CAT.encode_xml_list, CAT.decode_xml), (CAT.encode_json_list, CAT.decode_json)):
        d = dec(enc(items))
        assert d.shape == "list" and d.findings == []
        assert [(x.type, x.record) for x in d.items] == items
        assert [x.position for x in d.items] == list(range(1, len(items) + 1))


_junk = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.booleans(),
    st.floats(allow_nan=True),
)


@settings(max_examples=250, deadline=None)
@given(any_valid, st.data())
def test_random_mutation_gives_findings_not_exceptions(item, data):
    t, rec = item
    rec = dict(rec)
    op = data.draw(st.sampled_from(["drop", "junk", "unknown", "truncate"]))
    key = data.draw(st.sampled_from(sorted(rec)))
    if op == "drop":
        del rec[key]
    elif op == "junk":
        rec[key] = data.draw(_junk)
    elif op == "unknown":
        rec[data.draw(st.from_regex(r"[a-z]{1,12}", fullmatch=True)).upper()] = "x"
    else:
        rec[key] = rec[key][: data.draw(st.integers(0, max(0, len(rec[key]) - 1)))]
    found = CAT.validate(t, rec)
    assert all(
        isinstance(f, Finding) and f.zh and f.en and re.fullmatch(r"TRAN-REC-0[1-8]|CODE-[A-Z]+-0[0-9]", f.rule)
        for f in found
    )
    if op == "unknown":
        assert "TRAN-REC-01" in rules(found)
    # a record is judged against the union of evidenced forms (records.toml [[types.X.forms]]): dropping a field
    # the profile's form requires may leave another city's form whole (Ningbo's retail summary has no batch_id)
    if op == "drop" and key in CAT[t].required and all(key in f[4] for f in CAT[t].forms):
        assert "TRAN-REC-02" in rules(found)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None] + TYPES[:3]))
def test_decoding_garbage_never_raises(data, type_name):
    for fn in (CAT.decode, CAT.decode_xml, CAT.decode_json):
        d = fn(data, type_name)
        for item in d.items:
            CAT.validate(item.type, item.record)


# -- specific rules ---------------------------------------------------------------
def good(t="retail_market_in_info_detail", seed=1, **over):
    rec = example_record(CAT, t, random.Random(seed))
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not None}


def test_example_records_validate_for_every_type_and_seed():
    for seed in range(40):
        for t in TYPES:
            assert CAT.validate(t, example_record(CAT, t, random.Random(seed), optional=seed % 2 == 0)) == [], (t, seed)


@pytest.mark.parametrize(
    "value,rule",
    [
        ("12.5001", "TRAN-REC-04"),
        ("-1.5", "TRAN-REC-04"),
        ("0", "TRAN-REC-04"),
        ("0.000", "TRAN-REC-04"),
        ("1e3", "TRAN-REC-03"),
        ("12,5", "TRAN-REC-03"),
        ("+3", "TRAN-REC-03"),
        ("007.5", "TRAN-REC-03"),
        ("１２.5", "TRAN-REC-03"),
        ("1234567890.5", "TRAN-REC-03"),
        (" 12.5", "TRAN-REC-03"),
    ],
)
def test_weight_format_and_decimals(value, rule):
    assert rules(CAT.validate("retail_market_in_info_detail", good(weight=value))) == [rule]


def test_price_has_two_decimals():
    assert CAT.validate("retail_market_in_info_detail", good(price="12.34")) == []
    assert rules(CAT.validate("retail_market_in_info_detail", good(price="12.345"))) == ["TRAN-REC-04"]


def test_meat_needs_a_certificate_vegetable_does_not():
    t = "market_in_info_detail"
    meat = good(t, goods_code="21113002")
    meat.pop("quarantine_animal_products_id", None)
    meat.pop("inspection_meat_id", None)
    found = CAT.validate(t, meat)
    assert rules(found) == ["TRAN-REC-05"]
    assert CAT.validate(t, {**meat, "inspection_meat_id": "123456"}) == []
    veg = {**meat, "goods_code": VEG[0]}
    assert CAT.validate(t, veg) == []


def test_meat_code_field_must_be_meat():
    rec = good("meat_out_info_detail", meat_code=VEG[0])
    (f,) = CAT.validate("meat_out_info_detail", rec)
    assert f.rule == "TRAN-REC-06" and f.field == "meat_code"


@pytest.mark.parametrize(
    "field,value,code_rule",
    [
        ("tran_id", "6501020010012000000", "CODE-TRACE-01"),
        ("tran_id", "99010200100120000345", "CODE-NODE-02"),
        ("area_origin_id", "990000", None),
    ],
)
def test_codes_inside_records(field, value, code_rule):
    found = CAT.validate("retail_market_in_info_detail", good(**{field: value}))
    assert rules(found)[:1] == ["TRAN-REC-06"] and found[0].field.startswith(field)
    if code_rule:
        assert code_rule in found[0].en


@pytest.mark.parametrize(
    "value,rule",
    [
        ("20240230", "TRAN-REC-07"),
        ("20241301", "TRAN-REC-07"),
        ("18991231", "TRAN-REC-07"),
        ("2024/05/18", "TRAN-REC-03"),
        ("2024051", "TRAN-REC-03"),
        ("2024-02-30", "TRAN-REC-07"),
        ("2024-5-18", "TRAN-REC-03"),
    ],
)
def test_dates(value, rule):
    assert rules(CAT.validate("retail_market_in_info_base", good("retail_market_in_info_base", in_date=value))) == [
        rule
    ]


def test_datetimes():
    t = "manager_base_info"
    assert rules(CAT.validate(t, good(t, record_date="20240518246000"))) == ["TRAN-REC-07"]
    assert rules(CAT.validate(t, good(t, record_date="20240518"))) == ["TRAN-REC-03"]


def test_required_unknown_length_enum_control():
    t = "animal_in_info"
    rec = good(t)
    del rec["seller_id"]
    rec["pig_colour"] = "pink"
    rec["butcher_fac_name"] = "厂" * 151
    rec["check_result"] = "2" * 101  # free text is a warning up to its practice length
    rec["farm_name"] = "a\nb"
    found = {(f.rule, f.field) for f in CAT.validate(t, rec)}
    assert found == {
        ("TRAN-REC-02", "seller_id"),
        ("TRAN-REC-01", "pig_colour"),
        ("TRAN-REC-03", "butcher_fac_name"),
        ("TRAN-REC-03", "check_result"),
        ("TRAN-REC-03", "farm_name"),
    }


def test_empty_required_counts_as_missing_and_empty_optional_is_fine():
    t = "animal_in_info"
    assert rules(CAT.validate(t, good(t, seller_id=""))) == ["TRAN-REC-02"]
    assert CAT.validate(t, good(t, farm_name="")) == []


def test_not_greater():
    t = "animal_in_info"
    found = CAT.validate(t, good(t, dead_num="9", quarantine_num="3"))
    assert [(f.rule, f.field) for f in found] == [("TRAN-REC-04", "dead_num")]


def test_unknown_type_and_non_dict():
    assert rules(CAT.validate("pig_party", {})) == ["TRAN-REC-01"]
    assert rules(CAT.validate("animal_in_info", ["x"])) == ["TRAN-REC-01"]


def test_non_text_values_are_findings():
    found = CAT.validate("retail_market_in_info_detail", good(weight=12.5, goods_name=["x"]))
    assert {(f.rule, f.field) for f in found} == {("TRAN-REC-03", "weight"), ("TRAN-REC-03", "goods_name")}


# -- decoding structure -------------------------------------------------------------
def test_duplicate_and_nested_elements_are_reported():
    x = (
        b"<retail_market_in_info_base><retail_market_id>650102001</retail_market_id>"
        b"<retail_market_id>650102002</retail_market_id><batch_id><b>1</b></batch_id></retail_market_in_info_base>"
    )
    (item,) = CAT.decode_xml(x).items
    assert [(f.rule, f.field) for f in item.findings] == [
        ("TRAN-REC-01", "retail_market_id"),
        ("TRAN-REC-01", "batch_id"),
    ]


def test_wrong_root_and_type_mismatch():
    d = CAT.decode_xml(b"<stuff><animal_in_info/></stuff>")
    assert rules(d.findings) == ["TRAN-REC-01"]
    d = CAT.decode_xml(b"<records><animal_in_info/></records>", "quarantine_info")
    assert rules(d.items[0].findings) == ["TRAN-REC-01"]


def test_json_numbers_and_null():
    d = CAT.decode_json(b'{"team_buy_acceptance_info": {"weight": 12.500, "price": null}}')
    assert d.items[0].record == {"weight": "12.500"}


def test_json_bare_fields_need_type():
    d = CAT.decode_json(b'{"weight": "1.000"}', "team_buy_acceptance_info")
    assert d.items[0].type == "team_buy_acceptance_info" and d.items[0].record == {"weight": "1.000"}
    d = CAT.decode_json(b"[1, 2]")
    assert [i.type for i in d.items] == ["?", "?"] and all(i.findings for i in d.items)


def test_xml_special_characters_round_trip():
    rec = good(goods_name="<猪&羊>\"'", area_origin_name="a\rb")
    dec = CAT.decode_xml(CAT.encode_xml("retail_market_in_info_detail", rec))
    assert dec.items[0].record == rec


def test_encoder_refuses_what_xml_cannot_carry():
    with pytest.raises(RecordEncodeError):
        CAT.encode_xml("animal_in_info", {"farm_name": "a\x00b"})
    with pytest.raises(RecordEncodeError):
        CAT.encode_xml("nope", {})
    with pytest.raises(RecordEncodeError):
        CAT.encode_json("animal_in_info", {"weight": Decimal("1")})


# -- Python values --------------------------------------------------------------------
def test_normalize_and_typed():
    rt = CAT["team_buy_acceptance_info"]
    rec = rt.normalize(
        {
            "weight": Decimal("1.23456"),
            "price": 12,
            "in_date": dt.date(2024, 5, 18),
            "goods_name": "白菜",
            "ws_supplier_name": None,
        }
    )
    assert rec == {"in_date": "20240518", "goods_name": "白菜", "weight": "1.235", "price": "12.00"}
    assert rt.typed(rec) == {
        "in_date": dt.date(2024, 5, 18),
        "goods_name": "白菜",
        "weight": Decimal("1.235"),
        "price": Decimal("12.00"),
    }
    with pytest.raises(KeyError):
        rt.normalize({"colour": "red"})
    with pytest.raises(ValueError):
        rt.normalize({"weight": [1]})


def test_business_date():
    assert CAT["retail_market_tran_info_summ"].business_date({"sale_date": "20240518"}) == "20240518"
    assert CAT["meat_out_info_detail"].business_date({"tran_id": "x"}) is None


# -- practice outranks the profile (issue 12) ------------------------------------------
@pytest.mark.parametrize(
    "field,value,code_rule",
    [
        ("ws_supplier_id", "650102000", "CODE-NODE-03"),  # node sequence 000: seen in Guangzhou's codes
        ("goods_code", "21113011", "CODE-COMM-03"),
    ],
)  # Ningbo's pork: outside the profile's table
def test_practice_codes_inside_records_are_warnings(field, value, code_rule):
    rec = good(**{field: value, "quarantine_animal_products_id": "4401234567"})  # 21113011 is meat
    found = CAT.validate("retail_market_in_info_detail", rec)
    assert [(f.rule, f.severity) for f in found] == [(code_rule, "warning")] and found[0].field.startswith(field)
    assert CAT.is_valid("retail_market_in_info_detail", rec)


@pytest.mark.parametrize(
    "field,sent,stored",
    [
        ("in_date", "2024-05-18", "20240518"),
        ("in_date", "2024-05-18 08:30:00", "20240518"),
        ("weight", "13.8000", "13.800"),
        ("price", "13.8000", "13.80"),
        ("price", "12.5", "12.5"),
    ],
)
def test_practice_forms_accepted_and_stored_canonically(field, sent, stored):
    t = "retail_market_in_info_base" if field == "in_date" else "retail_market_in_info_detail"
    rec = good(t, **{field: sent})
    assert CAT.validate(t, rec) == []
    assert CAT.canonical(t, rec)[field] == stored


@pytest.mark.parametrize("field,word,code", [("check_result", "合格", "1"), ("check_result", "不合格", "0")])
def test_result_words_are_codes(field, word, code):
    t = "animal_in_info"
    assert CAT.validate(t, good(t, **{field: word})) == []
    assert CAT.canonical(t, good(t, **{field: word}))[field] == code
    (f,) = CAT.validate(t, good(t, **{field: "阴性，未检出"}))  # free text: kept, a recommendation
    assert (f.rule, f.severity) == ("TRAN-REC-08", "warning")


def test_property_words_and_canonical_manager():
    t = "manager_base_info"
    for word, code in (("企业", "1"), ("个体", "2")):
        rec = good(t, property=word, record_date="2015-05-18 15:23:10")
        assert CAT.validate(t, rec) == []
        assert CAT.canonical(t, rec)["property"] == code
        assert CAT.canonical(t, rec)["record_date"] == "20150518152310"


def test_aliases_and_a_form_without_header_fields():
    t = "market_tran_info_detail"
    rec = {
        "tran_id": "44010600100010000001",
        "qua_id": "A4401234567",
        "batch_id": "4401060010000001",
        "goods_code": "21111001",
        "goods_name": "白条猪",
        "weight": "100.5",
        "price": "13.8000",
        "dest": "广州",
    }
    assert CAT.validate(t, rec) == []
    c = CAT.canonical(t, rec)
    assert "qua_id" not in c and c["quarantine_animal_products_id"] == "A4401234567" and c["price"] == "13.80"
    both = {**rec, "quarantine_animal_products_id": "A1"}
    assert rules(CAT.validate(t, both)) == ["TRAN-REC-01"]
    short = dict(rec)
    del short["goods_code"]
    assert rules(CAT.validate(t, short)) == ["TRAN-REC-02"]


def test_batch_ids_of_every_evidenced_kind():
    t = "market_in_info_detail"
    for batch in ("4401060010000001", "65010200100120000345"):  # 16-digit batch code, 20-digit trace code
        assert CAT.validate(t, good(t, batch_id=batch)) == []
    (f,) = CAT.validate(t, good(t, batch_id="1000000000000000123"))  # Ningbo-style local id: recommended only
    assert (f.rule, f.severity) == ("CODE-BATCH-02", "warning")
    cert = good(t, goods_code="21111001", batch_id="A44012345678", voucher_type="2")
    cert.pop("quarantine_animal_products_id", None)
    cert.pop("inspection_meat_id", None)
    assert CAT.validate(t, cert) == [], "a certificate typed by voucher_type is neither a local id nor a missing cert"


def test_ningbos_placeholder_commodity_code_is_a_warning():
    t = "retail_market_in_info_detail"
    found = CAT.validate(t, good(t, goods_code="0"))
    assert [(f.rule, f.severity, f.field) for f in found] == [("TRAN-REC-08", "warning", "goods_code")]
    assert rules(CAT.validate(t, good(t, goods_code="00"))) == ["TRAN-REC-06"]  # only the evidenced placeholder


def _practice_form(rt, rec: dict, data) -> dict:
    """The record rewritten the way deployed systems write it (issue 12): ISO dates, words, trailing zeros."""
    out = dict(rec)
    for k, v in rec.items():
        f = rt.by_name[k]
        if f.type == "date" and data.draw(st.booleans()):
            out[k] = f"{v[:4]}-{v[4:6]}-{v[6:]}"
        elif f.type == "datetime" and data.draw(st.booleans()):
            out[k] = f"{v[:4]}-{v[4:6]}-{v[6:8]} {v[8:10]}:{v[10:12]}:{v[12:]}"
        elif f.type == "decimal" and data.draw(st.booleans()):
            out[k] = v + ("00" if "." in v else ".0000")
        elif f.type == "enum" and f.synonyms and data.draw(st.booleans()):
            words = [w for w, code in f.synonyms.items() if code == v]
            out[k] = words[0] if words else v
    return out


@settings(max_examples=200, deadline=None)
@given(any_valid, st.data())
def test_practice_forms_of_valid_records_are_valid_and_canonical_is_stable(item, data):
    t, rec = item
    rt = CAT[t]
    sent = _practice_form(rt, rec, data)
    assert CAT.is_valid(t, sent), CAT.validate(t, sent)
    stored = CAT.canonical(t, sent)
    assert CAT.is_valid(t, stored) and CAT.canonical(t, stored) == stored
    for k, v in stored.items():  # the canonical form is the profile's own wire form
        f = rt.by_name[k]
        if f.type in ("date", "datetime"):
            assert v.isdigit() and len(v) == (8 if f.type == "date" else 14)
        if f.type == "enum" and f.synonyms:
            assert v in f.values
    assert rt.typed(stored) == rt.typed(CAT.canonical(t, rec)) == rt.typed(rec)  # same values, any form
