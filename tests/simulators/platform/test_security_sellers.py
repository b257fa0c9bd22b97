"""Issue 13 finding 7: the operator a record names as its seller (or owner) must belong to the uploading node, in
every record type that names one (platform.toml [records.TYPE] sellers, evidence profile) - not only in
manager_base_info.  A record naming another node's operator is rejected (2008) and not stored."""

import pytest

from platformkit import MEAT, R, S, W, code, meat_chain, rec, upload_all

# (uploader, record type, seller field, another node's registered operator)
CASES = [
    (R, "retail_market_tran_info_summ", "retailer_id", W + "0001"),
    (W, "market_tran_info_detail", "wholesaler_id", R + "0001"),
    (W, "market_in_info_base", "wholesaler_id", R + "0001"),
    (R, "retail_market_in_info_base", "retailer_id", W + "0001"),
    (S, "meat_out_info_base", "seller_id", W + "0001"),
    (S, "animal_in_info", "seller_id", W + "0001"),
]


@pytest.mark.parametrize("node,rtype,field,other", CASES, ids=[c[1] for c in CASES])
def test_a_record_naming_another_nodes_operator_as_seller_is_rejected(platform, node, rtype, field, other):
    upload_all(platform, meat_chain())
    base = next(recs[0] for n, t, recs in meat_chain(n=7)["uploads"] if t == rtype)
    hostile = dict(base, **{field: other})
    if rtype == "retail_market_tran_info_summ":
        hostile["sale_tran_id"] = code(R + "0001", 99)
    before = platform.count()
    r, resp = platform.upload(node, rtype, [hostile])
    v = resp.results[0]
    assert (v.verdict, v.reason) == ("rejected", "2008"), v
    assert platform.count() == before


def test_own_operators_as_sellers_are_accepted(platform):
    upload_all(platform, meat_chain())  # every seller field names the uploader's own operator


def test_buyer_fields_may_name_other_nodes(platform):
    r, resp = platform.upload(
        W,
        "market_tran_info_detail",
        [
            rec(
                "market_tran_info_detail",
                W,
                market_id=W,
                wholesaler_id=W + "0001",
                retailer_id=R + "0001",
                tran_id=code(W + "0001", 5),
                batch_id=code(S + "0000", 5),
                goods_code=MEAT.code,
            )
        ],
    )
    assert resp.results[0].verdict == "accepted", resp.results[0]
