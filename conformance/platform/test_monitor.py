"""Node monitoring, health and operating logs, and the published interface description."""

from __future__ import annotations

import collections
import itertools
import json
import os
import re
import time

import pytest

from conformance.queries import node_status

PLATFORM = ("city_platform",)


@pytest.mark.requirement("PLAT-MON-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("node_monitoring",))
def test_nodes_online_after_contact_and_offline_after_silence(
    records, uploader, http, platform, capabilities, evidence
):
    """A node that just uploaded is online with that upload as its last; a node silent for longer than the
    offline threshold (default 15 min) is offline, and online again after its next upload."""
    offline_after = float(capabilities.capabilities.get("offline_after_s", 900))
    d = records.fresh_day()
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    silent = records.node_for("animal_in_info")
    a = uploader.upload(node, rtype, [records.make(rtype, d)], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.verdicts == ["accepted"], f"upload not accepted: {a}"
    status, n = node_status(http, platform.url, node)
    assert status == 200 and n.get("state") == "online", f"{node} uploaded just now but shows {status} {n!r:.300}"
    assert n.get("last_upload"), f"{node} shows no last upload time: {n}"

    if platform.age_contact(silent, offline_after + 60):
        evidence.note(
            f"内置平台：节点 {silent} 的最后联系时间在数据库中前移 {offline_after + 60:g} 秒（模拟静默）",
            f"builtin: node {silent}'s last contact moved {offline_after + 60:g} s into the past in its database",
        )
    elif offline_after <= 120:
        evidence.note(
            f"等待 {offline_after + 5:g} 秒，期间节点 {silent} 不联系平台",
            f"waiting {offline_after + 5:g} s without contact from {silent}",
        )
        time.sleep(offline_after + 5)
    else:
        evidence.partial(
            f"离线阈值 {offline_after:g} 秒过长，未观察离线状态",
            f"offline threshold {offline_after:g} s is too long to wait: the offline state was not observed",
        )
        return
    status, s = node_status(http, platform.url, silent)
    assert status == 200 and s.get("state") == "offline", (
        f"{silent} has been silent longer than {offline_after:g} s but shows {s!r:.300} (must be offline)"
    )
    rt2 = "animal_in_info"
    a = uploader.upload(silent, rt2, [records.make(rt2, d)], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.verdicts == ["accepted"], f"upload not accepted: {a}"
    status, s = node_status(http, platform.url, silent)
    assert s.get("state") == "online", f"{silent} uploaded again but shows {s!r:.300}"
    evidence.note("平台不单独监测电子秤（秤的上传经由节点）", "the platform does not monitor scales separately")


def _log_objects(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


@pytest.mark.requirement("PLAT-MAINT-01")
@pytest.mark.applies(kinds=PLATFORM)
def test_health_endpoint_and_structured_operating_logs(
    forgery_refused, records, uploader, http, platform, capabilities, evidence
):
    """The health endpoint answers 200 with a JSON status; every envelope — accepted or refused — leaves a
    structured log line with its time, node and verdict.  The refused envelope is one signed with a wrong key:
    when the platform verifies no VerifyCode the logs are not judged (not applicable, with the reason)."""
    path = str(capabilities.capabilities.get("health_path", "/healthz"))
    r = http.get(platform.url + path)
    assert r.status_code == 200, f"GET {path} answered {r.status_code}"
    assert r.headers.get("content-type", "").startswith("application/json") and r.json().get("status"), (
        f"GET {path} must answer a JSON object with a status: {r.text[:200]}"
    )
    forgery_refused()
    lines = platform.log_lines
    if lines is None:
        log = platform.log_file  # [capabilities] log_file, relative to the statement
        if not log:
            evidence.partial("未声明 log_file，无法读取运行日志", "no log_file declared: operating logs not read")
            return
    start = len(lines) if lines is not None else os.path.getsize(log)
    d = records.fresh_day()
    rtype = "market_in_info_base"
    node = records.node_for(rtype)
    ok = uploader.upload(node, rtype, [records.make(rtype, d)], header={"DataDate": d.strftime("%Y%m%d")})
    bad = uploader.upload(
        node, rtype, [records.make(rtype, d)], header={"DataDate": d.strftime("%Y%m%d")}, key="0" * 32
    )
    assert ok.verdicts == ["accepted"] and bad.code not in (None, "0000"), f"set-up: {ok} / {bad}"

    def found():
        if lines is not None:
            src = lines[start:]
        else:
            with open(log, "rb") as fh:
                fh.seek(start)
                src = fh.read().decode("utf-8", "replace").splitlines()
        objs = [o for o in _log_objects(src) if o.get("node") == node]
        return objs if len(objs) >= 2 else None

    end = time.monotonic() + 5
    objs = found()
    while objs is None and time.monotonic() < end:
        time.sleep(0.1)
        objs = found()
    evidence.attach_json("log-lines.json", objs or [])
    assert objs, f"no structured (JSON) log line names node {node} for its two envelopes (one accepted, one refused)"
    assert all(o.get("ts") or o.get("time") for o in objs), f"log lines without a time: {objs[:2]}"
    accepted_line = any(o.get("accepted") == 1 for o in objs)
    refused_line = any(o.get("code") == bad.code for o in objs)
    assert accepted_line and refused_line, (
        f"the log must give each envelope's verdict: accepted line {accepted_line}, "
        f"refusal line with code {bad.code} {refused_line}: {objs[:3]}"
    )


_PATH_VALUES = {"code": None, "node_id": None, "instruction_id": "999999999"}


#: a leap day: a real calendar day that a date check reading the year wrong (or ignoring leap years) refuses
LEAP_DAY = "20240229"


def _valid_values(schema: dict, day: str) -> list[str]:
    """The values among a business day with records (``day``, yyyyMMdd), the leap day, and their quarters that
    the parameter's schema ``pattern`` admits ([] when it has none, or none fits: the probe then sends "1")."""
    pattern = schema.get("pattern") if isinstance(schema, dict) else None
    if not isinstance(pattern, str):
        return []
    quarter = f"{day[:4]}Q{(int(day[4:6]) - 1) // 3 + 1}"
    try:
        return [v for v in (day, LEAP_DAY, quarter, "2024Q1") if re.search(pattern, v)]
    except re.error:
        return []


def _probes(op: dict, day: str) -> list[tuple[dict, bool]]:
    """``(query, valid)`` for each probe of an operation's required query parameters: every combination of the
    values its schema admits (``valid``: each parameter got one), else "1" for each (``valid`` false)."""
    req = [p for p in op.get("parameters", []) if p.get("in") == "query" and p.get("required")]
    choices = {p["name"]: _valid_values(p.get("schema", {}), day) for p in req}
    if not req or not all(choices.values()):
        return [({p["name"]: "1" for p in req}, False)]
    return [(dict(zip(choices, combo)), True) for combo in itertools.product(*choices.values())]


@pytest.mark.requirement("PLAT-IF-01")
@pytest.mark.applies(kinds=PLATFORM)
def test_openapi_describes_every_endpoint_it_serves(day_upload, records, http, platform, capabilities, evidence):
    """``/openapi.json`` is an OpenAPI document describing the upload endpoint and every query interface
    the platform declares; each described operation exists (never 404/405 unless documented, never 5xx).  Query
    parameters are probed with values their schema admits where one fits: the simulated day (a business day with
    records), the leap day 29 February 2024, and their quarters; a value the description admits must not be
    refused as a bad parameter (400/422)."""
    r = http.get(platform.url + "/openapi.json")
    assert r.status_code == 200, f"GET /openapi.json answered {r.status_code}"
    doc = r.json()
    assert str(doc.get("openapi", "")).startswith("3"), "not an OpenAPI 3 document"
    paths = doc.get("paths", {})
    caps = capabilities.capabilities
    expected = [platform.upload_path]
    for cap, ps in (
        ("trace_query", ["/api/v1/trace/{code}", "/trace"]),
        ("statistics", ["/api/v1/stats/daily", "/api/v1/kpis"]),
        ("node_monitoring", ["/api/v1/nodes", "/api/v1/nodes/{node_id}"]),
        (
            "stop_trade_broadcast",
            ["/api/v1/stoptrade", "/api/v1/stoptrade/{instruction_id}/ack", "/api/v1/stoptrade/broadcasts"],
        ),
    ):
        if caps.get(cap):
            expected += ps
    missing = [p for p in expected if p not in paths]
    assert not missing, f"the interface description lacks endpoints the platform serves: {missing}"
    # any other path parameter (an instruction's or a problem's id, ...) gets a number nobody holds
    values = collections.defaultdict(
        lambda: "999999999",
        {
            "code": records.trace_code(records.node_for("retail_market_tran_info_summ")),
            "node_id": records.node_for("retail_market_in_info_base"),
        },
    )
    wrong, probed = [], 0
    for path, ops in paths.items():
        url = platform.url + path.format_map(values) if "{" in path else platform.url + path
        for method, op in ops.items():
            if method not in ("get", "post"):
                continue
            for params, valid in _probes(op, day_upload.day.date):
                probed += 1
                resp = http.request(method.upper(), url, params=params, content=b"" if method == "post" else None)
                documented = set(op.get("responses", {}))
                status = resp.status_code
                if status >= 500 or (status in (404, 405) and str(status) not in documented):
                    wrong.append(f"{method.upper()} {path} {params}: HTTP {status}")
                elif valid and status in (400, 422):
                    wrong.append(f"{method.upper()} {path} {params}: HTTP {status}, a value its schema admits refused")
    evidence.note(
        f"探测了 {len(paths)} 个已描述的地址（{probed} 个请求）",
        f"probed {len(paths)} described paths ({probed} requests)",
    )
    assert not wrong, "operations described in /openapi.json do not behave as described: " + "; ".join(wrong)
