"""The node as the target, run-wide: every sale line a scale gave the node reaches the platform once, as given.

Judged over the whole scenario (every phase, every scale of every node under test), from what the harness's
simulated scales recorded (:attr:`~.nodeharness.ScaleBench.sales`: the scale's own sale lines) and what the
harness platform stored.  The judge's own table of which record field carries which part of a sale line
(:data:`SALE_FIELDS`) reads the profile's record catalogue (evidence ``profile``): the line's trace code, operator,
stall, batch, commodity code and name, weight (kg, 3 decimals), unit price (yuan, 2 decimals) and business date.
"""

from __future__ import annotations

import pytest

from .nodeviews import load

pytestmark = pytest.mark.applies(kinds=("node",), needs=("node_scales",))

#: sale line record type per node role -> (field of the line's trace code, {record field: what of the sale line})
SALE_FIELDS = {
    "retail": (
        "retail_market_tran_info_summ",
        "sale_tran_id",
        {
            "retailer_id": "operator",
            "position_id": "stall",
            "batch_id": "batch",
            "goods_code": "commodity",
            "goods_name": "commodity_name",
            "weight": "weight",
            "price": "price",
            "sale_date": "day",
        },
    ),
    "wholesale": (
        "market_tran_info_detail",
        "tran_id",
        {
            "wholesaler_id": "operator",
            "batch_id": "batch",
            "goods_code": "commodity",
            "goods_name": "commodity_name",
            "weight": "weight",
            "price": "price",
            "tran_date": "day",
        },
    ),
}


#: the voucher's header record per node role: a dialect whose sale line record does not carry a field of the line
#: (Guangzhou's market_tran_info_detail has no wholesaler_id, no tran_date: deployed/guangzhou_rlscsy_pdm_record_tables.md)
#: carries it in the header of the same voucher (tran_id = the line's trace code)
HEADER = {"wholesale": "market_tran_info_base"}


def as_given(sale) -> dict[str, str]:
    """What of a scale's sale line (:class:`~profiles.device.messages.SaleRecord`) a record must carry, as text."""
    return {
        "operator": sale.operator_code,
        "stall": sale.stall,
        "batch": sale.batch_trace,
        "commodity": sale.commodity,
        "commodity_name": sale.commodity_name,
        "weight": f"{sale.weight_g // 1000}.{sale.weight_g % 1000:03d}",
        "price": f"{sale.unit_price_fen // 100}.{sale.unit_price_fen % 100:02d}",
        "day": sale.time.strftime("%Y%m%d"),
    }


@pytest.mark.requirement("NODE-DEV-01")
def test_every_scale_sale_is_uploaded_once_with_every_field_as_the_scale_gave_it(node_session, profile, evidence):
    """For every sale line of every scale of the run (all phases, outage included): the platform holds exactly one
    sale record with the line's trace code, and every field that carries part of the line (operator, stall,
    batch, commodity code and name, weight, unit price, business date) is what the scale gave.  No sale record
    of the node carries a trace code that no scale sold and no handheld record gave."""
    s = node_session
    types = profile.records.types
    problems, judged, fields = [], 0, 0
    for n in s.nodes.values():
        if not n.scales or n.role not in SALE_FIELDS:
            continue
        rtype, code_field, table = SALE_FIELDS[n.role]
        stored: dict[str, list[dict]] = {}
        headers: dict[str, dict] = {}
        htype = HEADER.get(n.role)
        for _node, t, _own, body in s.stored(n.code):
            if t == rtype:
                rec = load(body)
                stored.setdefault(rec.get(code_field), []).append(rec)
            elif t == htype:
                hrec = load(body)
                headers.setdefault(hrec.get("tran_id"), hrec)
        sold = set()
        for b in n.scales:
            for _t, sale, phase in b.sales:
                judged += 1
                sold.add(sale.trace_code)
                got = stored.get(sale.trace_code, [])
                if len(got) != 1:
                    problems.append(
                        {
                            "node": n.code,
                            "scale": b.id,
                            "trace_code": sale.trace_code,
                            "phase": phase,
                            "stored_records": len(got),
                        }
                    )
                    continue
                want = as_given(sale)
                rec = got[0]
                for f, part in table.items():
                    if part == "stall" and not want[part]:
                        continue
                    carrier, src = rtype, rec
                    if f not in types[rtype].by_name and htype and f in types[htype].by_name:
                        carrier, src = htype, headers.get(sale.trace_code, {})  # the dialect's header carries it
                    fields += 1
                    have = types[carrier].business_date(src) if part == "day" else src.get(f)
                    if have != want[part]:
                        problems.append(
                            {
                                "node": n.code,
                                "scale": b.id,
                                "trace_code": sale.trace_code,
                                "field": f,
                                "scale_gave": want[part],
                                "uploaded": have,
                            }
                        )
        given = {load(c).get(code_field) for (_t, t, c, v) in n.handheld if t == rtype and v == "accepted"}
        for code in sorted(set(stored) - sold - given):
            problems.append({"node": n.code, "trace_code": code, "invented": "a sale record no scale sold"})
    evidence.attach_json(
        "sales-vs-uploads.json", {"sale_lines": judged, "fields_compared": fields, "problems": problems[:300]}
    )
    evidence.note(
        f"{judged} 笔秤上销售逐一核对（{fields} 个字段）；{len(problems)} 处不符",
        f"{judged} scale sale lines checked one by one ({fields} fields); {len(problems)} differences",
    )
    if not judged:
        pytest.fail("no sale was made on any scale of the nodes under test (nothing judged)", pytrace=False)
    assert not problems, (
        f"{len(problems)} differences between the scales' sale lines and what the node uploaded "
        f"(each line once, every field as the scale gave it), e.g. {problems[:3]}"
    )
