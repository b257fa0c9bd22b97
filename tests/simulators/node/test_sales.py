"""Sale line -> records: exact unit conversion, always valid records (hypothesis), wholesale pairs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.device.messages import SaleRecord
from simulators.node.sales import SaleMapper, SaleMappingError, in_catalogue_order, kg_text, yuan_text

P = load_profile()
NODE = "650103002"
OPS = {"6501030020001": "王杨", "6501030020003": "李静"}
VEG = [c.code for c in P.commodities if not P.records.is_meat(c.code)]
MEAT = [c.code for c in P.commodities if P.records.is_meat(c.code)]


@given(st.integers(0, 10**9))
def test_kg_text_is_exact(g):
    t = kg_text(g)
    assert Decimal(t) * 1000 == g and len(t.split(".")[1]) == 3


@given(st.integers(0, 10**9))
def test_yuan_text_is_exact(f):
    t = yuan_text(f)
    assert Decimal(t) * 100 == f and len(t.split(".")[1]) == 2


def sales(commodities):
    return st.builds(
        lambda idx, seq, bseq, code, w, price, t, op, stall: SaleRecord(
            idx,
            P.codes.trace_code(op, seq),
            P.codes.trace_code("6501040020003", bseq),
            code,
            P.commodities[code].name_zh,
            w,
            price,
            (w * price + 500) // 1000,
            t,
            "RS1",
            op,
            stall,
        ),
        st.integers(1, 10**6),
        st.integers(1, 9_999_999),
        st.integers(1, 9_999_999),
        st.sampled_from(commodities),
        st.integers(1, 150_000),
        st.integers(1, 999_999),
        st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)),
        st.sampled_from(sorted(OPS)),
        st.from_regex(r"[A-Z][0-9]{2}", fullmatch=True),
    )


@settings(max_examples=150, deadline=None)
@given(sales(VEG))
def test_retail_vegetable_sale_always_valid_and_round_trips(sale):
    m = SaleMapper(NODE, "昊嘉农贸市场", "farmers_market", OPS.get, P.codes)
    [(rtype, rec)] = m.records(sale)
    assert rtype == "retail_market_tran_info_summ"
    assert P.records.validate(rtype, rec) == []
    back = P.records.types[rtype].typed(rec)
    assert back["weight"] * 1000 == sale.weight_g and back["price"] * 100 == sale.unit_price_fen
    assert rec["sale_tran_id"] == sale.trace_code and rec["batch_id"] == sale.batch_trace
    assert back["sale_date"] == sale.time.date()


@settings(max_examples=80, deadline=None)
@given(sales(MEAT))
def test_meat_sale_needs_the_batch_certificate(sale):
    m = SaleMapper(NODE, "昊嘉农贸市场", "farmers_market", OPS.get, P.codes)
    [(rtype, rec)] = m.records(sale)
    assert {f.rule for f in P.records.validate(rtype, rec)} == {"TRAN-REC-05"}
    [(rtype, rec)] = m.records(sale, {"quarantine_animal_products_id": "PQ650104202503100001"})
    assert P.records.validate(rtype, rec) == []


@settings(max_examples=80, deadline=None)
@given(sales(VEG))
def test_wholesale_sale_is_a_valid_base_and_detail_pair(sale):
    sale.operator_code = "6501040020003"
    m = SaleMapper("650104002", "蔬菜批发市场", "vegetable_wholesale", {"6501040020003": "源晟"}.get, P.codes)
    sale.trace_code = P.codes.trace_code("6501040020003", 5)
    (t1, base), (t2, detail) = m.records(sale)
    assert (t1, t2) == ("market_tran_info_base", "market_tran_info_detail")
    assert P.records.validate(t1, base) == [] and P.records.validate(t2, detail) == []
    assert base["retailer_id"] == "6501040020000" and detail["tran_id"] == base["tran_id"] == sale.trace_code


def test_no_scales_where_the_profile_has_no_sale_record():
    for t in ("supermarket", "canteen", "slaughter_pig"):
        with pytest.raises(SaleMappingError) as exc:
            SaleMapper.role_for(t)
        assert t in exc.value.en and exc.value.zh


def test_catalogue_order():
    rt = P.records.types["retail_market_tran_info_summ"]
    rec = in_catalogue_order(rt, {"weight": "1.000", "retail_market_id": NODE, "zzz": "x"})
    assert list(rec) == ["retail_market_id", "weight", "zzz"]
