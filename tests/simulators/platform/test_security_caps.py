"""Issue 13 finding 3: a record-flooded envelope with a zero VerifyCode is refused before it is parsed in full,
in bounded time and memory, by the platform (a real process; its RSS is read from /proc) and by the node."""

import datetime as dt
import json
import time

import httpx
import pytest

from platformkit import NODES, P, R
from simulators.platform.launcher import PlatformProcess
from simulators.platform.registry import Registry
from simulators.platform.secret import PlatformSecret
from simulators.platform.storage import open_store

pytestmark = pytest.mark.slow
RECORDS = 270_587


def flood_xml(node: str, n: int = RECORDS) -> bytes:
    """The issue's envelope: n empty records, a zero VerifyCode, about 8 MiB."""
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    head = (
        f"<DataExchangeReq><NodeId>{node}</NodeId><RequestTime>{now:%Y%m%d%H%M%S}000</RequestTime>"
        f"<VerifyCode>{'0' * 32}</VerifyCode><Index>A03003</Index><Count>{n}</Count>"
        f"<DataDate>{now:%Y%m%d}</DataDate><Address>"
    )
    return (head + "<retail_market_tran_info_summ/>" * n + "</Address></DataExchangeReq>").encode()


def flood_json(node: str, n: int = RECORDS) -> bytes:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    return json.dumps(
        {
            "DataExchangeReq": {
                "NodeId": node,
                "RequestTime": f"{now:%Y%m%d%H%M%S}000",
                "VerifyCode": "0" * 32,
                "Index": "A03003",
                "Count": str(n),
                "DataDate": f"{now:%Y%m%d}",
                "Address": {"retail_market_tran_info_summ": [{"retailer_name": ""}] * n},
            }
        },
        separators=(",", ":"),
    ).encode()


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process, MiB."""
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@pytest.fixture(scope="module")
def proc(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("caps") / "p.db")
    store = open_store(db)
    reg = Registry(store, PlatformSecret.load(db + ".secret", create=True), P)
    reg.register_node(R, *NODES[R])
    reg.issue_key(R)
    store.close()
    with PlatformProcess(db, args=["--log-level", "warning"]) as p:
        yield p


@pytest.mark.parametrize("build,fmt", [(flood_xml, "xml"), (flood_json, "json")])
@pytest.mark.parametrize("node", [R, "650199999"])  # a registered node with a wrong code, an unknown node
def test_record_flood_is_refused_quickly_in_bounded_memory(proc, build, fmt, node):
    body = build(node)
    assert 5 * 2**20 < len(body) <= P.envelope.limits.max_bytes
    with open(f"/proc/{proc.proc.pid}/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    before, _ = rss_mib(proc.proc.pid)
    t0 = time.perf_counter()
    r = httpx.post(
        proc.url + "/api/v1/exchange", content=body, timeout=60, headers={"Content-Type": f"application/{fmt}"}
    )
    took = time.perf_counter() - t0
    after, peak = rss_mib(proc.proc.pid)
    print(f"{fmt} {node}: {r.status_code} in {took:.2f} s; RSS {before:.0f} -> {after:.0f} MiB, peak {peak:.0f} MiB")
    assert r.status_code in (400, 401), r.text[:300]
    resp, findings = P.envelope.parse_response(r.content)
    assert not findings and resp.code in ("1107", "1111"), resp and resp.code
    assert took < 2.0, f"refusal took {took:.2f} s"
    assert peak - before < 150, f"RSS went from {before:.0f} to a peak of {peak:.0f} MiB"
    assert httpx.get(proc.url + "/healthz", timeout=5).status_code == 200
