"""Acknowledged means committed: kill -9 the platform in the middle of a stream of uploads, restart, reconcile.

SQLite always; PostgreSQL too when ROUCAI_PG_URL is set (its ``public`` schema is dropped and recreated), both
with group commit (simulators/platform/storage/groupcommit.py): four senders, so envelopes share COMMITs."""

import os
import threading
import time

import httpx
import pytest

from platformkit import NODES, P, R, code, rec, register_named_operators
from simulators.platform.launcher import PlatformProcess
from simulators.platform.registry import Registry
from simulators.platform.secret import PlatformSecret
from simulators.platform.storage import open_store

pytestmark = pytest.mark.slow


def _setup(db: str, secret: str, batches: list[list[dict]]) -> str:
    store = open_store(db)
    reg = Registry(store, PlatformSecret.load(secret, create=True), P)
    reg.register_node(R, *NODES[R])
    register_named_operators(reg, "retail_market_tran_info_summ", [r for b in batches for r in b])
    key = reg.issue_key(R)
    store.close()
    return key


def _batches(n_env: int, per: int) -> list[list[dict]]:
    return [
        [
            rec(
                "retail_market_tran_info_summ",
                R,
                seed=e * per + i,
                retail_market_id=R,
                sale_tran_id=code(R + "0001", e * per + i + 1),
            )
            for i in range(per)
        ]
        for e in range(n_env)
    ]


def _send(url: str, key: str, batch: list[dict]) -> list[str] | None:
    """Verdicts, or None when no answer came (connection dropped)."""
    body = P.envelope.build(R, "retail_market_tran_info_summ", batch, key)
    try:
        r = httpx.post(url + "/api/v1/exchange", content=body, timeout=5)
    except httpx.HTTPError:
        return None
    resp, findings = P.envelope.parse_response(r.content)
    assert not findings
    return [x.verdict for x in resp.results] if resp.code == "0000" else None


def _database(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return str(tmp_path / "p.db")
    url = os.environ.get("ROUCAI_PG_URL")
    if not url:
        pytest.skip("set ROUCAI_PG_URL to run the PostgreSQL tests")
    store = open_store(url, migrate_schema=False)
    with store.write() as tx:  # a clean schema for the test
        tx.execute("DROP SCHEMA public CASCADE")
        tx.execute("CREATE SCHEMA public")
    store.close()
    return url


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_kill_minus_9_mid_stream_loses_no_acknowledged_record_and_duplicates_none(tmp_path, kind):
    db = _database(kind, tmp_path)
    secret = str(tmp_path / "p.secret")
    args = ["--log-level", "warning", "--secret-file", secret]
    batches = _batches(160, 20)
    key = _setup(db, secret, batches)
    acked: dict[int, list[str]] = {}
    lock = threading.Lock()
    proc = PlatformProcess(db, args=args).start()
    url = proc.url
    stop = threading.Event()

    def worker(k: int):
        for i in range(k, len(batches), 4):
            if stop.is_set():
                return
            v = _send(url, key, batches[i])
            if v is not None:
                with lock:
                    acked[i] = v

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()  # SIGKILL while the four senders are mid-stream
    stop.set()
    for t in threads:
        t.join(10)
    assert 40 <= len(acked) < len(batches), len(acked)
    assert all(v == ["accepted"] * 20 for v in acked.values())

    with PlatformProcess(db, args=args) as proc2:
        store = open_store(db)
        try:
            with store.read() as tx:
                stored = {c: n for c, n in tx.all("SELECT own_code, COUNT(*) FROM records GROUP BY own_code")}
            lost = [r["sale_tran_id"] for i in acked for r in batches[i] if stored.get(r["sale_tran_id"]) != 1]
            assert lost == [], f"{len(lost)} acknowledged records lost"
            # the node resends everything not acknowledged; the platform ends with each record exactly once
            for i, b in enumerate(batches):
                if i not in acked:
                    assert set(_send(proc2.url, key, b)) <= {"accepted", "duplicate"}
            again = _send(proc2.url, key, batches[min(acked)])
            assert again == ["duplicate"] * 20
            with store.read() as tx:
                total, distinct = tx.one("SELECT COUNT(*), COUNT(DISTINCT own_code) FROM records")
                stats = tx.scalar("SELECT SUM(records) FROM daily_stats")
            assert total == distinct == len(batches) * 20 == stats
        finally:
            store.close()
