"""Security of stop-trade: a failed test record from a node without the right stops nothing (PLAT-SEC-07).

The attacker is a registered node with its own key: a canteen (its role does not test), and a node that never
held the batch.  Each uploads a correctly signed ``qmarket_detection_info`` naming itself as the testing market
(so PLAT-SEC-02's ownership rule is met), ``detection_result`` 0 and a reason text of its choosing, for a
vegetable batch of the simulated day that a wholesale market issued and other nodes received.  The record must
not be accepted, and no node may get an instruction for any code of the batch.
"""

from __future__ import annotations

import pytest

from conformance.platform.conftest import cite_day_upload
from conformance.platform.test_stoptrade import _holders
from conformance.queries import broadcasts, stop_pending

PLATFORM = ("city_platform",)
RTYPE = "qmarket_detection_info"
REASON = "ATTACKER-CHOSEN REASON 攻击者自拟原因"


def _instructed(http, platform, profile, codes: set[str]) -> dict[str, list[str]]:
    """``{node: [codes]}``: every node's pending instructions for ``codes``, and the broadcast listing's."""
    out: dict[str, list[str]] = {}
    for node in sorted(platform.keys):
        status, doc = stop_pending(http, platform.url, profile, node, platform.keys[node])
        mine = (
            sorted({i["batch_code"] for i in doc.get("instructions", []) if i.get("batch_code") in codes})
            if status == 200 and isinstance(doc, dict)
            else []
        )
        if mine:
            out[node] = mine
    status, listing = broadcasts(http, platform.url)
    for i in listing.get("instructions", []) if status == 200 and isinstance(listing, dict) else []:
        if i.get("batch_code") in codes and i.get("batch_code") not in out.get(i.get("node_id"), []):
            out.setdefault(str(i.get("node_id")), []).append(i["batch_code"])
    return out


def _attackers(records, ws: str, holders: set[str]) -> dict[str, str]:
    """``{what: node}``: a canteen, and a node with a testing role (else a retail market) that never held the batch."""
    out = {}
    canteens = records.by_role.get("canteen", [])
    if canteens:
        out["canteen"] = sorted(canteens)[0]
    strangers = [
        n
        for role in ("wholesale", "retail")
        for n in sorted(records.by_role.get(role, []))
        if n != ws and n not in holders
    ]
    if strangers:
        out["node that never held the batch"] = strangers[0]
    return out


@pytest.mark.requirement("PLAT-SEC-07")
@pytest.mark.applies(kinds=PLATFORM, needs=("stop_trade_broadcast",))
def test_a_node_without_the_right_cannot_stop_trade(day_upload, records, uploader, http, platform, profile, evidence):
    """A canteen and a node that never held the batch each upload a failed test of a vegetable batch the
    day's wholesale market issued (signed with their own key, naming themselves as the testing market, with a
    reason text of the attacker's choosing): neither record is accepted, and no node gets a stop-trade
    instruction for any code of that batch (each node's signed fetch and the broadcast listing are read)."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    batch, ws, codes, holders = _holders(day)[-1]
    attackers = _attackers(records, ws, holders)
    assert attackers, "the city has neither a canteen nor a node outside the batch's holders to attack from"
    before = _instructed(http, platform, profile, codes)
    goods = day.ledger.entries[batch]["goods_code"]
    problems, answers = [], {}
    for what, node in attackers.items():
        d = records.fresh_day()
        rec = records.make(
            RTYPE,
            d,
            node=node,
            batch_id=batch,
            goods_code=goods,
            detection_result="0",
            result_expl=REASON,
            detection_date=d.strftime("%Y%m%d"),
        )
        rec.pop("tran_id", None)
        a = uploader.upload(node, RTYPE, [rec], header={"DataDate": d.strftime("%Y%m%d")})
        answers[what] = {
            "node": node,
            "record": rec,
            "status": a.status,
            "code": a.code,
            "verdicts": a.verdicts,
            "reasons": a.reasons,
        }
        if a.verdicts == ["accepted"]:
            problems.append(f"the {what} ({node}) had its failed test of batch {batch} accepted")
    after = _instructed(http, platform, profile, codes)
    new = {n: sorted(set(c) - set(before.get(n, []))) for n, c in after.items() if set(c) - set(before.get(n, []))}
    evidence.attach_json(
        "stop-trade-attack.json",
        {
            "batch": batch,
            "issued_by": ws,
            "holders": sorted(holders),
            "codes": sorted(codes),
            "attempts": answers,
            "instructed_before": before,
            "instructed_after": after,
        },
    )
    if new:
        problems.append(f"stop-trade instructions went out for batch {batch}: {new}")
    assert not problems, "only a node whose role may test, for a batch it held, may stop trade: " + "; ".join(problems)
