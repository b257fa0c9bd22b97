"""Ingest: every record type is accepted and stored; verdicts are true to what is stored."""

from __future__ import annotations

import pytest

from conformance.platform.conftest import cite_day_upload
from conformance.queries import day_rows, trace

PLATFORM = ("city_platform",)


@pytest.mark.requirement("PLAT-ING-01", "TRAN-UPL-07")
@pytest.mark.applies(kinds=PLATFORM)
def test_every_record_type_is_ingested_in_xml_and_json(profile, records, uploader, evidence):
    """For every record type of the profile, one record in an XML envelope and one in a JSON envelope,
    each from a registered node of the right kind, answered ``accepted`` over HTTP POST; the same
    record sent again is answered ``duplicate`` (the platform kept it)."""
    day = records.fresh_day()
    missing = []
    for rtype in sorted(profile.records.types):
        node = records.node_for(rtype)
        # an operator's master record is identified by the operator: the XML and the JSON one name two different
        # registered operators (a random pick could name the same one twice, and the second, with other content,
        # is rightly kept out as 'duplicate')
        operators = iter(sorted(records.ops[node])[::-1])
        for fmt in ("xml", "json"):
            rec = records.make(rtype, day)
            if rtype == "manager_base_info":
                rec["id"] = next(operators, rec["id"])
            a = uploader.upload(node, rtype, [rec], fmt=fmt, header={"DataDate": day.strftime("%Y%m%d")})
            if a.status != 200 or a.code != "0000" or a.verdicts != ["accepted"]:
                missing.append(f"{rtype} ({fmt}): {a}")
                continue
            again = uploader.upload(node, rtype, [rec], fmt=fmt, header={"DataDate": day.strftime("%Y%m%d")})
            if again.verdicts != ["duplicate"]:
                missing.append(f"{rtype} ({fmt}) sent again: expected duplicate (stored once), got {again}")
    evidence.note(
        f"{len(profile.records.types)} 种记录类型 × XML/JSON 均已上传并重发",
        f"{len(profile.records.types)} record types x XML/JSON uploaded and re-sent",
    )
    assert not missing, (
        "the platform must accept a valid record of every type, in XML and in the JSON variant, "
        "and answer a re-sent one 'duplicate':\n  " + "\n  ".join(missing)
    )


@pytest.mark.requirement("PLAT-ING-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("statistics", "trace_query"))
def test_verdicts_match_what_is_stored(profile, records, uploader, http, platform, day_upload, evidence):
    """Judged from stored content, record by record: every record of the simulated day answered ``accepted`` or
    ``duplicate`` that issues a trace code is returned by the trace interface with every field as sent; the
    records answered ``accepted`` per node and type are counted exactly once (duplicates never); in a mixed
    envelope of sales, the accepted ones are found by their codes and the rejected one is unknown."""
    from conformance.platform.test_invariants import _missing_in, issuing

    cite_day_upload(evidence, day_upload)
    refused = [(n, t, str(a)) for n, t, _r, _rep, a in day_upload.answers if a.code != "0000"]
    assert not refused, f"envelopes of the simulated day were refused whole: {refused[:3]}"
    lost = {}
    for code, expected in sorted(issuing(day_upload).items()):
        status, ans = trace(http, platform.url, code)
        diff = [f"HTTP {status}"] if status != 200 or not isinstance(ans, dict) else _missing_in(ans, expected)
        if diff:
            lost[code] = diff
    evidence.attach_json("acknowledged-not-stored.json", lost)
    assert not lost, (
        f"{len(lost)} trace codes of acknowledged records are not stored as sent (an acknowledgement "
        f"must mean stored), e.g. " + "; ".join(f"{c}: {d[0]}" for c, d in list(lost.items())[:3])
    )
    accepted: dict[tuple[str, str], int] = {}
    for n, t, _r, repeat, a in day_upload.answers:
        accepted[(n, t)] = accepted.get((n, t), 0) + a.tally().get("accepted", 0)
    stored: dict[tuple[str, str], int] = {}
    for (n, t, _g), (cnt, _w, _o) in day_rows(http, platform.url, day_upload.day.date).items():
        stored[(n, t)] = stored.get((n, t), 0) + cnt
    diff = {
        f"{n}/{t}": (accepted.get((n, t), 0), stored.get((n, t), 0))
        for n, t in set(accepted) | set(stored)
        if accepted.get((n, t), 0) != stored.get((n, t), 0)
    }
    evidence.attach_json(
        "accepted-vs-stored.json",
        {f"{n}/{t}": [accepted.get((n, t), 0), stored.get((n, t), 0)] for n, t in sorted(set(accepted) | set(stored))},
    )
    assert not diff, (
        "records answered 'accepted' differ from the records the platform counts (node/type: "
        f"(accepted, stored)): {dict(sorted(diff.items())[:10])} — an acknowledgement must mean stored"
    )

    # a mixed envelope of sales: two valid and one without a required field, on a day of its own
    d = records.fresh_day()
    rtype = "retail_market_tran_info_summ"
    node = records.node_for(rtype)
    good = [records.make(rtype, d) for _ in range(2)]
    bad = records.make(rtype, d)
    required = sorted(profile.records.types[rtype].required - {"sale_tran_id", "market_id", "sale_date"})
    bad.pop(required[0])
    a = uploader.upload(node, rtype, [good[0], bad, good[1]], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.verdicts == ["accepted", "rejected", "accepted"], f"expected accepted, rejected, accepted: {a}"
    found = {r["sale_tran_id"]: trace(http, platform.url, r["sale_tran_id"]) for r in (*good, bad)}
    missing = [
        c
        for c in (good[0]["sale_tran_id"], good[1]["sale_tran_id"])
        if found[c][0] != 200
        or not isinstance(found[c][1], dict)
        or _missing_in(found[c][1], [(node, rtype, next(g for g in good if g["sale_tran_id"] == c))])
    ]
    assert not missing, f"accepted records of the mixed envelope are not stored as sent: {missing}"
    assert found[bad["sale_tran_id"]][0] == 404, (
        f"the rejected record {bad['sale_tran_id']} must not be stored, but its code answers HTTP "
        f"{found[bad['sale_tran_id']][0]}"
    )
