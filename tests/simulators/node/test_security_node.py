"""Issue 13 on the reference node: the exchange endpoint refuses a record-flooded envelope with a zero VerifyCode
before parsing it in full (bounded time and memory; the node shares the platform's gate), and answers with
the security headers."""

from __future__ import annotations

import datetime as dt
import time

import httpx

from test_handheld_api import NODE, node  # noqa: F401  (the running node fixture)


def _peak_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_record_flood_is_refused_before_the_full_parse(node):  # noqa: F811
    _rt, url = node
    n = 270_587
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    body = (
        f"<DataExchangeReq><NodeId>{NODE}</NodeId><RequestTime>{now:%Y%m%d%H%M%S}000</RequestTime>"
        f"<VerifyCode>{'0' * 32}</VerifyCode><Index>A02002</Index><Count>{n}</Count>"
        f"<DataDate>{now:%Y%m%d}</DataDate><Address>" + "<market_in_info_detail/>" * n + "</Address></DataExchangeReq>"
    ).encode()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _peak_mib()
    t0 = time.perf_counter()
    r = httpx.post(url + "/api/v1/exchange", content=body, timeout=60, headers={"Content-Type": "application/xml"})
    took = time.perf_counter() - t0
    peak = _peak_mib()
    print(f"node: {r.status_code} in {took:.2f} s, peak RSS {before:.0f} -> {peak:.0f} MiB")
    assert r.status_code == 400 and b"<ResultCode>1107</ResultCode>" in r.content, r.content[:300]
    assert took < 2.0, took
    assert peak - before < 150, (before, peak)
    assert r.headers.get("x-content-type-options") == "nosniff"
