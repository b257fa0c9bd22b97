"""Helpers for the node tests (imported as ``nodekit``): a real platform (uvicorn in a thread, or a subprocess), a node config writer.

Every wait is bounded (``wait_until``); every server binds 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROUCAI = str(Path(sys.executable).parent / "roucai")


def wait_until(cond, timeout: float, step: float = 0.05, what: str = "condition"):
    """Poll ``cond()`` until truthy (returned) or fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: operators registered per node by the test platforms (PLAT-REG-01: a record naming an operator of a registered
#: node that is not registered is rejected, 2010); generated records name only these
OPERATORS_PER_NODE = 5


def registered_operators(node: str) -> list[str]:
    """The operator codes ``node``'s test records may name (all registered by the test platforms)."""
    from profiles import load_profile

    codes = load_profile().codes
    return [codes.operator_code(node, i) for i in range(1, OPERATORS_PER_NODE + 1)]


def with_registered_operator(rec: dict, rng, node: str) -> dict:
    """``rec`` with its retailer replaced by one of :func:`registered_operators` (``rng`` picks which)."""
    return {**rec, "retailer_id": rng.choice(registered_operators(node))} if "retailer_id" in rec else rec


class ThreadPlatform:
    """The reference city platform under uvicorn in a thread, with nodes (and their :func:`registered_operators`)
    registered and keys issued."""

    def __init__(self, tmp: Path, nodes: dict[str, tuple[str, str]], port: int = 0):
        from simulators.platform.app import build_services, create_app
        from simulators.platform.config import PlatformConfig
        from simulators.platform.server import build_server

        self.db = str(tmp / "platform.db")
        cfg = PlatformConfig(db=self.db, port=port, log_level="warning")
        self.svc = build_services(cfg)
        self.keys = {}
        for code, (name, ntype) in nodes.items():
            self.svc.registry.register_node(code, name, ntype)
            self.keys[code] = self.svc.registry.current_key(code) or self.svc.registry.issue_key(code)
            for op in registered_operators(code):
                self.svc.registry.register_operator(op, "测试经营者", None, None)
        self.server = build_server(cfg, create_app(cfg, self.svc))
        self.server.config.install_signal_handlers = False
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 10, what="platform start")
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(15)

    def trace(self, code: str) -> dict:
        return httpx.get(f"{self.url}/api/v1/trace/{code}", timeout=5, trust_env=False).json()


