"""Stop-trade: a failed wholesale test reaches every downstream holder, who fetch and acknowledge it."""

from __future__ import annotations

import time

import pytest

from conformance.platform.conftest import cite_day_upload
from conformance.queries import broadcasts, stop_ack, stop_pending

PLATFORM = ("city_platform",)


def _holders(day) -> list[tuple[str, str, set[str], set[str]]]:
    """Vegetable batches of the day's wholesale markets, most downstream nodes first:
    ``(batch code, wholesale node, codes of the batch and every line traded from it, holder nodes)``."""
    led = day.ledger
    out = []
    for lid, e in led.entries.items():
        if e.get("kind") != "veg_batch":
            continue
        codes, nodes, todo = {lid}, set(), list(led.children.get(lid, []))
        while todo:
            c = led.entries[todo.pop()]
            if c["k"] == "lot" and c.get("kind") == "line":
                codes.add(c["id"])
                if c.get("node") and c["node"] != e["node"]:
                    nodes.add(c["node"])
                todo.extend(led.children.get(c["id"], []))
        if nodes:
            out.append((lid, e["node"], codes, nodes))
    out.sort(key=lambda x: (-len(x[3]), -len(x[2]), x[0]))
    return out


def _fail_test(day, records, uploader, batch: str, node: str, tag: str):
    """Upload a failed test record (detection_result 0) of ``batch`` from the wholesale market ``node``."""
    tmpl = next(r["data"] for r in day.records if r["type"] == "qmarket_detection_info" and r["node"] == node)
    d = records.fresh_day().strftime("%Y%m%d")
    goods = next(e["goods_code"] for e in [day.ledger.entries[batch]])
    rec = {
        **tmpl,
        "batch_id": batch,
        "goods_code": goods,
        "sample_id": f"DSTOP{tag}{d}",
        "detection_date": d,
        "detection_result": "0",
        "result_expl": "农药残留超标",
    }
    rec.pop("tran_id", None)
    a = uploader.upload(node, "qmarket_detection_info", [rec], header={"DataDate": d})
    assert a.verdicts == ["accepted"], f"the failed test record was not accepted: {a}"
    return rec


