"""Security: authentication, registration, ownership of records, hostile XML."""

from __future__ import annotations

import re
import time

import pytest

from conformance.queries import day_rows, nodes
from conformance.uploads import envelope

PLATFORM = ("city_platform",)
#: what an error answer must never show (stack traces, SQL, source paths)
LEAKS = re.compile(r"Traceback|File \"|\.py\b|sqlite|psycopg|OperationalError|SELECT |INSERT |/home/|/srv/|/usr/")


def _leaks(body: bytes) -> list[str]:
    return LEAKS.findall(body.decode("utf-8", "replace"))


@pytest.mark.requirement("PLAT-SEC-01")
@pytest.mark.applies(kinds=PLATFORM)
def test_uploads_without_the_right_verifycode_are_refused(message_authentication, profile, records, uploader, evidence):
    """An envelope signed with a wrong key, or without a VerifyCode, is refused whole; the refusal does not
    reveal the right VerifyCode or the key; the records were not stored (the right upload is then accepted)."""
    message_authentication()
    d = records.fresh_day()
    rtype = "market_tran_info_base"
    node = records.node_for(rtype)
    recs = [records.make(rtype, d), records.make(rtype, d)]
    date = d.strftime("%Y%m%d")
    wrong = uploader.upload(node, rtype, recs, key="f" * 32, header={"DataDate": date})
    bare = uploader.post(envelope(profile, node, "", rtype, recs, header={"DataDate": date}, sign=False))
    problems = []
    for what, a in (("wrong key", wrong), ("no VerifyCode", bare)):
        if a.status < 400 or a.code in (None, "0000") or a.verdicts:
            problems.append(f"{what}: {a}")
    right = uploader.upload(node, rtype, recs, header={"DataDate": date})
    secret = uploader.keys[node].encode()
    if secret in wrong.body or secret in bare.body:
        problems.append("a refusal contains the node's key")
    head = envelope(profile, node, uploader.keys[node], rtype, recs, header={"DataDate": date})
    vc = re.search(rb"<VerifyCode>([0-9a-f]{32})</VerifyCode>", head).group(1)
    if vc in wrong.body:
        problems.append("the refusal reveals the correct VerifyCode")
    assert not problems, "unauthenticated uploads must be refused whole: " + "; ".join(problems)
    assert right.verdicts == ["accepted", "accepted"], (
        f"the same records, correctly signed, must be accepted as new (nothing of the refused upload stored): {right}"
    )


