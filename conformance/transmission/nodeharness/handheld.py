"""Phase ``handheld``, the intake side: each node's records of the simulated day registered through its
handheld intake (the profile's envelopes, signed with the node's key; retail sales excluded, they come from
the scales), with every answer's verdict kept in ``n.handheld``; at a wholesaler the NODE-WHOL-03 ledger
probes and the NODE-WHOL-01 guest's entry; at a slaughterhouse one intake without its quarantine
certificate (must be refused).  An intake that cannot be reached is recorded as the ``handheld`` time-out."""

from __future__ import annotations

import time

import httpx

from ..recorder import canon_stored
from .settings import UPLOAD_PATH
from .state import SessionState
from .under_test import NodeUnderTest


def run(sess: SessionState) -> None:
    if not sess.with_handheld:
        return
    skip = {"retail_market_tran_info_summ"}  # retail sales come from the scales
    with httpx.Client(timeout=10, trust_env=False) as c:
        for n in sess.nodes.values():
            groups: dict[str, list] = {}
            for r in sess.day_records:
                if r["node"] == n.code and r["type"] not in skip:
                    groups.setdefault(r["type"], []).append(r["data"])
            for rtype, recs in groups.items():
                post_handheld(sess, c, n, rtype, recs)
            if n.role == "wholesale":
                ledger_probes(sess, c, n)
                guest_entry(sess, c, n)
            if n.role == "slaughterhouse":
                tmpl = next(
                    (r["data"] for r in sess.day_records if r["node"] == n.code and r["type"] == "animal_in_info"),
                    None,
                )
                if tmpl:
                    bad = {k: v for k, v in tmpl.items() if k != "quarantine_id"}
                    bad["seller_name"] = (bad.get("seller_name") or "") + "（无证）"
                    before = len(n.handheld)
                    post_handheld(sess, c, n, "animal_in_info", [bad])
                    if len(n.handheld) > before:
                        n.refused_intake = {"record": bad, "verdict": n.handheld.pop()[3]}


def post_handheld(sess: SessionState, client, n: NodeUnderTest, rtype: str, recs: list[dict]) -> None:
    for i in range(0, len(recs), 300):
        part = recs[i : i + 300]
        body = sess.spec.build(n.code, rtype, part, n.key)
        try:
            r = client.post(n.url + UPLOAD_PATH, content=body, headers={"Content-Type": "application/xml"})
        except httpx.HTTPError as exc:
            sess.timeouts.setdefault("handheld", f"node {n.code} handheld intake: {type(exc).__name__}")
            return
        resp, _ = sess.spec.parse_response(r.content)
        t = time.time()
        verdicts = {v.seq: v.verdict for v in resp.results} if resp is not None else {}
        for j, rec in enumerate(part, 1):
            n.handheld.append((t, rtype, canon_stored(sess.spec, rtype, rec), verdicts.get(j, "")))


def ledger_probes(sess: SessionState, client, n: NodeUnderTest) -> None:
    """NODE-WHOL-03: two entries without an upstream voucher (no tran_id) the node must refuse: one without
    any certificate, one whose wholesaler + certificate already name another batch."""
    tmpl = _own_entry(sess, n)
    if tmpl is None:
        return
    codes = sess.profile.codes
    other = codes.trace_code(tmpl["wholesaler_id"], 7_000_001)
    probes = [
        (
            "no certificate",
            {
                k: v
                for k, v in tmpl.items()
                if k not in ("prov_id", "quarantine_animal_products_id", "quarantine_vege_id", "inspection_meat_id")
            }
            | {"batch_id": codes.trace_code(tmpl["wholesaler_id"], 7_000_002)},
        ),
        ("certificate of another batch", {**tmpl, "batch_id": other}),
    ]
    for what, rec in probes:
        before = len(n.handheld)
        post_handheld(sess, client, n, "market_in_info_base", [rec])
        verdict = n.handheld.pop()[3] if len(n.handheld) > before else ""
        n.ledger_probes.append({"case": what, "record": rec, "verdict": verdict, "ledger_batch": tmpl["batch_id"]})


def guest_entry(sess: SessionState, client, n: NodeUnderTest) -> None:
    """NODE-WHOL-01: the guest operator (registered at its own node) enters a lot here under its own code."""
    tmpl = _own_entry(sess, n)
    if n.guest is None or tmpl is None:
        return
    codes = sess.profile.codes  # the lot's batch code is the market's own (no upstream voucher)
    rec = {
        **tmpl,
        "wholesaler_id": n.guest.code,
        "wholesaler_name": n.guest.name,
        "batch_id": codes.trace_code(codes.operator_code(n.code, 0), 6_000_001),
    }
    post_handheld(sess, client, n, "market_in_info_base", [rec])
    n.guest_entry = canon_stored(sess.spec, "market_in_info_base", rec)


def _own_entry(sess: SessionState, n: NodeUnderTest) -> dict | None:
    """The first of the day's entries at wholesaler ``n`` without an upstream voucher (no ``tran_id``) and
    with a certificate (``prov_id``), or ``None``: the template of the probes and of the guest's entry."""
    return next(
        (
            r["data"]
            for r in sess.day_records
            if r["node"] == n.code
            and r["type"] == "market_in_info_base"
            and not r["data"].get("tran_id")
            and r["data"].get("prov_id")
        ),
        None,
    )
