"""profiles/identifiers.py: USCC, plates, certificates, resident ids, card UIDs."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.identifiers import KINDS, PLATE_KINDS

I = load_profile().identifiers


def rules(value, kind, **kw):
    return [(f.rule, f.severity) for f in I.findings(value, kind, **kw)]


# -- USCC (refdata.md §3.1 worked examples) -----------------------------------
@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91512081MA62K0260E", "9131000063159284XQ", "91650102MA77ABCD3T", "91650102MA78XK2P9E"],
)
def test_uscc_worked_examples_pass(code):
    assert I.is_valid(code, "uscc")


@pytest.mark.parametrize("code", ["91350211M0000XUF46", "91350100M0001TGQXM"])
def test_uscc_worked_examples_fail_on_check_char(code):
    assert ("CODE-USCC-02", "error") in rules(code, "uscc")


def test_uscc_historic_region_is_only_a_warning():
    # 512081 (简阳市, moved to 成都 as 510185) is not in the current table
    assert rules("91512081MA62K0260E", "uscc") == [("CODE-USCC-01", "warning")]


def test_uscc_orgcode_check_is_its_own_rule():
    good = "91350100M000100Y43"
    bad17 = good[:16] + "5"
    bad = bad17 + I.uscc_check_char(bad17)  # position 18 recomputed, so only 17 is wrong
    assert rules(bad, "uscc") == [("CODE-USCC-03", "error")]


@pytest.mark.parametrize(
    "code,pos",
    [
        ("91350100M00010OY43", "[14]"),
        ("9135010OM000100Y43", "[7]"),
        ("91350100m000100Y43", "[8]"),
        ("９1350100M000100Y43", "[0]"),
        ("91350100M000100Y4Z", "[17]"),
    ],
)  # the source's wrong "…4Z")
def test_uscc_charset(code, pos):
    fs = I.findings(code, "uscc")
    assert [f.field for f in fs] == [pos] and fs[0].rule == "CODE-USCC-01"


def test_uscc_department_and_category():
    first17 = "B1650102MA77ABCD3"
    assert ("CODE-USCC-01", "error") in rules(first17 + "0", "uscc")  # B is no department
    first17 = "94650102MA77ABCD3"  # 工商 has categories 1-3 only
    assert ("CODE-USCC-01", "error") in rules(first17 + I.uscc_check_char(first17), "uscc")


def test_uscc_generator_departments_and_bad_region():
    r = random.Random(3)
    assert I.new_uscc(r, "650102", "9", "2").startswith("92650102MA")
    assert I.is_valid(I.new_uscc(r, "650000", "5", "1"), "uscc")
    with pytest.raises(ValueError):
        I.new_uscc(r, "999999")
    with pytest.raises(ValueError):
        I.new_uscc(r, "650102", "9", "7")


regions = st.sampled_from(sorted(c for c in ("650102", "650103", "650121", "620102", "370783", "110101")))


@given(seed=st.integers(0, 2**32), region=regions, cat=st.sampled_from("123"))
def test_generated_uscc_always_validates(seed, region, cat):
    code = I.new_uscc(random.Random(seed), region, "9", cat)
    assert len(code) == 18 and I.findings(code, "uscc") == []


@given(seed=st.integers(0, 2**32), pos=st.integers(0, 17), ch=st.characters())
def test_any_single_changed_character_is_detected(seed, pos, ch):
    code = I.new_uscc(random.Random(seed), "650102")
    if code[pos] == ch:
        return
    changed = code[:pos] + ch + code[pos + 1 :]
    assert not I.is_valid(changed, "uscc"), changed


# -- plates (GA 36, refdata.md §3.2) --------------------------------------------
@pytest.mark.parametrize(
    "plate,kind",
    [
        ("新A·12345", "ordinary"),
        ("新A12345", "ordinary"),
        ("新AAB123", "ordinary"),
        ("甘A3X456", "ordinary"),
        ("新AD12345", "nev_small"),
        ("新AFK1234", "nev_small"),
        ("新A12345D", "nev_large"),
        ("京A·12345F", "nev_large"),
    ],
)
def test_valid_plates(plate, kind):
    assert I.findings(plate, "plate") == [] and I.plate_kind(plate) == kind


@pytest.mark.parametrize(
    "plate,rule",
    [
        ("冀H-16475", "CODE-PLATE-01"),  # Faker's format
        ("新A-12345", "CODE-PLATE-01"),
        ("新AI2345", "CODE-PLATE-02"),
        ("新O12345", "CODE-PLATE-02"),
        ("新A12O45", "CODE-PLATE-02"),
        ("新AABC12", "CODE-PLATE-01"),  # 3 letters
        ("新A1234", "CODE-PLATE-01"),
        ("新A1234567", "CODE-PLATE-01"),
        ("新AA12345", "CODE-PLATE-01"),  # 6-char serial that is no NEV pattern
        ("新A1234DD", "CODE-PLATE-01"),
        ("台A12345", "CODE-PLATE-01"),
        ("新a12345", "CODE-PLATE-01"),
        ("新A•12345", "CODE-PLATE-01"),
        ("", "CODE-PLATE-01"),
    ],
)
def test_invalid_plates(plate, rule):
    assert rule in {r for r, _ in rules(plate, "plate")}
    assert I.plate_kind(plate) is None


def test_all_31_provinces():
    assert len(I.provinces) == 31 and "新" in I.provinces and "台" not in I.provinces
    assert I.plate_prefix_of("650100") == "新A"


@given(
    seed=st.integers(0, 2**32),
    kind=st.sampled_from(PLATE_KINDS),
    sep=st.booleans(),
    prefix=st.sampled_from(["新A", "甘A", "鲁G", "川A"]),
)
def test_generated_plates_always_validate(seed, kind, sep, prefix):
    plate = I.new_plate(random.Random(seed), prefix, kind, separator=sep)
    assert I.findings(plate, "plate") == [] and I.plate_kind(plate) == kind
    assert "-" not in plate and "I" not in plate and "O" not in plate


def test_plate_generator_defaults_to_urumqi_and_rejects_bad_prefix():
    assert I.new_plate(random.Random(1)).startswith("新A")
    for bad in ("新I", "XA", "新"):
        with pytest.raises(ValueError):
            I.new_plate(random.Random(1), bad)


# -- certificates (profile format) -----------------------------------------------
def test_certificate_round_trip_every_kind():
    d = dt.date(2025, 1, 15)
    for kind in I.cert_kinds:
        n = I.new_certificate(kind, "650102", d, 7)
        assert len(n) == 20 and I.findings(n, "certificate", cert_kind=kind) == []
        assert I.certificate_kind(n) == kind


@pytest.mark.parametrize(
    "number",
    [
        "AQ65010220250230 0001".replace(" ", ""),  # 30 Feb
        "ZZ650102202501150001",
        "AQ650102202501150000",
        "AQ6501022025011500",
        "AQ65010220250115000X",
        "",
    ],
)
def test_bad_certificates(number):
    assert "CODE-CERT-01" in {r for r, s in rules(number, "certificate") if s == "error"}


def test_certificate_of_wrong_kind_and_unknown_region():
    n = I.new_certificate("meat_quality", "650102", dt.date(2025, 1, 1), 1)
    assert ("CODE-CERT-01", "error") in rules(n, "certificate", cert_kind="veg_test")
    assert rules("AQ999999202501010001", "certificate") == [("CODE-CERT-01", "warning")]
    with pytest.raises(ValueError):
        I.new_certificate("nope", "650102", dt.date(2025, 1, 1), 1)


# -- resident id, card UID -----------------------------------------------------------
def test_resident_id():
    assert I.is_valid("11010519491231002X", "resident_id")  # GB 11643 textbook example
    assert ("CODE-RESID-02", "error") in rules("110105194912310021", "resident_id")
    assert ("CODE-RESID-01", "error") in rules("110105194913310020", "resident_id")
    assert ("CODE-RESID-01", "error") in rules("11010519491231002x", "resident_id")


def test_faker_ssn_validates():
    from faker import Faker

    f = Faker("zh_CN")
    f.seed_instance(5)
    assert all(I.is_valid(f.ssn(), "resident_id") for _ in range(200))


def test_card_uid():
    assert I.is_valid("04A1B2C3", "card_uid")
    for bad in ("04a1b2c3", "04A1B2C", "04:A1:B2:C3", "04A1B2C3D4"):
        assert not I.is_valid(bad, "card_uid")
    r = random.Random(2)
    assert all(I.is_valid(I.new_card_uid(r), "card_uid") for _ in range(100))


# -- validators never raise ------------------------------------------------------------
@settings(max_examples=300)
@given(
    value=st.one_of(
        st.text(),
        st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXYIOZSV新A·-", max_size=22),
        st.integers(),
        st.none(),
        st.binary(),
    ),
    kind=st.sampled_from(KINDS),
)
def test_validators_never_raise(value, kind):
    fs = I.findings(value, kind)
    assert isinstance(fs, list)
    assert I.is_valid(value, kind) == (not any(f.severity == "error" for f in fs))
    if not isinstance(value, str):
        assert fs


def test_enums_from_practice():
    assert I.enum_label("supply_type", "0001") == "屠宰企业"
    assert I.enum_label("business_type", "1001", "en") == "stallholder"
    assert set(I.enums["card_kind"]) == {"01", "02"}
    assert I.enums["voucher_type"]["2"]["certificate"] == "product_quarantine"
    assert I.enum_label("supply_type", "9999") is None


@given(
    kind=st.sampled_from(sorted(I.cert_kinds)),
    region=regions,
    date=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
    serial=st.integers(1, 9999),
)
def test_generated_certificates_always_validate(kind, region, date, serial):
    n = I.new_certificate(kind, region, date, serial)
    assert I.findings(n, "certificate", cert_kind=kind) == []
    assert (I.certificate_kind(n), n[2:8], n[8:16], int(n[16:])) == (kind, region, f"{date:%Y%m%d}", serial)


# -- 畜禽标识 ear tags and production base ids (issue 14 item 7) ---------------------------
def test_ear_tag_structure_from_the_regulation():
    """15 digits: species (1 pig, 2 cattle, 3 sheep; 7 breeding sow) + county GB/T 2260 + 8-digit serial."""
    assert I.is_valid("165012100000001", "ear_tag")
    assert I.is_valid("365010212345678", "ear_tag") and I.is_valid("765010200000009", "ear_tag")
    for bad in ("16501210000001", "1650121000000011", "16501210000000A", "465012100000001", "", "１65012100000001"):
        assert ("CODE-EARTAG-01", "error") in rules(bad, "ear_tag"), bad
    assert rules("199999900000001", "ear_tag") == [("CODE-EARTAG-01", "warning")]  # no such county: a warning


def test_ear_tag_ranges():
    a, b = I.new_ear_tag("pig", "650121", 7), I.new_ear_tag("pig", "650121", 46)
    assert I.ear_tag_range_findings(a, b) == [] and I.ear_tag_range_findings(a, a) == []
    assert [f.field for f in I.ear_tag_range_findings(b, a)] == ["range"]
    assert [f.field for f in I.ear_tag_range_findings(a, I.new_ear_tag("sheep", "650121", 46))] == ["range"]
    assert [f.field for f in I.ear_tag_range_findings(a, I.new_ear_tag("pig", "650102", 46))] == ["range"]
    assert I.ear_tag_range_findings(a, None) and I.ear_tag_range_findings(12, b)
    with pytest.raises(ValueError):
        I.new_ear_tag("poultry", "650121", 1)  # poultry carry no 畜禽标识 ear tag
    with pytest.raises(ValueError):
        I.new_ear_tag("pig", "650121", 10**8)


@given(
    species=st.sampled_from(["pig", "cattle", "sheep", "1", "2", "3", "7"]),
    region=regions,
    first=st.integers(1, 10**8 - 1),
    n=st.integers(0, 500),
)
def test_generated_ear_tags_and_ranges_always_validate(species, region, first, n):
    last = min(first + n, 10**8 - 1)
    a, b = I.new_ear_tag(species, region, first), I.new_ear_tag(species, region, last)
    assert I.findings(a, "ear_tag") == [] and I.ear_tag_range_findings(a, b) == []
    assert (a[1:7], int(a[7:]), int(b[7:]) - int(a[7:])) == (region, first, last - first)
    assert I.ear_tag_species[a[0]]["animal"] == {"1": "pig", "2": "cattle", "3": "sheep", "7": "pig"}.get(
        species, species
    )


@given(region=regions, serial=st.integers(1, 9999))
def test_generated_base_ids_always_validate(region, serial):
    b = I.new_base_id(region, serial)
    assert I.findings(b, "base_id") == [] and (b[:6], int(b[6:])) == (region, serial)


def test_bad_base_ids():
    for bad in ("650109000", "65010900011", "6501090000", "65010900A1", ""):
        assert ("CODE-BASE-01", "error") in rules(bad, "base_id"), bad
    assert rules("9999990001", "base_id") == [("CODE-BASE-01", "warning")]
