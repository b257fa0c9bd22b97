"""Security against an anonymous client: bulky unsigned envelopes are refused cheaply (PLAT-SEC-08).

No credentials are needed for these probes: each envelope carries a zero VerifyCode.  Each is 4 MiB (the profile's
probe size: large enough that a platform parsing and validating everything before checking the signature takes
seconds and hundreds of MiB, small enough not to hurt the machine running the harness):

* **record flood**: 4 MiB of empty records of one type, its Count matching;
* **oversized field**: one record whose commodity name is 4 MiB long;
* **oversized NodeId**: a 4 MiB NodeId (an answer that echoes it is itself 4 MiB).

Each must be refused with a 4xx within 2 s, with an answer under 64 KiB; four record floods sent at once must all be
refused within 2 s too; the health check and an ordinary signed upload work before and after.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conformance.uploads import DECLARATION, request_time

PLATFORM = ("city_platform",)
PROBE_BYTES = 4 * 1024 * 1024
MAX_REFUSAL_S = 2.0
MAX_ANSWER_BYTES = 64 * 1024
RTYPE = "retail_market_in_info_base"


def _unsigned(profile, node: str, rtype: str, payload: str, count: int) -> bytes:
    spec = profile.envelope
    rt = profile.records.types[rtype]
    now = request_time(spec)
    head = (
        f"<NodeId>{node}</NodeId><RequestTime>{now}</RequestTime><VerifyCode>{'0' * 32}</VerifyCode>"
        f"<Index>{rt.index}</Index><Count>{count}</Count><DataDate>{now[:8]}</DataDate>"
    )
    return f"{DECLARATION}<{spec.root}>{head}<{spec.payload}>{payload}</{spec.payload}></{spec.root}>".encode()


def probes(profile, node: str) -> dict[str, bytes]:
    """The three 4 MiB unsigned envelopes, by name."""
    empty = f"<{RTYPE}/>"
    n = PROBE_BYTES // len(empty)
    big = "菜" * (PROBE_BYTES // 3)
    return {
        "record flood": _unsigned(profile, node, RTYPE, empty * n, n),
        "oversized field": _unsigned(profile, node, RTYPE, f"<{RTYPE}><goods_name>{big}</goods_name></{RTYPE}>", 1),
        "oversized NodeId": _unsigned(profile, "9" * PROBE_BYTES, RTYPE, empty, 1),
    }


def _send(client: httpx.Client, url: str, body: bytes) -> tuple[int | str, float, int]:
    """``(HTTP status or the transport error, seconds, answer bytes)``."""
    t0 = time.monotonic()
    try:
        r = client.post(url, content=body, headers={"Content-Type": "application/xml"})
        return r.status_code, time.monotonic() - t0, len(r.content)
    except httpx.TimeoutException:
        return "timeout", time.monotonic() - t0, 0
    except httpx.TransportError as exc:  # a server may close after answering 413 before reading everything
        return f"connection closed ({type(exc).__name__})", time.monotonic() - t0, 0


def _healthy(http, platform, profile, records, uploader, capabilities) -> list[str]:
    """What is wrong with the platform's health now: its health check and an ordinary signed upload."""
    out = []
    path = str(capabilities.capabilities.get("health_path", "/healthz"))
    t0 = time.monotonic()
    try:
        r = http.get(platform.url + path)
        if r.status_code != 200 or time.monotonic() - t0 > MAX_REFUSAL_S:
            out.append(f"{path} answered HTTP {r.status_code} in {time.monotonic() - t0:.1f} s")
    except httpx.HTTPError as exc:
        out.append(f"{path}: {type(exc).__name__}")
    d = records.fresh_day()
    a = uploader.upload(
        records.node_for(RTYPE), RTYPE, [records.make(RTYPE, d)], header={"DataDate": d.strftime("%Y%m%d")}
    )
    if a.verdicts != ["accepted"]:
        out.append(f"an ordinary signed upload was not accepted: {a}")
    return out


@pytest.mark.requirement("PLAT-SEC-08", "PLAT-SEC-03")
@pytest.mark.applies(kinds=PLATFORM)
def test_bulky_unsigned_envelopes_are_refused_quickly(
    profile, records, uploader, http, platform, capabilities, evidence
):
    """A 4 MiB record flood, a 4 MiB field and a 4 MiB NodeId, all unsigned, are each refused (4xx) within 2 s
    with an answer under 64 KiB; four record floods at once are all refused within 2 s; the platform is healthy
    (health check, an ordinary upload accepted) before and after."""
    problems = [f"before: {p}" for p in _healthy(http, platform, profile, records, uploader, capabilities)]
    url = platform.url + platform.upload_path
    bodies = probes(profile, records.node_for(RTYPE))
    seen = {}
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False) as c:
        for what, body in bodies.items():
            status, secs, size = _send(c, url, body)
            seen[what] = {"bytes_sent": len(body), "status": status, "seconds": round(secs, 3), "answer_bytes": size}
            refused = isinstance(status, int) and 400 <= status < 500 or str(status).startswith("connection closed")
            if not refused or secs > MAX_REFUSAL_S or size > MAX_ANSWER_BYTES:
                problems.append(f"{what}: HTTP {status} after {secs:.1f} s, answer {size} bytes")
    flood = bodies["record flood"]

    def one(_i):
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False) as c:
            return _send(c, url, flood)

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(one, range(4)))
    seen["four record floods at once"] = [{"status": s, "seconds": round(t, 3)} for s, t, _n in together]
    slow = [
        (s, round(t, 1))
        for s, t, _n in together
        if t > MAX_REFUSAL_S or not (isinstance(s, int) and 400 <= s < 500 or str(s).startswith("connection"))
    ]
    if slow:
        problems.append(f"four record floods at once: {slow} (status, seconds) not refused within {MAX_REFUSAL_S:g} s")
    problems += [f"after: {p}" for p in _healthy(http, platform, profile, records, uploader, capabilities)]
    evidence.attach_json("bulky-unsigned.json", seen)
    assert not problems, "bulky unsigned envelopes must be refused cheaply, the platform staying healthy: " + "; ".join(
        problems
    )
