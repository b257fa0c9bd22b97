"""A dialect writes records in its city's form (profiles/forms.py) and reads them back; the reference reads them too."""

import random

import pytest

from profiles import load_profile
from profiles.record_examples import example_record

REF, GZ = load_profile("reference"), load_profile("guangzhou")


def _ref_record(rtype, seed=0, **over):
    rec = example_record(REF.records, rtype, random.Random(seed), node="440106001")
    rec.update(over)
    return rec


def test_guangzhou_tran_detail_is_written_in_the_pdm_form():
    rec = _ref_record("market_tran_info_detail", quarantine_animal_products_id="440106-2024-001")
    out = GZ.envelope.city_form.write("market_tran_info_detail", rec)
    assert list(out) == [
        k for k in ("tran_id", "qua_id", "batch_id", "goods_code", "goods_name", "weight", "price", "dest") if k in out
    ]
    assert out["qua_id"] == "440106-2024-001" and "market_id" not in out and "tran_date" not in out
    assert {k: v for k, v in out.items() if k != "qua_id"} == {k: rec[k] for k in out if k != "qua_id"}


def test_guangzhou_supermarket_detail_names_the_market_and_dates_are_yyyy_mm_dd():
    out = GZ.envelope.city_form.write("super_market_in_info_detail", _ref_record("super_market_in_info_detail"))
    assert "market_code" in out and "ws_supplier_id" not in out and "prov_id" not in out
    base = GZ.envelope.city_form.write("market_in_info_base", _ref_record("market_in_info_base"))
    assert base["in_date"][4] == "-" and len(base["in_date"]) == 10


@pytest.mark.parametrize("rtype", sorted(REF.records.types))
def test_every_type_written_by_guangzhou_validates_under_guangzhou_and_reference(rtype):
    for seed in range(5):
        rec = _ref_record(rtype, seed)
        out = GZ.envelope.city_form.write(rtype, rec)
        assert [f for f in GZ.records.validate(rtype, out) if f.severity == "error"] == [], (rtype, out)
        assert [f for f in REF.records.validate(rtype, out) if f.severity == "error"] == [], (rtype, out)
        assert GZ.records.canonical(rtype, out) == GZ.envelope.city_form.narrow(rtype, rec)


def test_a_guangzhou_envelope_carries_its_forms_and_verifies():
    recs = [_ref_record("market_tran_info_detail", s, quarantine_animal_products_id=f"Q-{s}") for s in range(3)]
    body = GZ.envelope.build(
        "440106001", "market_tran_info_detail", recs, "k", request_time="20240518203000000", data_date="20240518"
    )
    assert b"<qua_id>Q-0</qua_id>" in body and b"<market_id>" not in body
    for prof in (GZ, REF):
        res = prof.envelope.parse(body, key="k")
        assert res.authenticated and res.ok, (prof.name, res.findings, res.record_findings)


def test_the_reference_writes_records_as_given_and_guangzhou_narrows_other_cities_names():
    rec = _ref_record("retail_market_in_info_detail")
    assert REF.envelope.city_form.write("retail_market_in_info_detail", rec) is rec
    ningbo = {
        ("retail_id" if k == "retail_market_id" else k): v
        for k, v in _ref_record("retail_market_tran_info_summ").items()
    }
    assert not [f for f in REF.records.validate("retail_market_tran_info_summ", ningbo) if f.severity == "error"]
    assert any(
        f.field == "retail_id" and f.severity == "error"
        for f in GZ.records.validate("retail_market_tran_info_summ", ningbo)
    )


def test_keys_outside_the_catalogue_survive_for_negative_tests():
    rec = {**_ref_record("market_tran_info_detail"), "not_a_field": "x"}
    assert GZ.envelope.city_form.write("market_tran_info_detail", rec)["not_a_field"] == "x"


@pytest.mark.parametrize("rtype", ["market_tran_info_detail", "super_market_in_info_detail", "market_in_info_base"])
def test_writing_a_written_record_changes_nothing(rtype):
    form = GZ.envelope.city_form
    once = form.write(
        rtype,
        _ref_record(rtype, quarantine_animal_products_id="Q-9")
        if rtype == "market_tran_info_detail"
        else _ref_record(rtype),
    )
    assert form.write(rtype, once) == once and list(form.write(rtype, once)) == list(once)


def test_changchun_writes_the_operator_kind_in_words_and_its_own_validation_passes():
    """records.toml [emit] values: the harness's canonical property 1/2 is written 企业/个体 under changchun, whose
    dialect reads only the words (a record written in the reference's codes would be refused by its platform)."""
    from profiles import load_profile

    cc = load_profile("changchun")
    rec = {
        "butcher_fac_id": "220122001",
        "butcher_fac_name": "长春众品食品有限公司",
        "id": "2201220010000",
        "name": "长春众品食品有限公司",
        "property": "1",
        "type": "2002",
        "record_date": "20150518152310",
    }
    form = cc.envelope.city_form
    written = form.write("manager_base_info", rec)
    assert written["property"] == "企业"
    assert cc.records.validate("manager_base_info", written) == []
    assert form.write("manager_base_info", {**rec, "property": "2"})["property"] == "个体"
    assert form.write("manager_base_info", written) == written  # writing twice changes nothing