@pytest.mark.requirement("PLAT-STOP-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("stop_trade_broadcast",))
def test_failed_test_stops_the_batch_at_every_downstream_holder(
    day_upload, records, uploader, http, platform, profile, evidence
):
    """The simulated day's vegetable batch with the most downstream holders fails its test: every node the
    ledger says received it, directly or through further trades, gets a stop-trade instruction naming a
    code of that batch; no other node does."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    batch, ws, codes, holders = _holders(day)[0]
    _fail_test(day, records, uploader, batch, ws, "A")
    got = {}
    for node in sorted(set(platform.keys)):
        status, doc = stop_pending(http, platform.url, profile, node, platform.keys[node])
        assert status == 200, f"{node} could not fetch its instructions: HTTP {status} {doc!r:.200}"
        mine = sorted({i["batch_code"] for i in doc.get("instructions", []) if i["batch_code"] in codes})
        if mine:
            got[node] = mine
    evidence.attach_json(
        "stop-trade.json",
        {
            "batch": batch,
            "testing_market": ws,
            "truth_holders": sorted(holders),
            "codes": sorted(codes),
            "instructed": got,
        },
    )
    missed, extra = sorted(holders - set(got)), sorted(set(got) - holders)
    assert not missed and not extra, (
        f"stop-trade of batch {batch}: holders without an instruction {missed}, instructed non-holders {extra} "
        f"(truth: {sorted(holders)}); the instruction must reach every node downstream, however many trades away"
    )


@pytest.mark.requirement("PLAT-STOP-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("stop_trade_broadcast",))
def test_instructions_are_fetched_acknowledged_and_recorded(
    day_upload, records, uploader, http, platform, profile, capabilities, evidence
):
    """Each holder fetches its instructions and acknowledges them; acknowledged instructions are no longer
    pending, the platform records when each was acknowledged, and a node cannot acknowledge another's.
    One instruction is left unacknowledged: once the platform's alert deadline (capability
    ``stop_ack_deadline_s``, the profile's 600 s unless configured shorter; waited for only when ≤ 60 s) has
    passed, the broadcast listing flags it ``overdue`` and counts it in ``overdue``; instructions acknowledged
    within the deadline are not flagged."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    batch, ws, codes, holders = _holders(day)[1]
    _fail_test(day, records, uploader, batch, ws, "B")
    problems = []
    acked = {}
    outsider = ws
    deadline = float(capabilities.capabilities.get("stop_ack_deadline_s", 600))
    late = _left_unacknowledged(http, platform, profile, holders, codes) if deadline <= 60 else None
    for node in sorted(holders):
        key = platform.keys[node]
        status, doc = stop_pending(http, platform.url, profile, node, key)
        mine = [i for i in doc.get("instructions", []) if i["batch_code"] in codes] if status == 200 else []
        if not mine:
            problems.append(f"{node}: no instruction to fetch (HTTP {status})")
            continue
        s, _ = stop_ack(http, platform.url, profile, outsider, platform.keys[outsider], mine[0]["id"])
        if s < 400:
            problems.append(f"{outsider} acknowledged {node}'s instruction {mine[0]['id']} (HTTP {s})")
        for i in mine:
            if late is not None and i["id"] == late[1]:
                continue
            s, body = stop_ack(http, platform.url, profile, node, key, i["id"])
            if s != 200:
                problems.append(f"{node}: acknowledging {i['id']} answered HTTP {s} {body!r:.100}")
            acked[i["id"]] = node
        status, doc = stop_pending(http, platform.url, profile, node, key)
        still = [i["id"] for i in doc.get("instructions", []) if i["id"] in acked]
        if still:
            problems.append(f"{node}: acknowledged instructions still pending {still}")
    status, listing = broadcasts(http, platform.url)
    recorded = {i["id"]: i.get("acked_ms") for i in listing.get("instructions", [])} if status == 200 else {}
    unrecorded = [i for i in acked if not recorded.get(i)]
    if unrecorded:
        problems.append(f"no acknowledgement time recorded for {unrecorded}")
    if late is None:
        evidence.partial(
            f"告警时限 {deadline:g} 秒过长或指令不足两条，未核对超时未确认告警",
            f"alert deadline {deadline:g} s too long to wait for (or fewer than two instructions): "
            "the alert for unacknowledged instructions is not checked",
        )
    else:
        problems += _overdue_problems(http, platform, profile, late, acked, deadline, evidence)
    assert acked and not problems, "stop-trade acknowledgement: " + "; ".join(problems[:6] or ["nothing acknowledged"])


def _left_unacknowledged(http, platform, profile, holders, codes) -> tuple[str, int] | None:
    """``(node, instruction id)`` of the instruction the test leaves unacknowledged (the last holder's last
    one), or ``None`` when the holders have fewer than two instructions in all."""
    mine = []
    for node in sorted(holders):
        status, doc = stop_pending(http, platform.url, profile, node, platform.keys[node])
        if status == 200:
            mine += [(node, i["id"]) for i in doc.get("instructions", []) if i["batch_code"] in codes]
    return mine[-1] if len(mine) >= 2 else None


def _overdue_problems(http, platform, profile, late, acked, deadline: float, evidence) -> list[str]:
    """Wait (at most the deadline + 10 s) for the alert on ``late``; then acknowledge it."""
    end = time.monotonic() + deadline + 10
    listing, flagged = {}, None
    while time.monotonic() < end:
        status, listing = broadcasts(http, platform.url)
        items = {i["id"]: i for i in listing.get("instructions", [])} if status == 200 else {}
        flagged = items.get(late[1])
        if flagged and flagged.get("overdue"):
            break
        time.sleep(0.5)
    evidence.attach_json(
        "stop-trade-overdue.json", {"left_unacknowledged": late, "deadline_s": deadline, "listing": listing}
    )
    out = []
    if (
        not (flagged and flagged.get("overdue"))
        or not isinstance(listing.get("overdue"), int)
        or listing["overdue"] < 1
    ):
        out.append(
            f"instruction {late[1]} of {late[0]}, unacknowledged for more than {deadline:g} s, is not flagged "
            f"overdue (listing overdue = {listing.get('overdue')!r})"
        )
    items = {i["id"]: i for i in listing.get("instructions", [])}
    for iid in acked:
        i = items.get(iid, {})
        if (
            i.get("acked_ms")
            and i.get("created_ms") is not None
            and i["acked_ms"] - i["created_ms"] <= deadline * 1000 - 500
            and i.get("overdue")
        ):
            out.append(f"instruction {iid}, acknowledged within the deadline, is flagged overdue")
    before = listing.get("overdue")
    s, _ = stop_ack(http, platform.url, profile, late[0], platform.keys[late[0]], late[1])
    status, after = broadcasts(http, platform.url)
    if s != 200 or status != 200 or not isinstance(before, int) or after.get("overdue") != before - 1:
        out.append(
            f"after acknowledging {late[1]} the alert count went {before!r} -> {after.get('overdue')!r} "
            f"(HTTP {s}); it must drop by one"
        )
    return out
