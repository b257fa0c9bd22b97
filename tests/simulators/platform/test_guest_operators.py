"""NODE-WHOL-01 at the platform: an operator registered at another node trades at a wholesale market under its home
operator code (standards.md §3.3, wholesale step 1: not registered again), so the market's records may name it as
seller.  Issue 13 finding 7 still holds for everything else (platform.toml [guests], evidence profile): the host must
be a node whose role takes guests (wholesale), the guest must be a registered operator of a registered node whose role
supplies a wholesale market (slaughterhouse, wholesale); any other seller of another node is rejected (2008)."""

import pytest

from platformkit import MEAT, R, S, V, W, code, rec

# (host node, record type, seller field, a registered operator of another node that may trade there)
GUESTS = [
    (V, "market_in_info_base", "wholesaler_id", W + "0001"),  # a meat wholesaler enters a lot at the veg market
    (W, "market_in_info_base", "wholesaler_id", S + "0001"),  # a slaughterhouse's operator sells at the market
    (V, "market_tran_info_detail", "wholesaler_id", W + "0001"),  # and sells there (a voucher the market issues:
]  # one under the guest's home code is refused)


def _record(host: str, rtype: str, field: str, seller: str, seq: int) -> dict:
    if rtype == "market_in_info_base":
        return rec(
            rtype, host, market_id=host, **{field: seller}, tran_id=None, batch_id=code(host + "0000", 6_000_000 + seq)
        )
    return rec(
        rtype,
        host,
        market_id=host,
        **{field: seller},
        retailer_id=R + "0001",
        tran_id=code(host + "0000", 6_000_000 + seq),
        batch_id=code(S + "0000", seq),
        goods_code=MEAT.code,
    )


@pytest.mark.parametrize("host,rtype,field,guest", GUESTS, ids=[f"{c[0]}-{c[1]}" for c in GUESTS])
def test_a_wholesale_markets_guest_operator_is_accepted_under_its_home_code(platform, host, rtype, field, guest):
    r, resp = platform.upload(host, rtype, [_record(host, rtype, field, guest, 1)])
    assert resp.results[0].verdict == "accepted", resp.results[0]
    assert platform.count("SELECT COUNT(*) FROM records WHERE node_id = ? AND rtype = ?", (host, rtype)) == 1


# (host node, seller, whether the platform knows the seller as an operator, why it is not a guest)
NOT_GUESTS = [
    (V, W + "0099", False, "not a registered operator"),
    (V, "6501099990001", False, "an operator of a node this platform does not register"),
    (V, R + "0001", True, "an operator of a retail market (not a supplier of a wholesale market)"),
    (R, W + "0001", True, "the uploader is a retail market (takes no guests)"),
]


@pytest.mark.parametrize("host,seller,registered,why", NOT_GUESTS, ids=[c[3] for c in NOT_GUESTS])
def test_other_sellers_of_other_nodes_stay_rejected(platform, host, seller, registered, why):
    if host == R:
        rtype, field = "retail_market_in_info_base", "retailer_id"
        recd = rec(rtype, R, retail_market_id=R, retailer_id=seller, tran_id=None, batch_id=code(R + "0000", 9))
    else:
        rtype, field = "market_in_info_base", "wholesaler_id"
        recd = _record(host, rtype, field, seller, 2)
    before = platform.count()
    r, resp = platform.upload(host, rtype, [recd], operators=registered)
    v = resp.results[0]
    assert (v.verdict, v.reason) == ("rejected", "2008"), (why, v)
    assert platform.count() == before
