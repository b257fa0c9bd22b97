"""Ingest: every record type is accepted and stored; verdicts are true to what is stored."""
from __future__ import annotations

import pytest

from conformance.platform.conftest import cite_day_upload
from conformance.queries import day_rows

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
        for fmt in ("xml", "json"):
            rec = records.make(rtype, day)
            node = records.node_for(rtype)
            a = uploader.upload(node, rtype, [rec], fmt=fmt, header={"DataDate": day.strftime("%Y%m%d")})
            if a.status != 200 or a.code != "0000" or a.verdicts != ["accepted"]:
                missing.append(f"{rtype} ({fmt}): {a}")
                continue
            again = uploader.upload(node, rtype, [rec], fmt=fmt, header={"DataDate": day.strftime("%Y%m%d")})
            if again.verdicts != ["duplicate"]:
                missing.append(f"{rtype} ({fmt}) sent again: expected duplicate (stored once), got {again}")
    evidence.note(f"{len(profile.records.types)} 种记录类型 × XML/JSON 均已上传并重发",
                  f"{len(profile.records.types)} record types x XML/JSON uploaded and re-sent")
    assert not missing, ("the platform must accept a valid record of every type, in XML and in the JSON variant, "
                         "and answer a re-sent one 'duplicate':\n  " + "\n  ".join(missing))


@pytest.mark.requirement("PLAT-ING-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("statistics",))
def test_verdicts_match_what_is_stored(profile, records, uploader, http, platform, day_upload, evidence):
    """Every record of the simulated day answered ``accepted`` is counted in the platform's statistics
    exactly once (duplicates never); in a mixed envelope, the rejected records are not stored and the
    accepted ones are."""
    cite_day_upload(evidence, day_upload)
    refused = [(n, t, str(a)) for n, t, _r, _rep, a in day_upload.answers if a.code != "0000"]
    assert not refused, f"envelopes of the simulated day were refused whole: {refused[:3]}"
    accepted: dict[tuple[str, str], int] = {}
    for n, t, _r, repeat, a in day_upload.answers:
        accepted[(n, t)] = accepted.get((n, t), 0) + a.tally().get("accepted", 0)
    stored: dict[tuple[str, str], int] = {}
    for (n, t, _g), (cnt, _w, _o) in day_rows(http, platform.url, day_upload.day.date).items():
        stored[(n, t)] = stored.get((n, t), 0) + cnt
    diff = {f"{n}/{t}": (accepted.get((n, t), 0), stored.get((n, t), 0))
            for n, t in set(accepted) | set(stored) if accepted.get((n, t), 0) != stored.get((n, t), 0)}
    evidence.attach_json("accepted-vs-stored.json", {f"{n}/{t}": [accepted.get((n, t), 0), stored.get((n, t), 0)]
                                                     for n, t in sorted(set(accepted) | set(stored))})
    assert not diff, ("records answered 'accepted' differ from the records the platform counts (node/type: "
                      f"(accepted, stored)): {dict(sorted(diff.items())[:10])} — an acknowledgement must mean stored")

    # a mixed envelope: two valid records and one without a required field, on a day of its own
    d = records.fresh_day()
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    good = [records.make(rtype, d) for _ in range(2)]
    bad = records.make(rtype, d)
    required = sorted(profile.records.types[rtype].required - {"in_date", "retail_market_id"})
    bad.pop(required[0])
    a = uploader.upload(node, rtype, [good[0], bad, good[1]], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.verdicts == ["accepted", "rejected", "accepted"], f"expected accepted, rejected, accepted: {a}"
    counted = sum(c for (n, t, _g), (c, _w, _o) in day_rows(http, platform.url, d.strftime("%Y%m%d")).items()
                  if n == node and t == rtype)
    assert counted == 2, f"after 2 accepted and 1 rejected record the platform counts {counted} (must be 2)"
