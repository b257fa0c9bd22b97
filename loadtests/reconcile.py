"""After the run: what the platform stored against what it acknowledged and against the truth.

Three sources, per cell ``NODE|DATE|RTYPE`` (records, and grams where the record type has a weight):

* **truth** — the plan's unique records (``truth.json``: the market model's records as the platform
  identifies them);
* **acknowledged** — ``accepted`` verdicts the load-generating processes received (their summaries);
* **stored** — the platform's own statistics (``GET /api/v1/stats/daily?date=`` for every business
  day of the plan; exact: the ingest transaction keeps them), and for the builtin platform also
  the records table itself, record by record (:func:`record_level`: every planned identity stored
  once with the planned content, nothing else stored).

:func:`reconcile` returns a dict with the totals, the first differing cells and ``ok``:
stored = acknowledged (no loss: nothing acknowledged is missing; nothing stored unacknowledged)
and, when every envelope was answered, stored = truth (no loss, no duplicates, totals per node
and day equal).  :func:`check_stats` compares Locust's final totals (the master's JSON) with the
processes' own request counts: a missing summary or fewer requests at the master than the
processes sent means lost worker statistics.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import httpx

from simulators.tls import client_verify

from .plan import read_meta, read_truth

#: our per-process request counters -> the Locust endpoint names they correspond to
COUNTERS = {
    "upload": ["POST /api/v1/exchange"],
    "trace": ["GET /api/v1/trace/{code}"],
    "trace_page": ["GET /trace?code="],
    "monitor": ["GET /api/v1/stats/totals", "GET /api/v1/kpis", "GET /api/v1/nodes"],
}
SHOW = 20


def _g(kg: str) -> int:
    whole, _, frac = str(kg).partition(".")
    return int(whole or 0) * 1000 + int((frac + "000")[:3])


def stored_by_api(url: str, dates: list[str], timeout: float = 30.0, regulator=None) -> dict[str, list[int]]:
    """``{NODE|DATE|RTYPE: [records, grams]}`` from the platform's statistics API, signed as the regulator of the
    JSON file ``regulator`` (``{"regulator_id", "key"}``: run.regulator_file) when given, else unsigned."""
    auth = None
    if regulator is not None:
        from profiles import load_profile
        from simulators.platform.reader_auth import RegulatorReads

        who = json.loads(Path(regulator).read_text("utf-8"))
        auth = RegulatorReads(load_profile().envelope, who["regulator_id"], who["key"])
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with httpx.Client(base_url=url, timeout=timeout, verify=client_verify(), auth=auth) as c:
        for d in dates:
            r = c.get("/api/v1/stats/daily", params={"date": d})
            r.raise_for_status()
            for row in r.json()["rows"]:
                cell = out[f"{row['node_id']}|{d}|{row['type']}"]
                cell[0] += int(row["records"])
                cell[1] += _g(row["weight_kg"])
    return dict(out)


def acknowledged(parts: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in parts:
        for cell, (a, d, r) in p["acks"].items():
            c = out[cell]
            c[0] += a
            c[1] += d
            c[2] += r
    return dict(out)


def reconcile(
    plan_dir: str | Path, parts: list[dict], stored: dict[str, list[int]], record_check: dict | None = None
) -> dict:
    meta, truth = read_meta(plan_dir), read_truth(plan_dir)
    acks = acknowledged(parts)
    cells = sorted(set(truth["cells"]) | set(acks) | set(stored))
    lost, unacked, vs_truth, weight = [], [], [], []
    for c in cells:
        t = truth["cells"].get(c, [0, 0])
        a = acks.get(c, [0, 0, 0])[0]
        s = stored.get(c, [0, 0])
        if s[0] < a:
            lost.append({"cell": c, "acknowledged": a, "stored": s[0]})
        elif s[0] > a:
            unacked.append({"cell": c, "acknowledged": a, "stored": s[0]})
        if s[0] != t[0]:
            vs_truth.append({"cell": c, "truth": t[0], "stored": s[0]})
        elif s[1] != t[1]:
            weight.append({"cell": c, "truth_g": t[1], "stored_g": s[1]})
    unsent = sum(p["unsent"] + p["in_flight"] for p in parts)
    gave_up = sum(p["lost"] + p["refused"] for p in parts)
    missing_parts = sorted(set(range(parts[0]["parts"] if parts else 1)) - {p["part"] for p in parts})
    totals = {
        "truth": truth["unique"],
        "sends": truth["sends"],
        "acknowledged": sum(v[0] for v in acks.values()),
        "duplicate_verdicts": sum(v[1] for v in acks.values()),
        "rejected_verdicts": sum(v[2] for v in acks.values()),
        "stored": sum(v[0] for v in stored.values()),
        "unsent_envelopes": unsent,
        "given_up_envelopes": gave_up,
    }
    complete = unsent == 0 and gave_up == 0 and not missing_parts
    ok = (
        complete
        and not lost
        and not unacked
        and not vs_truth
        and not weight
        and (record_check is None or record_check["ok"])
    )
    reason = _reason(lost, unacked, vs_truth, weight, unsent, gave_up, missing_parts, record_check)
    return {
        "ok": ok,
        "complete": complete,
        "totals": totals,
        "missing_parts": missing_parts,
        "lost": lost[:SHOW],
        "lost_cells": len(lost),
        "unacknowledged": unacked[:SHOW],
        "unacknowledged_cells": len(unacked),
        "truth_mismatch": vs_truth[:SHOW],
        "truth_mismatch_cells": len(vs_truth),
        "weight_mismatch": weight[:SHOW],
        "days": meta["days"],
        "records": record_check,
        "reason": reason,
    }


def _reason(lost, unacked, vs_truth, weight, unsent, gave_up, missing_parts, record_check) -> tuple[str, str]:
    if missing_parts:
        return (f"缺少负载进程 {missing_parts} 的汇总", f"no summary from load process(es) {missing_parts}")
    if lost:
        n = sum(x["acknowledged"] - x["stored"] for x in lost)
        return (
            f"{n} 条已确认接收的记录平台上不存在（{len(lost)} 个节点/日/类型）",
            f"{n} acknowledged records are not stored ({len(lost)} node/day/type cells)",
        )
    if unacked:
        n = sum(x["stored"] - x["acknowledged"] for x in unacked)
        return (f"平台存了 {n} 条未确认的记录", f"{n} records stored without an acknowledgement")
    if unsent or gave_up:
        return (
            f"{unsent} 个报文未发出，{gave_up} 个报文放弃或被整体拒收",
            f"{unsent} envelopes not sent, {gave_up} given up or refused whole",
        )
    if vs_truth:
        return (
            f"{len(vs_truth)} 个节点/日/类型的存储条数与真值不符",
            f"{len(vs_truth)} node/day/type cells differ from the truth",
        )
    if weight:
        return (
            f"{len(weight)} 个节点/日/类型的重量与真值不符",
            f"{len(weight)} node/day/type cells differ in weight from the truth",
        )
    if record_check is not None and not record_check["ok"]:
        return (
            "逐条核对不一致：" + record_check["reason"][0],
            "record-level check failed: " + record_check["reason"][1],
        )
    return ("一致", "consistent")


def record_level(plan_dir: str | Path, db_path: str | Path) -> dict:
    """Record by record against a builtin platform's SQLite file (read-only): every planned identity
    stored exactly once with the planned content; nothing stored that was not planned."""
    planned: dict[tuple, dict] = {}
    with open(Path(plan_dir) / "batches.jsonl", encoding="utf-8") as fh:
        for line in fh:
            b = json.loads(line)
            for rid, rec in zip(b["ids"], b["records"]):
                planned.setdefault((b["node"], b["rtype"], rid), rec)
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT node_id, rtype, rkey, body FROM records").fetchall()
    finally:
        con.close()
    seen: set[tuple] = set()
    extra, changed, twice = [], [], 0
    for node, rtype, rkey, body in rows:
        ident = (node, rtype, rkey)
        if ident in seen:
            twice += 1
            continue
        seen.add(ident)
        want = planned.get(ident)
        if want is None:
            extra.append("|".join(ident).replace("\x1f", "/"))
        elif {k: v for k, v in json.loads(body).items() if v != ""} != {k: v for k, v in want.items() if v != ""}:
            changed.append("|".join(ident).replace("\x1f", "/"))
    missing = [("|".join(i)).replace("\x1f", "/") for i in planned if i not in seen]
    ok = not (extra or changed or twice or missing)
    reason = ("一致", "consistent")
    if missing:
        reason = (f"{len(missing)} 条计划记录未存储", f"{len(missing)} planned records are not stored")
    elif twice:
        reason = (f"{twice} 条记录存了两次", f"{twice} records are stored twice")
    elif extra:
        reason = (f"{len(extra)} 条存储记录不在计划中", f"{len(extra)} stored records were never planned")
    elif changed:
        reason = (f"{len(changed)} 条记录内容与计划不同", f"{len(changed)} stored records differ from the plan")
    return {
        "ok": ok,
        "planned": len(planned),
        "stored": len(rows),
        "missing": len(missing),
        "twice": twice,
        "extra": len(extra),
        "changed": len(changed),
        "examples": (missing + extra + changed)[:SHOW],
        "reason": reason,
    }


def check_stats(locust_stats: list[dict], parts: list[dict], expected_parts: int) -> dict:
    """Locust's final totals (master JSON) against the processes' own request counts."""
    by_name = {e["name"]: e for e in locust_stats}
    rows, lost = [], 0
    for counter, names in COUNTERS.items():
        ours = sum(p["requests"].get(counter, [0, 0])[0] for p in parts)
        master = sum(by_name.get(n, {}).get("num_requests", 0) for n in names)
        if ours or master:
            rows.append({"counter": counter, "processes": ours, "locust": master})
        lost += max(0, ours - master)
    got = sorted(p["part"] for p in parts)
    missing = sorted(set(range(expected_parts)) - set(got))
    over = sum(max(0, r["locust"] - r["processes"]) for r in rows)
    ok = lost == 0 and over == 0 and not missing
    if missing:
        reason = (f"负载进程 {missing} 的汇总丢失", f"the summary of load process(es) {missing} was lost")
    elif lost:
        reason = (
            f"Locust 汇总少了 {lost} 个请求（工作进程统计丢失）",
            f"Locust's totals miss {lost} requests the load processes made (lost worker statistics)",
        )
    elif over:
        reason = (f"Locust 汇总多了 {over} 个请求", f"Locust's totals count {over} requests more than were made")
    else:
        reason = ("一致", "consistent")
    return {
        "ok": ok,
        "parts_expected": expected_parts,
        "parts_reported": got,
        "lost_requests": lost,
        "rows": rows,
        "reason": reason,
    }
