"""The node as the target: completeness of what it uploads, per node type (NODE-REC-*), and its intake rules.

Each node type the capability statement declares (``node_<role> = true``) runs as its own node process
with a node of that type from the seeded ``tiny`` city; the harness registers that node's records of the
simulated day through its handheld intake and sells on its scales, then compares with what reached the
platform, record by record.
"""

from __future__ import annotations

import json

import pytest

from .nodeviews import first_sent, load, parties

ROLES = {
    "slaughterhouse": (
        "NODE-REC-01",
        "node_slaughterhouse",
        ("animal_in_info", "quarantine_info", "meat_out_info_base", "meat_out_info_detail"),
    ),
    "wholesale": (
        "NODE-REC-02",
        "node_wholesale",
        ("market_in_info_base", "market_in_info_detail", "qmarket_detection_info", "market_tran_info_detail"),
    ),
    "retail": (
        "NODE-REC-03",
        "node_retail",
        ("retail_market_in_info_base", "retail_market_in_info_detail", "retail_market_tran_info_summ"),
    ),
    "supermarket": ("NODE-REC-04", "node_supermarket", ("super_market_in_info_base", "super_market_in_info_detail")),
    "canteen": ("NODE-REC-05", "node_canteen", ("team_buy_acceptance_info",)),
}
#: sale record type and the field carrying the sale's trace code, per role with scales
SALE_RECORD = {
    "retail": ("retail_market_tran_info_summ", "sale_tran_id"),
    "wholesale": ("market_tran_info_detail", "tran_id"),
}


def _node_of(session, role):
    n = next((n for n in session.nodes.values() if n.role == role), None)
    if n is None:
        pytest.fail(f"no node of type {role} could be run (the city has none)", pytrace=False)
    return n


def _params():
    out = []
    for role, (rid, cap, _) in ROLES.items():
        reqs = (rid, "NODE-CANT-01") if role == "canteen" else (rid,)
        out.append(
            pytest.param(
                role,
                id=role,
                marks=[pytest.mark.requirement(*reqs), pytest.mark.applies(kinds=("node",), needs=(cap,))],
            )
        )
    return out


@pytest.mark.parametrize("role", _params())
def test_node_uploads_every_record_of_its_type(node_session, role, evidence):
    """Every record the node took in (handheld registrations answered accepted) reaches the platform unchanged,
    and every scale sale reaches it as the profile's sale record carrying the sale's trace code, weight, price
    and batch; the record types the node type must upload are all present."""
    s = node_session
    n = _node_of(s, role)
    _, _, types = ROLES[role]
    missing_recs, missing_sales = s.missing(n)
    stored = s.stored(n.code)
    got_types = {t for (_, t, _, _) in stored}
    wrong = []
    if role in SALE_RECORD:
        rtype, field = SALE_RECORD[role]
        by_code = {load(b).get(field): load(b) for (_, t, _, b) in stored if t == rtype}
        for bench in n.scales:
            for _, sale, _ in bench.sales:
                rec = by_code.get(sale.trace_code)
                if rec is None:
                    continue
                w = f"{sale.weight_g // 1000}.{sale.weight_g % 1000:03d}"
                p = f"{sale.unit_price_fen // 100}.{sale.unit_price_fen % 100:02d}"
                if rec.get("weight") != w or rec.get("price") != p or rec.get("batch_id") != sale.batch_trace:
                    wrong.append(
                        {
                            "trace_code": sale.trace_code,
                            "sold": {"weight": w, "price": p, "batch": sale.batch_trace},
                            "uploaded": rec,
                        }
                    )
    given = {t for (_, t, _, v) in n.handheld if v == "accepted"}
    need = [t for t in types if t in given or (n.scales and t == SALE_RECORD.get(role, ("",))[0])]
    absent = [t for t in need if t not in got_types]
    accepted = sum(1 for h in n.handheld if h[3] == "accepted")
    sales = sum(len(b.sales) for b in n.scales)
    evidence.attach_json(
        "completeness.json",
        {
            "node": n.code,
            "node_type": n.node_type,
            "handheld_accepted": accepted,
            "sales": sales,
            "stored": len(stored),
            "missing_records": [r[:300] for r in sorted(missing_recs)][:50],
            "missing_sales": sorted(missing_sales)[:50],
            "wrong_sales": wrong[:20],
            "absent_types": absent,
        },
    )
    evidence.note(
        f"节点 {n.code}：手持登记 {accepted} 条，秤销售 {sales} 笔，平台存储 {len(stored)} 条",
        f"node {n.code}: {accepted} handheld records, {sales} scale sales, {len(stored)} stored",
    )
    assert accepted or sales, "the harness registered nothing at this node (its intake refused everything?)"
    assert not missing_recs, (
        f"{len(missing_recs)} of {accepted} records the node accepted never reached the platform "
        f"(first: {sorted(missing_recs)[0][:150]}). Fix: upload every record it accepts"
    )
    assert not missing_sales, (
        f"{len(missing_sales)} of {sales} scale sales never reached the platform "
        f"(first trace code {sorted(missing_sales)[0]})"
    )
    assert not wrong, f"{len(wrong)} sale records differ from the sale on the scale: {wrong[0]}"
    assert not absent, f"record types the {role} node must upload are missing: {absent}"


