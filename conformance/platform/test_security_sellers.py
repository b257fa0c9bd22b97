"""Security of record ownership: a node cannot name another node's operator as its seller (PLAT-SEC-02).

The existing ownership test (test_security.py) covers the node fields and trace codes of another node and operators
nobody registered; here the seller *is* registered, but at another node: a retail market uploads sales whose
seller (``retailer_id``) is an operator registered at another retail-side node of the city.
"""

from __future__ import annotations

import pytest

from conformance.queries import day_rows

PLATFORM = ("city_platform",)
RTYPE = "retail_market_tran_info_summ"


def _other_node_with_operators(records, node: str) -> str:
    """Another node whose operators can sell: a retail market if the city has a second one, else a supermarket,
    else any node with operators."""
    for role in ("retail", "supermarket"):
        for n in sorted(records.by_role.get(role, [])):
            if n != node and records.ops.get(n):
                return n
    return next(n for n in sorted(records.ops) if n != node)


@pytest.mark.requirement("PLAT-SEC-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_a_node_cannot_name_another_nodes_operator_as_seller(records, uploader, http, platform, capabilities, evidence):
    """In one envelope of a retail market: a sale by one of its own operators is accepted; sales whose seller is
    an operator registered at another node (two of that node's operators) are rejected (2008 not your record,
    or 2010 operator not registered at this node), and nothing of them is stored."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    node = records.node_for(RTYPE)
    other = _other_node_with_operators(records, node)
    foreign = sorted(records.ops[other])[:2]
    recs = [records.make(RTYPE, d)] + [records.make(RTYPE, d, retailer_id=op) for op in foreign]
    evidence.attach_json(
        "sellers.json", {"uploading_node": node, "sellers_of": other, "sellers": [r["retailer_id"] for r in recs]}
    )
    a = uploader.upload(node, RTYPE, recs, header={"DataDate": date})
    want = ["accepted"] + ["rejected"] * len(foreign)
    assert a.verdicts == want and all(r in ("2008", "2010") for r in a.reasons[1:]), (
        f"sales naming another node's operator ({other}) as seller must be rejected (2008 or 2010), the node's own "
        f"accepted: {a}"
    )
    if capabilities.capabilities.get("statistics"):
        stored = sum(v[0] for k, v in day_rows(http, platform.url, date).items() if k[1] == RTYPE)
        assert stored == 1, f"{stored} sales stored for {date}; only the node's own (1) may be"
