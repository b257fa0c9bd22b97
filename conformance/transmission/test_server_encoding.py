"""The platform as the receiving server: well-formedness, encodings and limits (TRAN-ENC-01, -03).

DTDs and entities (TRAN-ENC-02) are tested with the other hostile inputs in the platform suite
(``conformance/platform/test_security.py``).
"""

from __future__ import annotations

import time

import pytest

from conformance.uploads import envelope

PLATFORM = ("city_platform",)
RTYPE = "retail_market_in_info_base"
GBK = '<?xml version="1.0" encoding="GBK"?>'


def _setup(records):
    d = records.fresh_day()
    node = records.node_for(RTYPE)
    return node, [records.make(RTYPE, d)], d.strftime("%Y%m%d")


@pytest.mark.requirement("TRAN-ENC-01")
@pytest.mark.applies(kinds=PLATFORM)
def test_malformed_or_mislabelled_messages_refused(profile, records, uploader):
    """Truncated XML or JSON, and UTF-8 Chinese declared as GBK, are refused whole (1001); the same envelope
    truly encoded in GBK is accepted."""
    node, recs, date = _setup(records)
    key = uploader.keys[node]
    body = envelope(profile, node, key, RTYPE, recs, header={"DataDate": date})
    jbody = envelope(profile, node, key, RTYPE, recs, header={"DataDate": date}, fmt="json")
    cases = {
        "XML cut in the middle": body[: len(body) // 2],
        "JSON cut in the middle": jbody[: len(jbody) // 2],
        "UTF-8 bytes declared GBK": envelope(
            profile, node, key, RTYPE, recs, header={"DataDate": date}, declaration=GBK
        ),
    }
    assert any(ord(ch) > 127 for ch in "".join(recs[0].values())), "set-up: the record must hold Chinese text"
    problems = []
    for what, b in cases.items():
        a = uploader.post(b)
        if a.status != 400 or a.code != "1001" or a.verdicts:
            problems.append(f"{what}: expected HTTP 400 with 1001, got {a}")
    gbk = envelope(profile, node, key, RTYPE, recs, header={"DataDate": date}, declaration=GBK, encoding="gbk")
    a = uploader.post(gbk)
    if a.verdicts != ["accepted"]:
        problems.append(f"a true GBK envelope must be accepted: {a}")
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("TRAN-ENC-03")
@pytest.mark.applies(kinds=PLATFORM)
@pytest.mark.conformance_timeout(60)
def test_oversized_or_too_deep_messages_refused(profile, records, uploader, http, platform):
    """A body one KiB over the profile's size limit is refused (1003, HTTP 413) promptly, and so is an
    envelope nested deeper than the depth limit (1003); the platform answers normally afterwards."""
    node, recs, date = _setup(records)
    key = uploader.keys[node]
    limits = profile.envelope.limits
    base = envelope(profile, node, key, RTYPE, recs, header={"DataDate": date})
    pad = b" " * (limits.max_bytes + 1024 - len(base))
    big = base.replace(b"<Address>", b"<Address>" + pad, 1)
    t0 = time.monotonic()
    a = uploader.post(big)
    secs = time.monotonic() - t0
    assert a.status == 413 and a.code == "1003", f"a {len(big)}-byte body (limit {limits.max_bytes}): {a}"
    assert secs < 10, f"refusing the oversized body took {secs:.1f} s"
    deep = "".join(f"<n{i}>" for i in range(limits.max_depth + 2)) + "".join(
        f"</n{i}>" for i in reversed(range(limits.max_depth + 2))
    )
    rec = dict(recs[0])
    body = envelope(profile, node, key, RTYPE, [rec], header={"DataDate": date}).replace(
        b"</retail_market_in_info_base>", deep.encode() + b"</retail_market_in_info_base>", 1
    )
    a = uploader.post(body)
    assert a.status in (400, 413) and a.code == "1003", f"nesting {limits.max_depth + 2} levels below a record: {a}"
    assert http.get(platform.url + "/healthz").status_code == 200, (
        "the platform stopped answering after the large bodies"
    )