@pytest.mark.requirement("PLAT-REG-01", "TRAN-ENV-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_unregistered_nodes_are_refused_and_the_registry_is_kept(
    profile, city, records, uploader, http, platform, capabilities, evidence
):
    """A valid node code that is not registered is refused whole (reason 1111, unknown node), whatever key
    it signs with; the registry lists every registered node of the city, each with a key issued."""
    d = records.fresh_day()
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    used = {n.code for n in city.nodes}
    stranger = next(c for c in (profile.codes.node_code(node[:6], s) for s in range(99, 1, -1)) if c not in used)
    rec = records.make(rtype, d)
    a = uploader.upload(stranger, rtype, [rec], key=uploader.keys[node], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.status in (401, 403) and a.code == "1111" and not a.verdicts, (
        f"an envelope from the unregistered node {stranger} must be refused whole with 1111 (HTTP 401/403): {a}"
    )
    if capabilities.capabilities.get("node_monitoring"):
        status, doc = nodes(http, platform.url)
        listed = {n["node_id"]: n for n in doc.get("nodes", [])} if status == 200 else {}
        missing = sorted(used - set(listed))
        keyless = sorted(n for n in used & set(listed) if not listed[n].get("key_issued"))
        assert not missing and not keyless, f"registry: nodes missing {missing}, without a key {keyless}"


def _unregistered_operator(profile, city, node: str) -> str:
    used = {o.code for o in city.operators}
    return next(c for c in (profile.codes.operator_code(node, s) for s in range(9999, 1, -1)) if c not in used)


@pytest.mark.requirement("PLAT-REG-01", "PLAT-SEC-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_records_naming_unregistered_operators_are_rejected(
    profile, city, records, uploader, http, platform, capabilities, evidence
):
    """In one envelope of a wholesale market: a sale by a registered wholesaler to a registered retailer is
    accepted; a sale whose seller (wholesaler_id, an operator code under the uploading market) is not
    registered, and one whose buyer (retailer_id, under another registered node of the city) is not
    registered, are rejected with reason 2010 (operator not registered); nothing of them is stored."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    rtype = "market_tran_info_base"
    node = records.node_for(rtype)
    other = records.node_for("retail_market_in_info_base")
    buyer = sorted(records.ops[other])[0]
    recs = [
        records.make(rtype, d, retailer_id=buyer),
        records.make(rtype, d, wholesaler_id=_unregistered_operator(profile, city, node), retailer_id=buyer),
        records.make(rtype, d, retailer_id=_unregistered_operator(profile, city, other)),
    ]
    evidence.attach_json(
        "operators.json",
        {
            "uploading_node": node,
            "buyer_node": other,
            "records": [{k: r[k] for k in ("wholesaler_id", "retailer_id")} for r in recs],
        },
    )
    a = uploader.upload(node, rtype, recs, header={"DataDate": date})
    assert a.verdicts == ["accepted", "rejected", "rejected"] and a.reasons[1:] == ["2010", "2010"], (
        f"records naming an operator the platform has not registered (seller under the node, buyer under another "
        f"registered node) must be rejected with 2010, the registered one accepted: {a}"
    )
    if capabilities.capabilities.get("statistics"):
        stored = sum(v[0] for k, v in day_rows(http, platform.url, date).items() if k[1] == rtype)
        assert stored == 1, f"{stored} records stored for {date}; only the one naming registered operators (1) may be"


@pytest.mark.requirement("PLAT-SEC-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_a_node_cannot_upload_another_nodes_records(records, uploader, http, platform, capabilities, evidence):
    """Node A uploads a record naming node B as its market, and a sale whose trace code B issued: both are
    rejected (reason 2008), A's own record in the same envelope is accepted, and nothing of B's is stored."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    rtype = "retail_market_tran_info_summ"
    a_node = records.node_for(rtype)
    b_node = records.node_for("super_market_in_info_base")
    own = records.make(rtype, d)
    posing = records.make(rtype, d, retail_market_id=b_node)
    foreign_code = records.make(rtype, d, sale_tran_id=records.trace_code(b_node))
    a = uploader.upload(a_node, rtype, [own, posing, foreign_code], header={"DataDate": date})
    assert a.verdicts == ["accepted", "rejected", "rejected"] and a.reasons[1:] == ["2008", "2008"], (
        f"records of another node must be rejected with 2008 (not your record), the node's own accepted: {a}"
    )
    if capabilities.capabilities.get("statistics"):
        stored = sum(v[0] for k, v in day_rows(http, platform.url, date).items() if k[1] == rtype)
        assert stored == 1, f"{stored} records stored for {date}; only the node's own (1) may be"


def _hostile(profile, node, key, rec) -> dict[str, bytes]:
    good = envelope(profile, node, key, "retail_market_in_info_base", [rec]).decode()
    body = good.split("?>", 1)[1]
    decl = '<?xml version="1.0" encoding="UTF-8"?>'
    lol = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    return {
        "billion laughs": f'{decl}<!DOCTYPE DataExchangeReq [<!ENTITY l0 "lol">{lol}]>'
        + body.replace("<Count>", "<Count>&l9;", 1),
        "external entity (XXE)": f'{decl}<!DOCTYPE DataExchangeReq [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + body.replace("<Count>", "<Count>&x;", 1),
        "external DTD": f'{decl}<!DOCTYPE DataExchangeReq SYSTEM "http://127.0.0.1:9/evil.dtd">' + body,
        "parameter entity": f'{decl}<!DOCTYPE DataExchangeReq [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]>'
        + body,
        "plain DOCTYPE": f"{decl}<!DOCTYPE DataExchangeReq>" + body,
    }


@pytest.mark.requirement("PLAT-SEC-03", "TRAN-ENC-02")
@pytest.mark.applies(kinds=PLATFORM)
def test_hostile_xml_is_refused_quickly_without_leaking_internals(profile, records, uploader, http, platform, evidence):
    """DOCTYPEs, entity bombs and external references are refused whole (reason 1002) within 2 s each, the
    platform keeps serving, no file content comes back, and no answer shows stack traces, SQL or paths."""
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    rec = records.make(rtype, records.fresh_day())
    problems = []
    for what, body in _hostile(profile, node, uploader.keys[node], rec).items():
        t0 = time.monotonic()
        a = uploader.post(body.encode())
        secs = time.monotonic() - t0
        if a.status != 400 or a.code != "1002":
            problems.append(f"{what}: expected HTTP 400 with 1002, got {a}")
        if secs > 2:
            problems.append(f"{what}: took {secs:.1f} s")
        if b"root:" in a.body or _leaks(a.body):
            problems.append(f"{what}: the answer leaks {_leaks(a.body) or 'file content'}")
    for junk in (b"<DataExchangeReq><NodeId>", b'{"DataExchangeReq": [', b"\xff\xfe\x00<"):
        a = uploader.post(junk)
        if a.status >= 500 or _leaks(a.body):
            problems.append(f"malformed body {junk!r}: HTTP {a.status}, leaks {_leaks(a.body)}")
    r = http.get(platform.url + "/healthz")
    if r.status_code != 200:
        problems.append(f"after the hostile inputs /healthz answers {r.status_code}")
    ok = uploader.upload(node, rtype, [rec])
    if ok.verdicts != ["accepted"]:
        problems.append(f"after the hostile inputs a good upload is not accepted: {ok}")
    assert not problems, "hostile XML must be refused, quickly, without leaking anything: " + "; ".join(problems)
