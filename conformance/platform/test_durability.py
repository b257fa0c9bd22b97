"""Durability and retention: acknowledged means committed, across a kill; nothing stored is replaced or deleted."""

from __future__ import annotations

import threading
import time

import pytest

from conformance.notjudgeable import NotJudgeable
from conformance.queries import day_rows, trace
from conformance.uploads import envelope

PLATFORM = ("city_platform",)


@pytest.mark.requirement("PLAT-DUR-01")
@pytest.mark.applies(kinds=PLATFORM)
@pytest.mark.conformance_timeout(90)
def test_acknowledged_records_survive_a_kill(profile, records, uploader, http, platform, capabilities, evidence):
    """A stream of envelopes is uploaded; after some are acknowledged the platform is killed (built-in:
    SIGKILL; external: its restart_command) and restarted.  Every acknowledged record is then still
    there exactly once: re-sent, each is answered duplicate; a replay of an acknowledged envelope is
    refused; the statistics count every record once."""
    if not platform.can_restart:
        raise NotJudgeable(
            "不适用：能力声明未给出 restart_command",
            "not applicable: the capability statement declares no restart_command",
        )
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    key = uploader.keys[node]
    batches = [[records.make(rtype, d) for _ in range(10)] for _ in range(40)]
    bodies = [envelope(profile, node, key, rtype, b, header={"DataDate": date}) for b in batches]
    acked: list[int] = []
    stop = threading.Event()

    def stream():
        for i, body in enumerate(bodies):
            if stop.is_set():
                return
            try:
                a = uploader.post(body)
            except Exception:  # connection refused/reset by the kill: the stream ends
                return
            if a.verdicts == ["accepted"] * 10:
                acked.append(i)

    t = threading.Thread(target=stream, daemon=True)
    t.start()
    end = time.monotonic() + 20
    while len(acked) < 12 and t.is_alive() and time.monotonic() < end:
        time.sleep(0.005)
    assert len(acked) >= 12, f"set-up: only {len(acked)} envelopes acknowledged before the kill"
    platform.restart(kill=True)
    stop.set()
    t.join(15)
    killed_at = len(acked)
    evidence.note(
        f"在 {killed_at} 个报文被确认后重启（内置：kill -9）",
        f"restarted after {killed_at} envelopes were acknowledged (builtin: kill -9)",
    )
    replay = uploader.post(bodies[acked[0]])
    assert replay.code == "1110", (
        f"a replay of an acknowledged envelope after the restart must be refused (1110): {replay}"
    )
    lost = []
    for i, b in enumerate(batches):
        a = uploader.upload(node, rtype, b, header={"DataDate": date})
        if i in acked and a.verdicts != ["duplicate"] * 10:
            lost.append(f"envelope {i}: {a.verdicts}")
        elif a.code != "0000" or "rejected" in a.verdicts:
            lost.append(f"envelope {i} re-sent: {a}")
    assert not lost, (
        f"acknowledged records were lost or stored twice across the kill (re-sent, each must be "
        f"'duplicate'): {lost[:5]}"
    )
    if capabilities.capabilities.get("statistics"):
        n = sum(v[0] for k, v in day_rows(http, platform.url, date).items() if k[0] == node and k[1] == rtype)
        assert n == 400, f"the statistics count {n} records of {date}; exactly 400 were sent (each once)"


@pytest.mark.requirement("PLAT-RET-02")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_no_interface_deletes_or_silently_replaces_records(records, uploader, http, platform, evidence):
    """The interface description offers no DELETE (or PUT/PATCH) operation; a stored sale re-sent with a
    different weight does not silently replace the stored record (the trace answer keeps the original)."""
    doc = http.get(platform.url + "/openapi.json").json()
    writes = [
        f"{m.upper()} {p}" for p, ops in doc.get("paths", {}).items() for m in ops if m in ("delete", "put", "patch")
    ]
    assert not writes, f"operations that could delete or overwrite business records: {writes}"
    d = records.fresh_day()
    rtype = "retail_market_tran_info_summ"
    node = records.node_for(rtype)
    rec = records.make(rtype, d, weight="12.345")
    first = uploader.upload(node, rtype, [rec], header={"DataDate": d.strftime("%Y%m%d")})
    assert first.verdicts == ["accepted"], f"set-up: {first}"
    changed = uploader.upload(node, rtype, [{**rec, "weight": "99.999"}], header={"DataDate": d.strftime("%Y%m%d")})
    status, ans = trace(http, platform.url, rec["sale_tran_id"])
    assert status == 200, f"trace of {rec['sale_tran_id']}: HTTP {status}"
    weights = [
        r["fields"].get("weight")
        for h in ans["chain"]
        if h["kind"] == "issued" and h["code"] == rec["sale_tran_id"]
        for r in h["records"]
    ]
    evidence.note(f"改动后的重发得到 {changed.verdicts}", f"the changed re-send was answered {changed.verdicts}")
    assert "12.345" in weights, (
        f"the stored sale (12.345 kg) was replaced by a re-sent version {weights}: "
        "a correction must be appended with an audit trail, never overwrite"
    )
