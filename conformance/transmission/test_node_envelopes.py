"""The node as the target: every envelope it uploaded, read with the profile as a platform would.

Judged on the wire trace the harness platform captured (``uploads.jsonl`` in the evidence): the
envelope header (TRAN-ENV-01..08), the encoding (TRAN-ENC-*), and the records inside (TRAN-REC-*).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.applies(kinds=("node",))


def _uploads(node_session, evidence):
    ups = node_session.uploads()
    node_session.write_trace(evidence._path("uploads.jsonl"))
    if not ups:
        raise TimeoutError(
            "the node under test uploaded no envelope at all during the session "
            f"(phases {sorted(node_session.phases)}); check its platform URL and key"
        )
    return ups


def _offending(ups, rules: set[str], record_level: bool = False) -> list[dict]:
    out = []
    for up in ups:
        fs = [f for f in up.findings if f.rule in rules and f.severity == "error"]
        if record_level:
            fs += [f for rf in up.record_findings for f in rf if f.rule in rules and f.severity == "error"]
        if fs:
            out.append(
                {
                    "t": up.ex.t,
                    "node": up.node,
                    "index": up.header.get("Index"),
                    "count": up.count,
                    "findings": [{"rule": f.rule, "field": f.field, "en": f.en, "zh": f.zh} for f in fs[:5]],
                }
            )
    return out


def _judge(evidence, bad, ups, what_zh, what_en, fix):
    evidence.attach_json("findings.json", bad)
    evidence.note(f"检查了 {len(ups)} 个报文", f"{len(ups)} envelopes checked")
    assert not bad, (
        f"{len(bad)} of {len(ups)} envelopes: {what_en}; first: {bad[0]['findings'][0]['en']} "
        f"(rule {bad[0]['findings'][0]['rule']}, envelope Index {bad[0]['index']}). Fix: {fix}"
    )


@pytest.mark.requirement(
    "TRAN-ENV-01", "TRAN-ENV-02", "TRAN-ENV-03", "TRAN-ENV-06", "TRAN-ENC-01", "TRAN-ENC-02", "TRAN-ENC-03"
)
def test_node_envelopes_are_well_formed(node_session, evidence):
    """Every envelope the node sent is a well-formed DataExchangeReq (declared encoding = bytes, no DTD, within the
    size and depth limits) with every header element, a valid NodeId, a yyyyMMddHHmmssSSS RequestTime, and an
    Index that is known and matches the records."""
    ups = _uploads(node_session, evidence)
    rules = {"TRAN-ENV-01", "TRAN-ENV-02", "TRAN-ENV-03", "TRAN-ENV-06", "TRAN-ENC-01", "TRAN-ENC-02", "TRAN-ENC-03"}
    _judge(
        evidence,
        _offending(ups, rules),
        ups,
        "",
        "malformed envelope",
        "build the envelope exactly as profiles/reference/envelope.toml describes",
    )


@pytest.mark.requirement("TRAN-ENV-04")
def test_node_request_time_within_the_clock_window(node_session, evidence):
    """RequestTime of every envelope is within the profile's clock window of the time it arrived."""
    ups = _uploads(node_session, evidence)
    _judge(
        evidence,
        _offending(ups, {"TRAN-ENV-04"}),
        ups,
        "",
        "RequestTime outside the clock window",
        "take RequestTime from a synchronised clock (Beijing time) at the moment of sending",
    )


@pytest.mark.requirement("TRAN-ENV-05")
def test_node_verifycode_matches_its_key(node_session, evidence):
    """The VerifyCode of every envelope is the profile's keyed digest computed with the node's own key."""
    ups = _uploads(node_session, evidence)
    _judge(
        evidence,
        _offending(ups, {"TRAN-ENV-05"}),
        ups,
        "",
        "VerifyCode does not match the node's key",
        "compute VerifyCode with the key the platform issued to this node, over the values exactly as sent",
    )


@pytest.mark.requirement("TRAN-ENV-07")
def test_node_count_matches_records_and_limit(node_session, evidence):
    """Count equals the number of records in every envelope and never exceeds the profile's maximum."""
    ups = _uploads(node_session, evidence)
    evidence.attach_json(
        "counts.json",
        [{"t": u.ex.t, "node": u.node, "count_header": u.header.get("Count"), "records": u.count} for u in ups],
    )
    _judge(
        evidence,
        _offending(ups, {"TRAN-ENV-07"}),
        ups,
        "",
        "Count wrong or over the limit",
        f"split uploads into envelopes of at most {node_session.spec.max_count} records and state Count exactly",
    )


@pytest.mark.requirement("TRAN-ENV-08")
def test_node_datadate_matches_records(node_session, evidence):
    """DataDate is a valid yyyyMMdd, not after the RequestTime's date, and equal to every record's business date."""
    ups = _uploads(node_session, evidence)
    _judge(
        evidence,
        _offending(ups, {"TRAN-ENV-08"}, record_level=True),
        ups,
        "",
        "DataDate inconsistent with the records",
        "put one business date per envelope and write it as DataDate",
    )


@pytest.mark.requirement(
    "TRAN-REC-01", "TRAN-REC-02", "TRAN-REC-03", "TRAN-REC-04", "TRAN-REC-05", "TRAN-REC-06", "TRAN-REC-07"
)
def test_node_records_are_valid(node_session, evidence):
    """Every record inside the node's envelopes passes the profile's record checks: known type and elements,
    required fields, formats and lengths, units and decimals, the meat certificate rule, codes, calendar dates."""
    ups = _uploads(node_session, evidence)
    rules = {f"TRAN-REC-0{i}" for i in range(1, 8)}
    bad = []
    for up in ups:
        for pos, rf in enumerate(up.record_findings, 1):
            fs = [f for f in rf if f.rule in rules and f.severity == "error"]
            if fs:
                bad.append(
                    {
                        "node": up.node,
                        "index": up.header.get("Index"),
                        "position": pos,
                        "findings": [{"rule": f.rule, "field": f.field, "en": f.en, "zh": f.zh} for f in fs[:5]],
                    }
                )
    evidence.attach_json("findings.json", bad[:200])
    n = sum(u.count for u in ups)
    evidence.note(f"检查了 {n} 条记录", f"{n} records checked")
    assert not bad, (
        f"{len(bad)} of {n} records fail the profile's checks; first: {bad[0]['findings'][0]['en']} "
        f"(rule {bad[0]['findings'][0]['rule']}, field {bad[0]['findings'][0]['field']}). "
        "Fix: build records as profiles/reference/records.toml defines them"
    )