class Proc:
    """A subprocess whose stderr JSON log lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict | None = None, cwd: str | None = None):
        self.args = args
        self.lines: list[dict] = []
        self.raw: list[str] = []
        self.p = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=cwd
        )
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.p.stderr:
            self.raw.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                self.lines.append(obj)

    def event(self, name: str, timeout: float = 20) -> dict:
        def find():
            if self.p.poll() is not None and not any(e.get("event") == name for e in self.lines):
                raise AssertionError(f"{self.args[:4]} exited {self.p.returncode}: {''.join(self.raw)[-2000:]}")
            return next((e for e in self.lines if e.get("event") == name), None)

        return wait_until(find, timeout, what=f"log event {name}")

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        return self.p.returncode


def admin(db: str, *args: str) -> dict:
    r = subprocess.run(
        [ROUCAI, "serve", "admin", "--db", db, *args, "--json"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def register_test_operators(db: str, node: str) -> None:
    """Register :func:`registered_operators` of ``node`` in a platform database (``serve admin register-operator``)."""
    for op in registered_operators(node):
        admin(db, "register-operator", op, "--name", "测试经营者")


def start_platform_proc(db: str, port: int = 0) -> tuple[Proc, str]:
    proc = Proc([ROUCAI, "serve", "platform", "--db", db, "--port", str(port), "--log-level", "info"])
    ev = proc.event("listening", 30)
    return proc, f"http://127.0.0.1:{ev['port']}"


@contextmanager
def node_http(cfg):
    """A node runtime and its HTTP server (uvicorn in a thread, 127.0.0.1): yields ``(runtime, url)``; on exit the
    server stops and the lifespan stops the runtime (asserted)."""
    from simulators.node.runtime import NodeRuntime
    from simulators.node.server import build_server

    rt = NodeRuntime(cfg)
    server = build_server(cfg, rt)
    server.config.install_signal_handlers = False
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_until(lambda: server.started, 10, what="node start")
    try:
        yield rt, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        t.join(15)
    assert not rt.started  # lifespan stopped the runtime


def write_config(
    path: Path,
    node: str,
    name: str,
    ntype: str,
    url: str,
    key: str,
    *,
    operators=(),
    devices=(),
    upload: dict | None = None,
    stop_poll_s: float = 0.2,
    port: int = 0,
) -> Path:
    """A node TOML file (values written with json.dumps: valid TOML strings and numbers)."""
    d = json.dumps
    up = {
        "max_count": 50,
        "batch_wait_s": 0.05,
        "interval_s": 0.02,
        "backoff_first_s": 0.05,
        "backoff_max_s": 0.5,
        **(upload or {}),
    }
    # these tests count business records exactly: the operators' manager_base_info (NODE-REC-06) is off here
    out = [f"[node]\ncode = {d(node)}\nname = {d(name)}\ntype = {d(ntype)}\nreport_operators = false\n"]
    for code, oname in operators:
        out.append(f"[[operators]]\ncode = {d(code)}\nname = {d(oname)}\n")
    out.append(f"[platform]\nurl = {d(url)}\nkey = {d(key)}\ntimeout_s = 5\n")
    out.append(f"[outbox]\npath = {d(str(path.with_suffix('.db')))}\n")
    out.append("[upload]\n" + "".join(f"{k} = {d(v)}\n" for k, v in up.items()))
    out.append(f"[stoptrade]\npoll_s = {d(stop_poll_s)}\n[server]\nport = {port}\n")
    for dev in devices:
        out.append("[[devices]]\n" + "".join(f"{k} = {d(v)}\n" for k, v in dev.items()))
    path.write_text("\n".join(out), "utf-8")
    return path


RT_ENTRY = "retail_market_in_info_base"


def entry_records(profile, n: int, node: str, seed: int = 0) -> list[dict]:
    """``n`` valid retail entry records of ``node`` with distinct platform identities (batch, tran, retailer)."""
    import random
    from profiles.record_examples import example_record

    rng = random.Random(seed)
    out, keys = [], set()
    while len(out) < n:
        r = with_registered_operator(example_record(profile.records, RT_ENTRY, rng, node=node), rng, node)
        k = (r["batch_id"], r.get("tran_id"), r["retailer_id"])
        if k not in keys:
            keys.add(k)
            out.append(r)
    return out


def post_envelopes(url: str, profile, node: str, key: str, rtype: str, recs: list[dict], size: int = 500) -> None:
    """POST ``recs`` as envelopes of at most ``size`` to ``url``; every record must be accepted or duplicate."""
    import datetime as dt

    with httpx.Client(timeout=30, trust_env=False) as c:
        for i in range(0, len(recs), size):
            body = profile.envelope.build(
                node, rtype, recs[i : i + size], key, request_time=dt.datetime.now(dt.timezone.utc)
            )
            r = c.post(url, content=body, headers={"Content-Type": "application/xml"})
            resp, findings = profile.envelope.parse_response(r.content)
            assert resp is not None and resp.code == "0000", (r.status_code, findings)
            assert resp.tally()["rejected"] == 0


def db_rows(path: str, sql: str, args: tuple = ()) -> list[tuple]:
    """Rows of a query on a SQLite file opened read-only (safe while its owner runs or after kill -9)."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def platform_bodies(db: str, node: str) -> list[str]:
    """Canonical JSON of every record the platform stored for ``node`` (one entry per stored row)."""
    return [
        json.dumps(json.loads(b), sort_keys=True, ensure_ascii=False)
        for (b,) in db_rows(db, "SELECT body FROM records WHERE node_id = ?", (node,))
    ]


def canon(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True, ensure_ascii=False)