@pytest.mark.requirement("NODE-REC-06")
@pytest.mark.applies(kinds=("node",))
def test_operator_base_information_first(node_session, evidence):
    """Each node uploads the base information (manager_base_info) of its own 0000 record and of each of its
    operators before (or with) the first business record in which that operator is a party."""
    s = node_session
    if not s.uploads():
        raise TimeoutError("the node uploaded no envelope")
    problems = []
    for n in s.nodes.values():
        sent = first_sent(s, n.code)
        info_at = {}
        first_party = {}
        for up in s.uploads(n.code):
            for rec in up.records:
                d = load(rec)
                if up.rtype == "manager_base_info":
                    info_at.setdefault(d.get("id"), sent[rec])
                else:
                    for op in parties(d, n.code):
                        first_party.setdefault(op, sent[rec])
        own = n.code + "0000"
        if own not in info_at:
            problems.append({"node": n.code, "operator": own, "problem": "own 0000 record never uploaded"})
        for op, t in sorted(first_party.items()):
            if op not in info_at:
                problems.append({"node": n.code, "operator": op, "problem": "no manager_base_info uploaded"})
            elif info_at[op] > t:
                problems.append(
                    {
                        "node": n.code,
                        "operator": op,
                        "problem": "manager_base_info after business",
                        "info_sent": info_at[op],
                        "first_business": t,
                    }
                )
    evidence.attach_json("operators.json", problems[:100])
    assert not problems, (
        f"{len(problems)} operator problems; first: node {problems[0]['node']} operator "
        f"{problems[0]['operator']}: {problems[0]['problem']}. Fix: upload manager_base_info "
        "for the node (…0000) and every operator before their business records"
    )


@pytest.mark.requirement("NODE-WHOL-04")
@pytest.mark.applies(kinds=("node",), needs=("node_wholesale", "handheld_intake"))
def test_wholesale_test_results_registered(node_session, evidence):
    """Every test result (qmarket_detection_info) registered at the wholesale market reaches the platform with its
    batch, sample id, tester, date and result unchanged."""
    s = node_session
    n = _node_of(s, "wholesale")
    given = [rec for (_, t, rec, v) in n.handheld if t == "qmarket_detection_info" and v == "accepted"]
    bodies = {b for (_, t, _, b) in s.stored(n.code) if t == "qmarket_detection_info"}
    lost = [r for r in given if r not in bodies]
    evidence.attach_json("detections.json", {"registered": len(given), "lost": [json.loads(r) for r in lost][:20]})
    assert given, "the wholesale node accepted no test result from the handheld"
    assert not lost, f"{len(lost)} of {len(given)} test results registered at the node never reached the platform"


@pytest.mark.requirement("NODE-SLAU-01")
@pytest.mark.applies(kinds=("node",), needs=("node_slaughterhouse", "handheld_intake"))
def test_slaughterhouse_refuses_intake_without_certificate(node_session, evidence):
    """A live-animal intake registered without its origin quarantine certificate number is refused by the
    slaughterhouse node and never reaches the platform."""
    s = node_session
    n = _node_of(s, "slaughterhouse")
    assert n.refused_intake is not None, "the harness could not register the uncertified intake (no animal_in_info)"
    rec = n.refused_intake["record"]
    stored = [load(b) for (_, t, _, b) in s.stored(n.code) if t == "animal_in_info"]
    leaked = [d for d in stored if d.get("seller_name") == rec["seller_name"]]
    evidence.attach_json(
        "intake.json", {"record": rec, "node_verdict": n.refused_intake["verdict"], "reached_platform": bool(leaked)}
    )
    assert n.refused_intake["verdict"] == "rejected", (
        f"the node answered {n.refused_intake['verdict']!r} to an intake without quarantine certificate"
    )
    assert not leaked, "the uncertified intake reached the platform"


@pytest.mark.requirement("NODE-CHAIN-01")
@pytest.mark.applies(kinds=("node",), needs=("node_scales", "handheld_intake"))
def test_uploaded_records_compose_complete_chains(node_session, evidence):
    """The records the nodes uploaded compose complete chains: the trace query of the harness platform (the
    reference platform) answers every trace code sold on the node's scales with a complete chain back to the
    slaughterhouse intake or the vegetable origin."""
    import httpx

    s = node_session
    s.require("sales")
    codes = sorted({sale.trace_code for b in s._scales() for (_, sale, ph) in b.sales if ph == "sales"})
    broken = []
    with httpx.Client(timeout=10, trust_env=False, event_hooks=evidence.httpx_hooks()) as c:
        for code in codes:
            ans = c.get(f"{s.platform.url}/api/v1/trace/{code}").json()
            if ans.get("status") != "found" or not ans.get("complete"):
                broken.append(
                    {
                        "code": code,
                        "status": ans.get("status"),
                        "complete": ans.get("complete"),
                        "missing": ans.get("missing"),
                    }
                )
    evidence.attach_json("chains.json", {"codes": len(codes), "broken": broken[:50]})
    assert codes, "no sale was made on the node's scales"
    assert not broken, (
        f"{len(broken)} of {len(codes)} sold codes do not resolve to a complete chain (first: "
        f"{broken[0]}). Fix: upload every entry and sale record with the upstream code as batch_id"
    )


