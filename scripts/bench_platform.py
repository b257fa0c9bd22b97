#!/usr/bin/env python3
"""Benchmark the reference platform; the load generator runs in separate processes.

    .venv/bin/python scripts/bench_platform.py ingest  [--envelopes 300] [--per 100] [--senders 2] [--threads 2]
    .venv/bin/python scripts/bench_platform.py trace   [--records 1000000] [--queries 2000]
    .venv/bin/python scripts/bench_platform.py all     (both; prints one JSON summary)
    .venv/bin/python scripts/bench_platform.py ingest --store postgresql   (the same against PostgreSQL)
    .venv/bin/python scripts/bench_platform.py noop-server --db FILE --port 0   (used by ingest; see below)

ingest: a fresh SQLite platform (subprocess, `roucai serve platform`), 50 registered retail
  nodes; generator processes pre-build signed DataExchangeReq envelopes of ``--per`` records
  (retail daily sales summaries, all distinct) and POST them over keep-alive connections; the
  figure is accepted records ÷ wall time from the first request to the last answer.
  Baseline, same run: the same generators first POST the same envelopes to ``/bench/noop`` of a
  bench-only server (``noop-server``: the product app from ``create_app`` plus that one route, served by
  ``build_server``: same uvicorn, slow-loris protocol, middleware; the route reads the body and answers
  a constant).  ``ratio_to_noop`` = ingest envelopes/s ÷ no-op requests/s (issue 16's goal: ≥ 0.5).
  ``platform_cpu_ms_per_envelope`` / ``noop_cpu_ms_per_request``: CPU (user + system, /proc) the server process
  used per answered request while the generators sent; ``cpu_ratio_to_noop`` = no-op CPU ÷ platform CPU per
  request, the ceiling of ``ratio_to_noop`` once the server is CPU-bound, and steadier on a shared machine.
trace: ``--records`` records are bulk-loaded into a fresh database through the platform's own
  storage layer (meat chains of 11 records: intake … retail sale, columns computed by the
  platform's RecordMap exactly as ingest does), the platform is started on it, and a generator
  process queries /api/v1/trace/{code} for random retail sale codes; latency is measured by the
  generator per request (p50/p95/p99).  The platform's peak RSS (VmHWM) is read from /proc.
--store postgresql: the same benches against a throwaway PostgreSQL cluster that the script starts (initdb in
  /tmp/roucai-pg.*, 127.0.0.1, a free port, ``fsync`` and ``synchronous_commit`` at their defaults, on: an
  acknowledged COMMIT is on disk, as with SQLite's ``synchronous=FULL``), one fresh database per bench, stopped and
  removed at the end.  The binaries: ``ROUCAI_PG_BIN`` or the newest /usr/lib/postgresql/*/bin.  The trace bench
  runs ``ANALYZE`` after the bulk load (what autovacuum would do on a live database).
Targets (issue 5): ≥ 5,000 records/s ingest; trace p95 ≤ 20 ms at 1,000,000 records; RSS ≤ 500 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import multiprocessing as mp
import os
import platform as pyplatform
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from profiles import load_profile  # noqa: E402
from profiles.record_examples import example_record  # noqa: E402

P = load_profile()


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "mem_mb": mem,
        "python": pyplatform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": pyplatform.release(),
    }


def rss_mb(pid: int) -> dict:
    out = {}
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            out[k] = round(int(v.split()[0]) / 1024, 1)
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _setup_nodes(db: str, nodes: list[tuple[str, str, str]], secret: str) -> dict[str, str]:
    from simulators.platform.registry import Registry
    from simulators.platform.secret import PlatformSecret
    from simulators.platform.storage import open_store

    store = open_store(db)
    reg = Registry(store, PlatformSecret.load(secret, create=True), P)
    keys = {}
    for code, name, ntype in nodes:
        reg.register_node(code, name, ntype)
        reg.register_operator(code + "0001", name + "经营户")  # the seller the records name (PLAT-REG-01)
        keys[code] = reg.current_key(code) or reg.issue_key(code)
    store.close()
    return keys


# -- databases ---------------------------------------------------------------------------------
class BenchError(Exception):
    """The bench cannot run (no PostgreSQL, a cluster that does not start): exit 3 with the message."""


class SQLiteDatabases:
    """Fresh SQLite databases in ``workdir``: ``new(name)`` gives (database, secret file)."""

    dialect = "sqlite"

    def __init__(self, workdir: str):
        self.workdir = workdir

    def new(self, name: str) -> tuple[str, str]:
        db = os.path.join(self.workdir, name + ".db")
        return db, db + ".secret"

    def size_mb(self, db: str) -> float:
        d, base = os.path.split(db)
        return round(sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith(base)) / 2**20, 1)

    def close(self) -> None:
        """Nothing to release: the database files stay in ``workdir``, which the caller removes (the
        PostgreSQL counterpart stops its throwaway cluster here)."""


def _pg_bin() -> str:
    """``ROUCAI_PG_BIN``, else the newest /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("ROUCAI_PG_BIN"):
        found = [os.environ["ROUCAI_PG_BIN"]]
    else:
        found = [p for p in glob.glob("/usr/lib/postgresql/*/bin") if p.split("/")[-2].isdigit()]
    found = [p for p in found if os.access(os.path.join(p, "initdb"), os.X_OK)]
    if not found:
        raise BenchError(
            "未找到 PostgreSQL 程序（设置 ROUCAI_PG_BIN）/ no PostgreSQL binaries found (set ROUCAI_PG_BIN)"
        )
    return max(found, key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)


