"""Coding suite: every code the node target issues or stores obeys the profile (SB/T 10680 as profiled).

Judged on the records the node software under test uploaded during the run's node session and the
harness platform stored (``coded`` fixture), with the profile's code book and identifier rules.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from conformance.notjudgeable import NotJudgeable
from conformance.transmission.nodeviews import LINE_TYPES, OWN

from .codedrecords import BASE_FIELDS, CERT_FIELDS, PLATE_FIELDS, RECEIVE, SELLER, USCC_FIELDS

pytestmark = pytest.mark.applies(kinds=("node",))


def _judge(evidence, bad, n, what, fix):
    evidence.attach_json("findings.json", bad[:200])
    evidence.note(f"检查了 {n} 个值", f"{n} values checked")
    assert n, "the node under test stored no record to judge"
    assert not bad, f"{len(bad)} of {n} {what}; first: {bad[0]}. Fix: {fix}"


def _code_findings(coded, ftype, kind, rules, severity="error"):
    codes = coded.profile.codes
    bad, n = [], 0
    for node, rtype, fname, v in coded.fields_of_type(ftype):
        n += 1
        fs = [f for f in codes.findings(v, kind) if f.severity == severity and f.rule in rules]
        if fs:
            bad.append({"node": node, "record": rtype, "field": fname, "value": v, "rule": fs[0].rule, "en": fs[0].en})
    return bad, n


@pytest.mark.requirement("CODE-NODE-01", "CODE-NODE-02")
def test_node_codes_in_records(coded, evidence):
    """Every node code in the node's records is 9 ASCII digits: a county-level GB/T 2260 code of the region
    table and a 3-digit registration sequence."""
    bad, n = _code_findings(coded, "node_code", "node", {"CODE-NODE-01", "CODE-NODE-02"})
    _judge(evidence, bad, n, "node codes are invalid", "write the 9-digit node code the platform registered")


@pytest.mark.requirement("CODE-NODE-03")
def test_node_registration_sequences_start_at_001(coded, evidence):
    """Recommended (practice shows 000, e.g. Guangzhou's 4401060000014401): no node code in the node's records has
    the registration sequence 000."""
    bad, n = _code_findings(coded, "node_code", "node", {"CODE-NODE-03"}, severity="warning")
    _judge(evidence, bad, n, "node codes have the registration sequence 000", "number node registrations from 001")


@pytest.mark.requirement("CODE-OPER-01")
def test_operator_codes_in_records(coded, evidence):
    """Every operator code in the node's records is 13 ASCII digits: a valid node code and a 4-digit sequence."""
    rules = {"CODE-OPER-01", "CODE-NODE-01", "CODE-NODE-02", "CODE-NODE-03"}
    bad, n = _code_findings(coded, "operator_code", "operator", rules)
    _judge(evidence, bad, n, "operator codes are invalid", "use the 13-digit operator codes of the registry")


@pytest.mark.requirement("CODE-OPER-02")
def test_node_has_exactly_one_own_operator_record(coded, evidence):
    """Each node under test uploaded exactly one operator record with sequence 0000 (the node itself), and no
    individual operator (property 2) uses 0000."""
    per_node = Counter()
    bad = []
    for node, rtype, rec in coded.records:
        if rtype != "manager_base_info":
            continue
        if rec.get("id", "").endswith("0000"):
            per_node[rec["id"][:9]] += 1
            if rec.get("property") == "2":
                bad.append({"node": node, "id": rec["id"], "problem": "0000 used by an individual operator"})
    for node in coded.nodes:
        if per_node[node] != 1:
            bad.append({"node": node, "own_records": per_node[node], "problem": "not exactly one 0000 record"})
    _judge(
        evidence,
        bad,
        len(coded.nodes),
        "nodes break the 0000 rule",
        "upload one manager_base_info with id = node code + 0000 for the node itself",
    )


@pytest.mark.requirement("CODE-TRACE-01", "CODE-TRACE-03")
def test_trace_codes_in_records_are_well_formed(coded, evidence):
    """Every trace code in the node's records (issued or received) is 20 ASCII digits whose 7-digit sequence is
    not all zeros; so is every code the scales issued."""
    bad, n = _code_findings(coded, "trace_code", "trace", {"CODE-TRACE-01", "CODE-TRACE-03"})
    codes = coded.profile.codes
    for c in coded.scale_codes:
        n += 1
        fs = [
            f
            for f in codes.findings(c, "trace")
            if f.severity == "error" and f.rule in ("CODE-TRACE-01", "CODE-TRACE-03")
        ]
        if fs:
            bad.append({"scale_code": c, "rule": fs[0].rule, "en": fs[0].en})
    _judge(evidence, bad, n, "trace codes are malformed", "issue 20-digit codes: operator code + 7-digit sequence")


@pytest.mark.requirement("CODE-TRACE-02")
def test_issued_trace_codes_begin_with_the_seller(coded, evidence):
    """A trace code the node issues (a sale line's own code) begins with the operator code of the seller, an
    operator of this node registered with the platform."""
    bad, n = [], 0
    for node, rtype, rec in coded.records:
        f = OWN.get(rtype)
        if not f or not rec.get(f):
            continue
        n += 1
        code = rec[f]
        issuer = code[:13]
        seller = rec.get(SELLER.get(rtype, ""), issuer)
        if issuer != seller or issuer not in coded.operators or not issuer.startswith(node):
            bad.append(
                {"node": node, "record": rtype, "code": code, "seller": seller, "registered": issuer in coded.operators}
            )
    _judge(
        evidence,
        bad,
        n,
        "issued trace codes do not begin with their seller's registered operator code",
        "form each trace code as the seller's operator code + its own 7-digit sequence",
    )


@pytest.mark.requirement("CODE-TRACE-04")
def test_trace_codes_unique_across_the_day(coded, evidence):
    """Across the simulated day, no trace code identifies two different sale lines, and the scales never issued
    a code twice."""
    lines = defaultdict(set)
    for node, rtype, rec in coded.all_stored:
        if rtype in LINE_TYPES and rec.get(OWN[rtype]):
            lines[rec[OWN[rtype]]].add((node, rtype, tuple(sorted(rec.items()))))
    mine = {c for (node, rtype, rec) in coded.records if rtype in LINE_TYPES for c in [rec.get(OWN[rtype])] if c}
    bad = [{"code": c, "lines": len(lines[c])} for c in sorted(mine) if len(lines[c]) > 1]
    dup_scale = [c for c, k in Counter(coded.scale_codes).items() if k > 1]
    bad += [{"scale_code": c, "problem": "issued twice"} for c in dup_scale]
    _judge(
        evidence,
        bad,
        len(mine) + len(coded.scale_codes),
        "trace codes are not unique",
        "never reuse a trace sequence number (keep the counter durable across power loss)",
    )


@pytest.mark.requirement("CODE-TRACE-05")
def test_line_codes_are_reused_downstream_as_batch(coded, evidence):
    """Each sale line the node issued carries its own trace code, and each lot the node took in names, as its
    batch, either the upstream line's trace code (found among the day's stored sale lines) or a code the node
    issued itself for a lot without an upstream ledger.  A lot's batch_id is read as the upstream trace code only
    where the profile says so (records meta ``batch_link_kinds`` holds ``trace``: a dialect may say otherwise) and
    not when voucher_type says it carries a certificate."""
    cat = coded.profile.records
    upstream = {rec[OWN[t]] for (_, t, rec) in coded.all_stored if t in LINE_TYPES and rec.get(OWN[t])}
    links_trace = "trace" in cat.batch_link_kinds
    if not links_trace:
        evidence.note(
            "本配置不把进货批次号当作上游追溯码：只检查销售明细",
            "the profile does not read batch_id as the upstream trace code: only the sale lines are judged",
        )
    bad, n = [], 0
    for node, rtype, rec in coded.records:
        if rtype in LINE_TYPES:
            n += 1
            if not rec.get(OWN[rtype]):
                bad.append({"node": node, "record": rtype, "problem": "sale line without its own trace code"})
        for f in RECEIVE.get(rtype, ()) if links_trace else ():
            v = rec.get(f)
            if not v or len(v) != 20 or (f == "batch_id" and rec.get("voucher_type") in cat.certificate_vouchers):
                continue
            n += 1
            if not v.startswith(node) and v not in upstream:
                bad.append(
                    {"node": node, "record": rtype, "field": f, "code": v, "problem": "names no upstream sale line"}
                )
            break
    _judge(
        evidence,
        bad,
        n,
        "lots or lines break the chain of codes",
        "record the upstream voucher's trace code as the lot's batch_id",
    )


@pytest.mark.requirement("CODE-COMM-01", "CODE-COMM-02")
def test_commodity_codes(coded, evidence):
    """Every commodity code of every record is 8 digits with a known prefix and, when it is in the profile's table,
    *that record* carries the table's name (a code outside the table is CODE-COMM-03, recommended); its prefix
    (2111 meat, 012 vegetable) agrees with the record (no vegetable test certificate on meat, no meat certificate
    on vegetables).  Every record is judged, not the first one with each code."""
    p = coded.profile
    bad, n = [], 0
    names = {"goods_code": "goods_name", "meat_code": "meat_name"}
    for node, rtype, rec in coded.records:
        for f in p.records.types[rtype].fields:
            v = rec.get(f.wire or f.name)
            if f.type != "commodity_code" or v in (None, ""):
                continue
            n += 1
            fs = [x for x in p.codes.findings(v, "commodity") if x.severity == "error"]
            item = p.commodities.get(v)
            name_field = names.get(f.name)
            if fs:
                bad.append({"node": node, "record": rtype, "code": v, "en": fs[0].en})
            elif item is not None and name_field in rec and rec[name_field] != item.name("zh"):
                bad.append(
                    {"node": node, "record": rtype, "code": v, "name": rec[name_field], "table": item.name("zh")}
                )
            elif v.startswith(p.codes.meat_prefix) and rec.get("quarantine_vege_id"):
                bad.append(
                    {"node": node, "record": rtype, "code": v, "problem": "meat with a vegetable test certificate"}
                )
            elif v.startswith(p.codes.vegetable_prefix) and (
                rec.get("quarantine_animal_products_id") or rec.get("inspection_meat_id")
            ):
                bad.append({"node": node, "record": rtype, "code": v, "problem": "vegetable with a meat certificate"})
    _judge(evidence, bad, n, "commodity codes are wrong", "use codes and names of profiles/reference/commodities.csv")


@pytest.mark.requirement("CODE-COMM-03")
def test_commodity_codes_in_the_profiles_table(coded, evidence):
    """Recommended (practice sends codes outside any one table, e.g. Ningbo's pork 21113011): every commodity
    code of the node's records is an entry of the profile's commodity table."""
    bad, n = _code_findings(coded, "commodity_code", "commodity", {"CODE-COMM-03"}, severity="warning")
    _judge(
        evidence,
        bad,
        n,
        "commodity codes are outside the profile's table",
        "use the codes of profiles/reference/commodities.csv where the goods are in it",
    )


@pytest.mark.requirement("CODE-ORIG-01")
def test_origin_codes(coded, evidence):
    """Every origin code (area_origin_id) is a code of the region table and area_origin_name matches it."""
    regions = coded.profile.regions
    bad, n = [], 0
    for node, rtype, rec in coded.records:
        v = rec.get("area_origin_id")
        if not v:
            continue
        n += 1
        if regions.get(v) is None:
            bad.append({"record": rtype, "code": v, "problem": "not in the region table"})
        elif rec.get("area_origin_name") and rec["area_origin_name"] not in (regions.full_name(v), regions.get(v).name):
            bad.append({"record": rtype, "code": v, "name": rec["area_origin_name"], "table": regions.full_name(v)})
    if n == 0:
        raise NotJudgeable("本次运行没有任何记录带产地编码", "no record of this run carries an origin code")
    _judge(evidence, bad, n, "origin codes are wrong", "write GB/T 2260 codes with their names")


@pytest.mark.requirement(
    "CODE-USCC-01",
    "CODE-USCC-02",
    "CODE-USCC-03",
    "CODE-PLATE-01",
    "CODE-PLATE-02",
    "CODE-CERT-01",
    "CODE-EARTAG-01",
    "CODE-BASE-01",
)
def test_identifiers_in_records(coded, evidence):
    """Unified social credit codes (18-character reg_id), vehicle plates, certificate numbers, ear tags (each
    record's range: both tags valid, one species and county, first <= last) and production base ids in the node's
    records follow GB 32100 / GA 36 / the 畜禽标识 regulation as profiled and the profile's formats."""
    ids = coded.profile.identifiers
    bad, n = [], 0
    for node, rtype, f, v in coded.named_fields(USCC_FIELDS):
        if len(v) == 18:
            n += 1
            fs = [x for x in ids.findings(v, "uscc") if x.severity == "error"]
            if fs:
                bad.append({"record": rtype, "field": f, "value": v, "rule": fs[0].rule})
    for node, rtype, f, v in coded.named_fields(PLATE_FIELDS):
        n += 1
        fs = [x for x in ids.findings(v, "plate") if x.severity == "error"]
        if fs:
            bad.append({"record": rtype, "field": f, "value": v, "rule": fs[0].rule})
    for node, rtype, f, v in coded.named_fields(CERT_FIELDS):
        n += 1
        fs = [x for x in ids.findings(v, "certificate", CERT_FIELDS[f]) if x.severity == "error"]
        if fs:
            bad.append({"record": rtype, "field": f, "value": v, "rule": fs[0].rule})
    for node, rtype, rec in coded.records:
        start, end = rec.get("ear_tag_start"), rec.get("ear_tag_end")
        if start or end:
            n += 1
            fs = [x for x in ids.ear_tag_range_findings(start or "", end or "") if x.severity == "error"]
            if fs:
                bad.append(
                    {
                        "record": rtype,
                        "field": "ear_tag_start..ear_tag_end",
                        "value": f"{start}..{end}",
                        "rule": fs[0].rule,
                        "en": fs[0].en,
                    }
                )
    for node, rtype, f, v in coded.named_fields(BASE_FIELDS):
        n += 1
        fs = [x for x in ids.findings(v, "base_id") if x.severity == "error"]
        if fs:
            bad.append({"record": rtype, "field": f, "value": v, "rule": fs[0].rule})
    _judge(
        evidence,
        bad,
        n,
        "identifiers are malformed",
        "copy licence, plate, certificate, ear tag and base numbers exactly",
    )


@pytest.mark.requirement("NODE-REG-01")
def test_operator_registrations_consistent(coded, evidence):
    """The node's operator registrations (manager_base_info) are consistent: each operator code extends the
    reporting node's code, the node reports under its own code, and operator codes and credit codes are unique."""
    bad, ids, regs, n = [], Counter(), Counter(), 0
    for node, rtype, rec in coded.records:
        if rtype != "manager_base_info":
            continue
        n += 1
        ids[rec["id"]] += 1
        if rec.get("reg_id"):
            regs[rec["reg_id"]] += 1
        if not rec["id"].startswith(rec.get("butcher_fac_id", "")) or rec.get("butcher_fac_id") != node:
            bad.append({"node": node, "id": rec["id"], "reported_by": rec.get("butcher_fac_id")})
    bad += [{"id": k, "problem": f"registered {c} times"} for k, c in ids.items() if c > 1]
    bad += [{"reg_id": k, "problem": f"used by {c} operators"} for k, c in regs.items() if c > 1]
    _judge(evidence, bad, n, "registrations are inconsistent", "register each operator once, under its own node")


@pytest.mark.requirement("CODE-BATCH-01")
def test_sixteen_digit_batch_codes(coded, evidence):
    """Every batch field (batch_id, meat_batch_id, vege_batch_id…) holding 16 digits is a valid batch code: the
    node code of the node that first booked the lot, then a 7-digit sequence that is not all zeros (Guangzhou's
    批次码).  Other batch ids are judged by CODE-TRACE-05 and CODE-BATCH-02."""
    p = coded.profile
    bad, n = [], 0
    for node, rtype, rec in coded.records:
        rt = p.records.types[rtype]
        for f in rt.fields + rt.extra:
            v = rec.get(f.wire or f.name)
            if f.type != "batch" or not isinstance(v, str) or len(v) != p.codes.len["batch"] or not v.isdigit():
                continue
            n += 1
            fs = [x for x in p.codes.findings(v, "batch") if x.severity == "error"]
            if fs:
                bad.append(
                    {"node": node, "record": rtype, "field": f.name, "value": v, "rule": fs[0].rule, "en": fs[0].en}
                )
    evidence.attach_json("findings.json", bad[:200])
    evidence.note(f"检查了 {n} 个16位批次码", f"{n} 16-digit batch codes checked")
    assert not bad, (
        f"{len(bad)} of {n} 16-digit batch codes are invalid; first: {bad[0]}. Fix: write the node code "
        "of the node that first booked the lot and a 7-digit sequence from 0000001"
    )
