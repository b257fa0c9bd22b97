"""The platform's time service: Beijing time with milliseconds, compared with the harness's own clock."""

from __future__ import annotations

import datetime as _dt
import re
import time

import pytest

from conformance.queries import server_time

PLATFORM = ("city_platform",)
CST = _dt.timezone(_dt.timedelta(hours=8))
#: how far the platform's clock may be from the harness's (both NTP-synchronised; same machine when built in)
TOLERANCE_MS = 2000
SAMPLES = 5
_COMPACT = re.compile(r"^[0-9]{17}$")


def _read(doc) -> tuple[list[str], int | None]:
    """Problems of one answer, and the instant it states (ms since the epoch) when it can be read."""
    if not isinstance(doc, dict):
        return [f"not a JSON object: {doc!r:.200}"], None
    problems, instants = [], []
    compact, iso = doc.get("beijing_time"), doc.get("iso")
    if not (isinstance(compact, str) and _COMPACT.match(compact)):
        problems.append(f"beijing_time {compact!r} is not yyyyMMddHHmmssSSS")
    else:
        try:
            t = _dt.datetime.strptime(compact[:14], "%Y%m%d%H%M%S").replace(tzinfo=CST)
            instants.append(int(t.timestamp()) * 1000 + int(compact[14:]))
        except ValueError:
            problems.append(f"beijing_time {compact!r} is not a calendar time")
    if not (isinstance(iso, str) and re.search(r"T\d\d:\d\d:\d\d\.\d{3}\+08:00$", iso)):
        problems.append(f"iso {iso!r} is not ISO 8601 with milliseconds and +08:00")
    else:
        instants.append(int(_dt.datetime.fromisoformat(iso).timestamp() * 1000))
    if isinstance(doc.get("epoch_ms"), int):
        instants.append(doc["epoch_ms"])
    if len(set(instants)) > 1:
        problems.append(f"beijing_time, iso and epoch_ms state different instants: {doc}")
    return problems, (instants[0] if instants else None)


@pytest.mark.requirement("PLAT-TIME-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("time_service",))
def test_time_service_gives_beijing_time_with_milliseconds(http, platform, evidence):
    """Five readings of GET /api/v1/time: each states Beijing time (UTC+8) as yyyyMMddHHmmssSSS and as
    ISO 8601 with milliseconds, the same instant both ways, within 2 s of the harness's clock taken around
    the request; and the milliseconds are real (not all five readings end in 000)."""
    problems, seen = [], []
    for _ in range(SAMPLES):
        before = time.time_ns() // 1_000_000
        status, doc = server_time(http, platform.url)
        after = time.time_ns() // 1_000_000
        if status != 200:
            problems.append(f"GET /api/v1/time: HTTP {status} {doc!r:.200}")
            break
        found, instant = _read(doc)
        problems += found
        seen.append({"answer": doc, "harness_before_ms": before, "harness_after_ms": after})
        if instant is not None and not (before - TOLERANCE_MS <= instant <= after + TOLERANCE_MS):
            problems.append(
                f"the platform says {doc.get('beijing_time')} ({instant - after:+d} ms from the harness "
                f"clock; more than {TOLERANCE_MS} ms: is it Beijing time?)"
            )
        time.sleep(0.013)
    evidence.attach_json("time-readings.json", seen)
    if len(seen) == SAMPLES and all(str(s["answer"].get("beijing_time", ""))[-3:] == "000" for s in seen):
        problems.append(f"all {SAMPLES} readings end in 000 ms: the time has no real milliseconds")
    assert not problems, "time service: " + "; ".join(dict.fromkeys(problems))