@pytest.mark.requirement("NODE-WHOL-03")
@pytest.mark.applies(kinds=("node",), needs=("node_wholesale", "handheld_intake"))
def test_wholesale_batch_is_wholesaler_plus_certificate(node_session, evidence):
    """Without an upstream ledger (an entry with no tran_id) one batch is the same wholesaler with the same
    certificate: every such entry the node accepted carries a certificate and the accepted entries map
    wholesaler + certificate to one batch and back; an entry without any certificate and an entry whose
    wholesaler + certificate already name another batch are both refused (not admitted)."""
    s = node_session
    n = _node_of(s, "wholesale")
    certs = ("quarantine_animal_products_id", "prov_id", "quarantine_vege_id")
    by_pair, by_batch, bad = {}, {}, []
    free = [
        json.loads(r)
        for (_, t, r, v) in n.handheld
        if t == "market_in_info_base" and v == "accepted" and not json.loads(r).get("tran_id")
    ]
    for rec in free:
        cert = next((rec[k] for k in certs if rec.get(k)), None)
        if cert is None:
            bad.append({"problem": "accepted without a certificate", "batch": rec.get("batch_id")})
            continue
        pair = (rec.get("wholesaler_id"), cert)
        if (
            by_pair.setdefault(pair, rec["batch_id"]) != rec["batch_id"]
            or by_batch.setdefault(rec["batch_id"], pair) != pair
        ):
            bad.append(
                {"problem": "wholesaler + certificate and batch not one-to-one", "batch": rec["batch_id"], "pair": pair}
            )
    for p in n.ledger_probes:
        if p["verdict"] != "rejected":
            bad.append(
                {
                    "problem": f"entry with {p['case']} answered {p['verdict'] or 'nothing'}, not rejected",
                    "batch": p["record"].get("batch_id"),
                    "ledger_batch": p["ledger_batch"],
                }
            )
    evidence.attach_json(
        "ledger.json", {"entries_without_voucher": len(free), "probes": n.ledger_probes, "problems": bad[:50]}
    )
    if not free or len(n.ledger_probes) < 2:
        pytest.fail(
            "the scenario registered no wholesale entry without an upstream voucher (harness problem)", pytrace=False
        )
    assert not bad, (
        f"{len(bad)} ledger problems; first: {bad[0]['problem']} (batch {bad[0]['batch']}). Fix: "
        "without an upstream voucher, key the batch by wholesaler + certificate and refuse entries "
        "without a certificate or contradicting the ledger"
    )


@pytest.mark.requirement("NODE-WHOL-01")
@pytest.mark.applies(kinds=("node",), needs=("node_wholesale", "handheld_intake"))
def test_operator_of_another_node_not_registered_again(node_session, evidence):
    """An operator already registered at another node (configured at the wholesale node with that node's operator
    code) trades here under its own code: the node registers it nowhere again (no manager_base_info for that code,
    none with its name and licence or telephone under another code), and its entry reaches the platform naming
    its original code.  (The node's own operators registering before trading is NODE-REC-06.)"""
    s = node_session
    n = _node_of(s, "wholesale")
    g = n.guest
    if g is None or n.guest_entry is None:
        pytest.fail(
            "the scenario found no operator of another node to trade at the wholesale node (harness problem)",
            pytrace=False,
        )
    infos = [load(rec) for up in s.uploads(n.code) if up.rtype == "manager_base_info" for rec in up.records]
    ident = [v for v in (g.uscc, g.phone) if v]
    again = [
        r
        for r in infos
        if r.get("id") == g.code
        or (r.get("name") == g.name and (not ident or any(r.get(k) in ident for k in ("reg_id", "tel"))))
    ]
    verdict = next((v for (_, t, rec, v) in n.handheld if rec == n.guest_entry), "")
    stored = {b for (_, t, _, b) in s.stored(n.code) if t == "market_in_info_base"}
    evidence.attach_json(
        "guest_operator.json",
        {
            "operator": g.code,
            "home_node": g.node_code,
            "name": g.name,
            "registered_again": again,
            "entry_verdict": verdict,
            "entry_at_platform": n.guest_entry in stored,
        },
    )
    assert not again, (
        f"operator {g.code} (registered at node {g.node_code}) was registered again by node {n.code}: "
        f"manager_base_info id {again[0].get('id')}. Fix: keep the operator's code; upload its base "
        "information only at its own node"
    )
    assert verdict == "accepted", f"the node answered {verdict or 'nothing'} to the guest operator's entry"
    assert n.guest_entry in stored, "the guest operator's entry (under its own code) never reached the platform"