class PostgresDatabases:
    """A throwaway PostgreSQL cluster (see the module doc): ``new(name)`` creates database ``name`` and gives
    (URL, secret file); ``close()`` stops the cluster and removes its directory.  Durability settings are
    PostgreSQL's defaults (``fsync=on``, ``synchronous_commit=on``): the figures are those of durable COMMITs."""

    dialect = "postgresql"

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.bin = _pg_bin()
        self.dir = tempfile.mkdtemp(prefix="roucai-pg.", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._started = False
        try:
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres")
            opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}"
            self._run(
                "pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60", "-o", opts, "start"
            )
            self._started = True
        except BaseException:
            self.close()
            raise

    def _run(self, prog: str, *args: str) -> None:
        p = subprocess.run(
            [*self._as, os.path.join(self.bin, prog), *args], capture_output=True, text=True, timeout=120
        )
        if p.returncode != 0:
            raise BenchError(f"PostgreSQL: {prog} 失败 / failed ({p.returncode}): {p.stderr.strip()[-500:]}")

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def new(self, name: str) -> tuple[str, str]:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name), os.path.join(self.workdir, name + ".secret")

    def size_mb(self, db: str) -> float:
        from simulators.platform.storage import open_store

        store = open_store(db, migrate_schema=False)
        try:
            with store.read() as tx:
                return round(tx.scalar("SELECT pg_database_size(current_database())") / 2**20, 1)
        finally:
            store.close()

    def close(self) -> None:
        if self._started:
            self._started = False
            subprocess.run(
                [*self._as, os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def databases(store: str, workdir: str):
    """Where the benches' databases come from: ``sqlite`` (files in ``workdir``) or ``postgresql`` (a cluster)."""
    dbs = PostgresDatabases(workdir) if store == "postgresql" else SQLiteDatabases(workdir)
    try:
        yield dbs
    finally:
        dbs.close()


# -- ingest ------------------------------------------------------------------------------------
NOOP_PATH = "/bench/noop"
NOOP_BODY = b'<?xml version="1.0" encoding="UTF-8"?><DataExchangeResp><ResultCode>0000</ResultCode></DataExchangeResp>'


def serve_noop(db: str, port: int, log_level: str, secret_file: str | None = None) -> int:
    """The no-op baseline server: the platform app (``create_app``) plus ``POST /bench/noop``, served by the
    platform's ``build_server``.  Bench-only: the route is never part of the product app."""
    from starlette.responses import Response

    from simulators.platform import logs
    from simulators.platform.app import create_app
    from simulators.platform.config import PlatformConfig
    from simulators.platform.server import build_server

    cfg = PlatformConfig(db=db, port=port, log_level=log_level, secret_file=secret_file)
    app = create_app(cfg)

    async def noop(request):
        await request.body()
        return Response(NOOP_BODY, media_type="application/xml; charset=utf-8")

    app.router.add_route(NOOP_PATH, noop, methods=["POST"], include_in_schema=False)
    logs.setup(cfg.log_level)
    build_server(cfg, app).run()
    return 0


def _sender(args):
    """Generator process: build this share of envelopes, then send them to ``path``;
    returns (accepted records, t0, t1, errors, answers 200)."""
    url, keys, share, per, seed, threads, path = args
    import threading
    import httpx

    rng = random.Random(seed)
    bodies = []
    for env_no in share:
        node = sorted(keys)[env_no % len(keys)]
        base = example_record(P.records, "retail_market_tran_info_summ", rng, node=node)
        base["sale_date"] = time.strftime("%Y%m%d", time.gmtime(time.time() + 8 * 3600))
        base["retailer_id"] = node + "0001"  # registered by _setup_nodes
        base.pop("in_date", None)
        recs = []
        for i in range(per):
            r = dict(base)
            r["sale_tran_id"] = P.codes.trace_code(node + "0001", env_no * per + i + 1)
            r["position_id"] = f"A{i % 99:02d}"
            recs.append(r)
        bodies.append(P.envelope.build(node, "retail_market_tran_info_summ", recs, keys[node]))
    accepted, errors, ok = [0], [0], [0]
    lock = threading.Lock()
    chunks = [bodies[i::threads] for i in range(threads)]

    def run(chunk):
        with httpx.Client(base_url=url, timeout=30) as c:
            for b in chunk:
                r = c.post(path, content=b, headers={"Content-Type": "application/xml"})
                n = r.text.count("<Verdict>accepted</Verdict>")
                with lock:
                    accepted[0] += n
                    errors[0] += r.status_code != 200
                    ok[0] += r.status_code == 200

    t0 = time.time()
    ts = [threading.Thread(target=run, args=(ch,)) for ch in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return accepted[0], t0, time.time(), errors[0], ok[0]


def _send_all(proc, keys: dict, envelopes: int, per: int, senders: int, threads: int, path: str) -> tuple[list, float]:
    """Every generator's answer tuple and the wall time from the first request to the last answer."""
    shares = [list(range(k, envelopes, senders)) for k in range(senders)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(senders) as pool:
        res = pool.map(_sender, [(proc.url, keys, s, per, k, threads, path) for k, s in enumerate(shares)])
    return res, max(r[2] for r in res) - min(r[1] for r in res)


def bench_ingest(envelopes: int, per: int, senders: int, dbs, threads: int = 2) -> dict:
    from simulators.platform.launcher import PlatformProcess

    db, secret = dbs.new("ingest")
    nodes = [(P.codes.node_code("650102", i + 1), f"农贸市场{i + 1}", "farmers_market") for i in range(50)]
    keys = _setup_nodes(db, nodes, secret)
    quiet = ["--log-level", "warning", "--secret-file", secret]
    noop_cmd = [sys.executable, str(Path(__file__).resolve()), "noop-server"]
    with PlatformProcess(db, args=quiet, cwd=str(ROOT), command=noop_cmd) as proc:  # the baseline first
        c0 = cpu_s(proc.proc.pid)
        res, noop_s = _send_all(proc, keys, envelopes, per, senders, threads, NOOP_PATH)
        noop_cpu = cpu_s(proc.proc.pid) - c0
    noop_ok, noop_errors = sum(r[4] for r in res), sum(r[3] for r in res)
    with PlatformProcess(db, args=quiet, cwd=str(ROOT)) as proc:
        c0 = cpu_s(proc.proc.pid)
        res, secs = _send_all(proc, keys, envelopes, per, senders, threads, "/api/v1/exchange")
        cpu = cpu_s(proc.proc.pid) - c0
        mem = rss_mb(proc.proc.pid)
    accepted = sum(r[0] for r in res)
    answered = sum(r[4] for r in res)
    env_s, noop_rps = answered / secs, noop_ok / noop_s
    return {
        "store": dbs.dialect,
        "envelopes": envelopes,
        "records_per_envelope": per,
        "sender_processes": senders,
        "connections": senders * threads,
        "accepted": accepted,
        "errors": sum(r[3] for r in res),
        "seconds": round(secs, 3),
        "records_per_s": round(accepted / secs),
        "envelopes_per_s": round(env_s),
        "noop_requests_per_s": round(noop_rps),
        "noop_errors": noop_errors,
        "ratio_to_noop": round(env_s / noop_rps, 3),
        # CPU the server process used per answered request (the generators run elsewhere): less sensitive to a
        # shared machine's load than the rates; noop ÷ platform is the most the rate ratio can reach once the
        # server is CPU-bound
        "platform_cpu_ms_per_envelope": round(cpu / max(answered, 1) * 1000, 3),
        "noop_cpu_ms_per_request": round(noop_cpu / max(noop_ok, 1) * 1000, 3),
        "cpu_ratio_to_noop": round((noop_cpu / max(noop_ok, 1)) / max(cpu / max(answered, 1), 1e-9), 3),
        "platform_rss_mb": mem,
    }


# -- trace -------------------------------------------------------------------------------------
S, W, R = "650104001", "650103001", "650103002"


def bulk_load(db: str, records: int) -> tuple[list[str], float]:
    """Insert ``records`` (rounded to whole chains of 11) as the platform would store them; returns sale codes."""
    from simulators.platform.recordmap import RecordMap
    from simulators.platform.storage import open_store

    store = open_store(db)
    rm = RecordMap(P)
    day = time.strftime("%Y%m%d", time.gmtime(time.time() + 8 * 3600))
    rng = random.Random(7)
    tpl = {
        t: example_record(P.records, t, rng, node=n)
        for n, t in [
            (S, "animal_in_info"),
            (S, "quarantine_info"),
            (S, "meat_out_info_base"),
            (S, "meat_out_info_detail"),
            (W, "market_in_info_base"),
            (W, "market_in_info_detail"),
            (W, "qmarket_detection_info"),
            (W, "market_tran_info_detail"),
            (R, "retail_market_in_info_base"),
            (R, "retail_market_in_info_detail"),
            (R, "retail_market_tran_info_summ"),
        ]
    }
    meat = P.commodities.of_kind("meat")[0]
    chains = max(1, records // 11)
    sales = []
    t0 = time.time()
    rid = 0
    batch, links = [], []

    def flush():
        with store.write() as tx:
            tx.executemany(
                "INSERT INTO records (id, node_id, rtype, rkey, data_date, own_code, upstream, batch_local,"
                " goods_code, weight_g, body_sha, body, received_ms, request_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            tx.executemany("INSERT INTO record_links (record_id, node_id, kind, value) VALUES (?, ?, ?, ?)", links)
        batch.clear()
        links.clear()

    now = int(time.time() * 1000)
    for i in range(1, chains + 1):
        t1, t2, t3 = (
            P.codes.trace_code(S + "0000", i),
            P.codes.trace_code(W + "0001", i),
            P.codes.trace_code(R + "0001", i),
        )
        qid, qap, im = f"AQ{i:010d}", f"QA{i:010d}", f"IM{i:010d}"
        g = {"goods_code": meat.code, "goods_name": meat.name_zh}
        spec = [
            (S, "animal_in_info", dict(butcher_fac_id=S, in_date=day, quarantine_id=qid, area_origin_id="650121")),
            (
                S,
                "quarantine_info",
                dict(
                    butcher_fac_id=S,
                    check_date=day,
                    quarantine_id=qid,
                    quarantine_animal_products_id=qap,
                    inspection_meat_id=im,
                ),
            ),
            (S, "meat_out_info_base", dict(butcher_fac_id=S, tran_date=day, tran_id=t1)),
            (
                S,
                "meat_out_info_detail",
                dict(
                    tran_id=t1,
                    quarantine_animal_products_id=qap,
                    inspection_meat_id=im,
                    meat_code=meat.code,
                    meat_name=meat.name_zh,
                ),
            ),
            (W, "market_in_info_base", dict(market_id=W, in_date=day, tran_id=t1, batch_id=t1)),
            (W, "market_in_info_detail", dict(tran_id=t1, batch_id=t1, **g)),
            (
                W,
                "qmarket_detection_info",
                dict(market_id=W, detection_date=day, batch_id=t1, tran_id=t1, detection_result="1", **g),
            ),
            (W, "market_tran_info_detail", dict(market_id=W, tran_date=day, tran_id=t2, batch_id=t1, **g)),
            (R, "retail_market_in_info_base", dict(retail_market_id=R, in_date=day, tran_id=t2, batch_id=t2)),
            (R, "retail_market_in_info_detail", dict(tran_id=t2, batch_id=t2, **g)),
            (
                R,
                "retail_market_tran_info_summ",
                dict(retail_market_id=R, sale_date=day, batch_id=t2, tran_id=t2, sale_tran_id=t3, **g),
            ),
        ]
        for node, rtype, over in spec:
            rec = dict(tpl[rtype], **over)
            f = rm.facts(rtype, rec, node)
            body = json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            rid += 1
            batch.append(
                (
                    rid,
                    node,
                    rtype,
                    f.rkey,
                    day,
                    f.own_code,
                    f.received,
                    f.batch_local,
                    f.goods_code,
                    f.weight_g,
                    "-",
                    body,
                    now,
                    "bulk",
                )
            )
            links.extend((rid, node, k, v) for k, v in f.links)
        sales.append(t3)
        if len(batch) >= 50_000:
            flush()
    if batch:
        flush()
    if store.dialect == "postgresql":
        with store.write() as tx:  # the planner's statistics, as autovacuum would gather them on a live database
            tx.execute("ANALYZE")
    store.close()
    return sales, time.time() - t0


def _querier(args):
    url, codes, n, seed = args
    import httpx

    rng = random.Random(seed)
    lat = []
    with httpx.Client(base_url=url, timeout=10) as c:
        for code in (rng.choice(codes) for _ in range(n)):
            t = time.perf_counter()
            r = c.get(f"/api/v1/trace/{code}")
            lat.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and r.json()["complete"], r.text[:200]
    return lat


def bench_trace(records: int, queries: int, dbs) -> dict:
    from simulators.platform.launcher import PlatformProcess

    db, secret = dbs.new("trace")
    _setup_nodes(
        db,
        [
            (S, "生猪屠宰厂", "slaughter_pig"),
            (W, "冷冻肉品批发市场", "meat_wholesale"),
            (R, "农贸市场", "farmers_market"),
        ],
        secret,
    )
    sales, load_s = bulk_load(db, records)
    with PlatformProcess(db, args=["--log-level", "warning", "--secret-file", secret], cwd=str(ROOT)) as proc:
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            pool.map(_querier, [(proc.url, sales, 50, 99)])  # warm-up
            lat = sorted(pool.map(_querier, [(proc.url, sales, queries, 1)])[0])
        mem = rss_mb(proc.proc.pid)
    size_mb = dbs.size_mb(db)
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 2)
    return {
        "store": dbs.dialect,
        "records_stored": len(sales) * 11,
        "bulk_load_s": round(load_s, 1),
        "db_mb": size_mb,
        "queries": len(lat),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1], 2),
        "platform_rss_mb": mem,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["ingest", "trace", "all", "noop-server"])
    ap.add_argument("--db", help="noop-server: the database (as for roucai serve platform)")
    ap.add_argument("--secret-file", help="noop-server: the platform secret (as for roucai serve platform)")
    ap.add_argument(
        "--store",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="ingest/trace: SQLite files, or a throwaway PostgreSQL cluster started by this script",
    )
    ap.add_argument("--port", type=int, default=0, help="noop-server: the port (0: any free one)")
    ap.add_argument("--log-level", default="warning", help="noop-server: the log level")
    ap.add_argument("--envelopes", type=int, default=300)
    ap.add_argument("--per", type=int, default=100)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument(
        "--threads", type=int, default=2, help="connections per sender process (requests in flight: senders × threads)"
    )
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--workdir", help="keep the databases here (default: a temporary directory)")
    a = ap.parse_args()
    if a.what == "noop-server":
        if not a.db:
            ap.error("noop-server needs --db")
        return serve_noop(a.db, a.port, a.log_level, a.secret_file)
    out = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        wd = a.workdir or tmp
        os.makedirs(wd, exist_ok=True)
        try:
            with databases(a.store, wd) as dbs:
                if a.what in ("ingest", "all"):
                    out["ingest"] = bench_ingest(a.envelopes, a.per, a.senders, dbs, a.threads)
                if a.what in ("trace", "all"):
                    out["trace"] = bench_trace(a.records, a.queries, dbs)
        except BenchError as exc:
            print(exc, file=sys.stderr)
            return 3
    print(json.dumps(out, ensure_ascii=False, indent=1))
    ing = out.get("ingest")
    if ing and (ing["accepted"] != a.envelopes * a.per or ing["errors"] or ing["noop_errors"]):
        print(
            f"ingest: {ing['accepted']} of {a.envelopes * a.per} records accepted, {ing['errors']} errors, "
            f"{ing['noop_errors']} no-op errors: the rates above are not ingest rates",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
