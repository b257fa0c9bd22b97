"""The node as the target: the harness plays the scales (on ptys) and the city platform (HTTP).

One scripted, bounded scenario (:class:`NodeSession`) per certify run; the tests
of ``test_node_*.py`` (and the coding suite, for node targets) judge what it
captured.  The phases, each with its own time bound:

1. ``start``     the reference platform behind a :class:`~.recorder.Recorder` (a real uvicorn
                 server on 127.0.0.1 with a SQLite file), the city's nodes registered and keyed;
                 the day's records of the city nodes *not* under test uploaded by the harness;
                 simulated scales on ptys with the day's batches; one node process per node type
                 under test, started from its ``start_command`` with a config the harness wrote.
2. ``handheld``  each node's records of the simulated day registered through its handheld intake
                 (the profile's envelopes, signed with the node's key), plus one intake without its
                 quarantine certificate at the slaughterhouse (must be refused).
3. ``sales``     sales on every scale; wait until every record is at the platform.
4. ``outage``    the platform is stopped; sales and a handheld backlog larger than the profile's
                 Count limit arrive meanwhile; the platform is restarted (same port, same database);
                 wait until everything is at the platform.
5. ``backoff``   the platform answers 503 for a while (the harness's recorder, not the platform);
                 the node's retry times are recorded; then service resumes.
6. ``stoptrade`` a failed pesticide test of the wholesale batch the retail scale sells from is
                 posted to the platform; wait until the scale refuses that batch and the node has
                 acknowledged the instruction.

A phase that does not finish in time is recorded (:attr:`NodeSession.timeouts`) and
the scenario goes on with short waits; the tests that need it get a ``TimeoutError``
(verdict ``timeout``), never a hang.

The node under test is started with ``start_command`` from the capability statement
(``[target] start_command``), a template with ``{config}`` (the node TOML this module
writes, in the reference node's format), ``{platform_url}``, ``{node_code}``, ``{key}``,
``{node_port}``, ``{scale_ports}`` (comma-separated pty paths), ``{workdir}`` and
``{python}``.  The built-in target runs ``{python} -m roucai.cli serve node --config {config}``
(:data:`FAULT_COMMAND` for a broken variant: the node with a defect installed from outside).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import random
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from profiles.errors import RoucaiError
from simulators.lifetime import die_with_parent

from ..recorder import Recorder, analyse_upload, canon, canon_stored

UPLOAD_PATH = "/api/v1/exchange"
BUILTIN_COMMAND = "{python} -m roucai.cli serve node --config {config}"
#: the built-in node with one defect of conformance/proofs/node_faults.py (``{fault}``: its name)
FAULT_COMMAND = "{{python}} -m conformance.proofs.node_variant {fault} --config {{config}}"
#: node roles (records.toml node_type) -> the capability that declares the node software handles it
ROLE_CAPS = {
    "slaughterhouse": "node_slaughterhouse",
    "wholesale": "node_wholesale",
    "retail": "node_retail",
    "supermarket": "node_supermarket",
    "canteen": "node_canteen",
}
#: upload settings the harness writes into every node config: timings (seconds) scaled down so a run is short;
#: ``max_count`` the profile's maximum Count (reference envelope.toml ``max_count``), so the outage backlog (more
#: records than that) makes the node send and settle a full envelope: answers of 500 results must be read right
UPLOAD_CFG = {"max_count": 500, "batch_wait_s": 0.2, "interval_s": 0.05, "backoff_first_s": 0.25, "backoff_max_s": 1.0}
STOP_POLL_S = 0.25
SALES_PER_SCALE = 12
OUTAGE_SALES = 6
BACKOFF_WINDOW_S = 3.2
#: how long the harness waits for the node to load the entered batches onto its scales (node poll is 0.2 s)
PUSH_WAIT_S = 6.0


class HarnessError(RoucaiError):
    """The harness itself could not set up (not the target's fault): verdict error."""

    exit_code = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout: float, step: float = 0.05):
    """Poll ``cond()`` until truthy (returned) or ``None`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            return None
        time.sleep(step)


# -- the platform the harness plays ------------------------------------------------------------------
class HarnessPlatform:
    """The reference platform on a fixed port of 127.0.0.1, behind the recorder; stop and start again."""

    def __init__(self, workdir: Path, recorder: Recorder):
        self.db = str(workdir / "platform.db")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recorder = recorder
        self.server = None
        self.thread = None
        self.services = None

    def start(self, timeout: float = 15.0) -> None:
        from simulators.platform.app import build_services, create_app
        from simulators.platform.config import PlatformConfig
        from simulators.platform.server import build_server

        cfg = PlatformConfig(db=self.db, port=self.port, log_level="warning")
        self.services = build_services(cfg)
        self.recorder.app = create_app(cfg, self.services)
        self.server = build_server(cfg, self.recorder)
        self.server.config.install_signal_handlers = False
        self.thread = threading.Thread(target=self.server.run, name="harness-platform", daemon=True)
        self.thread.start()
        if not wait_for(lambda: self.server.started or not self.thread.is_alive(), timeout) or not self.server.started:
            raise HarnessError(f"the harness platform did not start on port {self.port}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout)
            self.server = None

    def rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()


# -- the node under test -----------------------------------------------------------------------------
@dataclass
class NodeUnderTest:
    code: str
    name: str
    node_type: str  #: city node type (farmers_market, …)
    role: str  #: records.toml node type (retail, …)
    key: str
    port: int
    config: Path
    workdir: Path
    operators: list  #: simulators.city Operator of this node
    scales: list = field(default_factory=list)  #: ScaleBench of this node
    proc: subprocess.Popen | None = None
    command: list[str] = field(default_factory=list)
    log: Path | None = None
    handheld: list = field(default_factory=list)  #: (t answered, rtype, canon record, verdict)
    refused_intake: dict | None = None  #: the slaughterhouse's uncertified intake and its verdict
    devices: list = field(default_factory=list)  #: [[devices]] tables of its config
    operator_edits: dict = field(default_factory=dict)  #: operator code -> details changed in its config
    operator_change: dict | None = None  #: the ``operators`` phase: what changed, when, restart times
    transfer: dict | None = None  #: the stall transfer of the ``handheld`` phase (retail)
    ledger_probes: list = field(default_factory=list)  #: NODE-WHOL-03 entries that must be refused, with verdicts
    guest: object | None = None  #: NODE-WHOL-01: an operator of another node trading here
    guest_entry: str | None = None  #: canonical entry record registered for the guest

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ScaleBench:
    """One simulated scale on a pty, its batch, and the sales the harness made on it."""

    id: str
    line: object
    model: object
    runner: object
    operator: str
    stall: str
    batch: str
    commodity: str
    entry: tuple = ()  #: (commodity name, limit g, price fen) of the batch, from the entry records
    sales: list = field(default_factory=list)  #: (epoch seconds, SaleRecord, phase)
    unacked_during_outage: int | None = None
    pushed_at: float | None = None  #: when the harness saw the node's push of ``batch`` (None: it loaded it itself)
    table_at_push: list = field(default_factory=list)  #: the scale's batch table when the push was seen

    def sell(self, rng: random.Random, phase: str) -> None:
        # at most 1/40 of the batch per sale: every sale of the scenario (about 20) stays within the limit
        hi = max(150, min(2500, self.entry[1] // 40)) if self.entry else 2500
        with self.runner.lock:
            sale = self.model.sell(self.batch, weight_g=rng.randint(min(150, hi), hi))
        self.sales.append((time.time(), sale, phase))

    def load_entry(self) -> None:
        """The harness loads the batch itself (no node push to wait for, or the node did not push it)."""
        name, limit, price = self.entry
        with self.runner.lock:
            self.model.load_batch(self.batch, self.commodity, name, limit, price)


def _write_config(n: NodeUnderTest, platform_url: str, devices: list[dict]) -> None:
    d = json.dumps
    out = [f"[node]\ncode = {d(n.code)}\nname = {d(n.name)}\ntype = {d(n.node_type)}\n"]
    for o in n.operators:
        details = {
            "property": "1" if o.kind == "company" else "2",
            "type": o.business_type,
            "reg_id": o.uscc,
            "tel": o.phone,
            **n.operator_edits.get(o.code, {}),
        }
        out.append(
            f"[[operators]]\ncode = {d(o.code)}\nname = {d(o.name)}\n"
            + "".join(f"{k} = {d(v)}\n" for k, v in details.items() if v)
        )
    out.append(f"[platform]\nurl = {d(platform_url)}\nkey = {d(n.key)}\ntimeout_s = 5\n")
    out.append(f"[outbox]\npath = {d(str(n.workdir / 'outbox.db'))}\n")
    out.append("[upload]\n" + "".join(f"{k} = {d(v)}\n" for k, v in UPLOAD_CFG.items()))
    out.append(f"[stoptrade]\npoll_s = {STOP_POLL_S}\n[server]\nport = {n.port}\n")
    for dev in devices:
        out.append("[[devices]]\n" + "".join(f"{k} = {d(v)}\n" for k, v in dev.items()))
    n.config.write_text("\n".join(out), "utf-8")


def _with_certificates(records: list[dict], ledger) -> list[dict]:
    """The day's records with the quarantine sampling carrying the certificates the slaughterhouse issued.

    The market model records each sale's certificate pair against its intakes itself (``quarantine_info``
    from ``slaughter.certificates_issued``); for a pair it did not record, the harness, registering the
    sampling at the slaughterhouse, gives one record per certificate pair the ledger's truth links to that
    intake (none with the current model: the intake's own check stays as it is).
    """
    pairs: dict[str, set] = {}
    for r in records:
        if r["type"] == "meat_out_info_detail":
            chain = ledger.chain(r["data"]["tran_id"]) or []
            intake = next((e["id"] for e in chain if e.get("kind") == "intake"), None)
            if intake:
                pairs.setdefault(intake, set()).add(
                    (r["data"].get("quarantine_animal_products_id"), r["data"].get("inspection_meat_id"))
                )
    for r in records:  # pairs the model recorded itself (slaughter.certificates_issued) are not added
        d = r["data"]
        if r["type"] == "quarantine_info" and d.get("quarantine_animal_products_id"):
            pairs.get(d.get("quarantine_id"), set()).discard(
                (d["quarantine_animal_products_id"], d.get("inspection_meat_id"))
            )
    out = []
    for r in records:
        q = r["data"].get("quarantine_id")
        if r["type"] == "quarantine_info" and pairs.get(q) and not r["data"].get("quarantine_animal_products_id"):
            for pq, mq in sorted(pairs[q], key=str):
                extra = {k: v for k, v in (("quarantine_animal_products_id", pq), ("inspection_meat_id", mq)) if v}
                out.append({**r, "data": {**r["data"], **extra}})
        else:
            out.append(r)
    return out


# -- the scenario ------------------------------------------------------------------------------------
class NodeSession:
    """Run the scenario once (:meth:`run`), then judge with the accessors.  Always :meth:`close`."""

    def __init__(
        self,
        workdir: Path,
        profile,
        seed: int,
        roles: list[str],
        start_command: str,
        handheld: bool = True,
        scales: bool = True,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.profile = profile
        self.spec = profile.envelope
        self.seed = seed
        self.rng = random.Random(seed)
        self.roles = roles
        self.start_command = start_command
        self.with_handheld = handheld
        self.with_scales = scales
        self.recorder = Recorder()
        self.platform = HarnessPlatform(self.workdir, self.recorder)
        self.nodes: dict[str, NodeUnderTest] = {}
        self.timeouts: dict[str, str] = {}
        self.phases: dict[str, tuple[float, float]] = {}
        #: (stopped, started again) epoch seconds of each time the harness platform was down: the node's attempts
        #: then fail unseen at the platform side
        self.platform_down: list[tuple[float, float]] = []
        self.keys: dict[str, str] = {}
        self.day = None
        self.backlog: list[str] = []  #: canonical records of the outage backlog (retail node)
        self.stop_batch: str | None = None
        self.stop_scale: ScaleBench | None = None
        self.stop_result: dict = {}
        self.harness_records: set[str] = set()
        self._uploads = None
        self._closed = False

    # -- helpers -------------------------------------------------------------------------------------
    def _phase(self, name: str):
        sess = self

        class _P:
            def __enter__(self):
                sess.recorder.phase = name
                self.t0 = time.time()

            def __exit__(self, *exc):
                sess.phases[name] = (self.t0, time.time())

        return _P()

    def _wait(self, phase: str, cond, timeout: float, what: str) -> bool:
        if self.timeouts:  # once something timed out, do not wait long again
            timeout = min(timeout, 3.0)
        if wait_for(cond, timeout):
            return True
        self.timeouts.setdefault(phase, f"{what}: not within {timeout:g} s")
        return False

    def require(self, *phases: str) -> None:
        """Raise ``TimeoutError`` if any of ``phases`` did not finish in its time bound."""
        for p in phases:
            if p in self.timeouts:
                raise TimeoutError(f"phase {p!r}: {self.timeouts[p]}")
            if p not in self.phases:
                raise TimeoutError(f"phase {p!r} did not run")

    # -- set-up --------------------------------------------------------------------------------------
    def run(self) -> "NodeSession":
        from simulators.city import generate_city
        from simulators.market import run_market
        from simulators.platform.recordmap import load_rules

        with self._phase("start"):
            day = _dt.date.today()
            self.city = generate_city("tiny", self.seed, self.profile)
            sink = io.StringIO()
            self.ledger = run_market("tiny", seed=self.seed, start=day, ledger_sink=sink, profile=self.profile)
            self.day_records = _with_certificates(
                [
                    o
                    for o in map(json.loads, sink.getvalue().splitlines())
                    if o["k"] == "record" and o["type"] in self.profile.records.types
                ],
                self.ledger,
            )
            roles = load_rules()["node_roles"]
            self.platform.start()
            reg = self.platform.services.registry
            for nd in self.city.nodes:
                reg.register_node(nd.code, nd.name, nd.type)
                self.keys[nd.code] = reg.current_key(nd.code) or reg.issue_key(nd.code)
            for o in self.city.operators:
                reg.register_operator(o.code, o.name, o.business_type, o.uscc)
            self._choose_nodes(roles)
            self._upload_others()
            for n in self.nodes.values():
                self._start_node(n)
            for n in self.nodes.values():
                self._wait("start", lambda n=n: self._node_ready(n), 30, f"node {n.code} listening on {n.port}")
            if "start" in self.timeouts:  # the node did not come up: nothing further can be judged
                raise HarnessError(self.timeouts["start"])
        with self._phase("handheld"):
            self._handheld()
            self._await_batch_push()
            self._stall_transfer()
        with self._phase("sales"):
            for b in self._scales():
                for _ in range(SALES_PER_SCALE):
                    b.sell(self.rng, "sales")
            self._wait("sales", self._all_at_platform, 30, "every record at the platform")
        with self._phase("outage"):
            self._outage()
        with self._phase("backoff"):
            self._backoff()
        with self._phase("stoptrade"):
            self._stoptrade()
        with self._phase("operators"):
            self._operator_change()
        return self

    def _choose_nodes(self, roles: dict) -> None:
        fm = next((n for n in self.city.nodes if roles.get(n.type) == "retail"), None)
        entries = [
            r for r in self.day_records if fm and r["node"] == fm.code and r["type"] == "retail_market_in_info_base"
        ]
        veg = next(
            (
                r["data"]["batch_id"]
                for r in entries
                if len(self.ledger.chain(r["data"]["batch_id"]) or []) > 1
                and self.ledger.chain(r["data"]["batch_id"])[1].get("kind") == "veg_batch"
            ),
            None,
        )
        self.stop_batch = veg
        wanted = {}
        for role in self.roles:
            cands = [n for n in self.city.nodes if roles.get(n.type) == role]
            if role == "wholesale" and veg:
                cands.sort(key=lambda n: n.code != veg[:9])  # the wholesaler of the retail veg batch
            if cands:
                wanted[role] = cands[0]
        for role, nd in wanted.items():
            wd = self.workdir / f"node-{nd.code}"
            wd.mkdir(exist_ok=True)
            ops = [o for o in self.city.operators if o.node_code == nd.code]
            guest = None
            if role == "wholesale":  # NODE-WHOL-01: an operator registered at another node also trades here
                others = sorted(
                    (o for o in self.city.operators if o.node_code != nd.code and not o.code.endswith("0000")),
                    key=lambda o: (o.node_code in {x.code for x in wanted.values()}, o.code),
                )
                guest = others[0] if others else None
            n = NodeUnderTest(
                nd.code,
                nd.name,
                nd.type,
                role,
                self.keys[nd.code],
                free_port(),
                wd / "node.toml",
                wd,
                ops + ([guest] if guest else []),
            )
            n.guest = guest
            self.nodes[nd.code] = n
            if self.with_scales and role in ("retail", "wholesale"):
                self._make_scales(n)
            # a generous answer timeout: the harness's scales share this process with the platform, and a
            # loaded CI machine must not turn into device errors (the node's reconnect backoff grows to 30 s)
            n.devices = [
                {
                    "id": b.id,
                    "url": b.line.host_url,
                    "baud": 115200,
                    "poll_s": 0.2,
                    "operator": b.operator,
                    "stall": b.stall,
                    "response_timeout_s": 2.0,
                }
                for b in n.scales
            ]
            _write_config(n, self.platform.url, n.devices)

    def _make_scales(self, n: NodeUnderTest) -> None:
        from simulators.devices import ScaleModel, serve
        from simulators.serial import LineSettings, open_line
        from simulators.serial.trace import WireTrace

        if n.role == "retail":
            base = [
                r["data"] for r in self.day_records if r["node"] == n.code and r["type"] == "retail_market_in_info_base"
            ]
            details = {
                r["data"]["batch_id"]: r["data"]
                for r in self.day_records
                if r["node"] == n.code and r["type"] == "retail_market_in_info_detail"
            }
            op_field = "retailer_id"
        else:
            base = [r["data"] for r in self.day_records if r["node"] == n.code and r["type"] == "market_in_info_base"]
            details = {
                r["data"]["batch_id"]: r["data"]
                for r in self.day_records
                if r["node"] == n.code and r["type"] == "market_in_info_detail"
            }
            op_field = "wholesaler_id"
        picks = []
        if n.role == "retail" and self.stop_batch:
            picks.append(next(b for b in base if b["batch_id"] == self.stop_batch))
        for b in base:  # a second batch of another operator (meat if there is one)
            if len(picks) >= (2 if n.role == "retail" else 1):
                break
            if (
                b["batch_id"] in details
                and all(p[op_field] != b[op_field] for p in picks)
                and (
                    n.role != "retail"
                    or details[b["batch_id"]]["goods_code"].startswith("2111")
                    or not any(
                        details[x["batch_id"]]["goods_code"].startswith("2111")
                        for x in base
                        if x["batch_id"] in details
                    )
                )
            ):
                picks.append(b)
        for i, b in enumerate(picks):
            d = details[b["batch_id"]]
            op = b[op_field]
            stall = next((s.number for s in self.city.stalls if s.operator_code == op), f"Z{i + 1:02d}")
            sid = f"{n.code}-S{i + 1}"
            line = open_line(
                f"h{n.code}s{i + 1}",
                backend="pty",
                settings=LineSettings(baudrate=115200),
                link=str(n.workdir / f"scale{i + 1}"),
                trace=WireTrace(n.workdir / f"scale{i + 1}.wire.jsonl"),
            )
            model = ScaleModel(
                n.workdir / f"scale{i + 1}.db",
                seed=self.seed * 100 + i,
                trace_seq_start=9_000_001,
                profile=self.profile,
                keep_receipts=500,
            )
            model.bind_stall(n.code, op, stall, n.name, "")
            # what the node is to push (NODE-WHOL-05): the entered weight as the limit, the entry's price or the
            # reference node's default (the wholesale entry carries no price)
            price = int(round(float(d.get("price") or "10.00") * 100))
            entry = (d["goods_name"], int(round(float(d["weight"]) * 1000)), max(price, 1))
            runner = serve(model, line.device).start()
            bench = ScaleBench(sid, line, model, runner, op, stall, b["batch_id"], d["goods_code"], entry)
            if not self.with_handheld:
                bench.load_entry()  # the node has no entry records to learn the batch from
            n.scales.append(bench)
            if b["batch_id"] == self.stop_batch:
                self.stop_scale = bench

    def _upload_others(self) -> None:
        """The day's records of the city nodes not under test, straight to the platform (the harness plays them)."""
        groups: dict[tuple, list] = {}
        for r in self.day_records:
            if r["node"] not in self.nodes:
                groups.setdefault((r["node"], r["type"]), []).append(r["data"])
        with httpx.Client(timeout=10, trust_env=False) as c:
            for (node, rtype), recs in groups.items():
                for i in range(0, len(recs), 200):
                    part = recs[i : i + 200]
                    body = self.spec.build(node, rtype, part, self.keys[node])
                    c.post(self.platform.url + UPLOAD_PATH, content=body, headers={"Content-Type": "application/xml"})
                    self.harness_records.update(canon_stored(self.spec, rtype, x) for x in part)

    def _start_node(self, n: NodeUnderTest) -> None:
        values = {
            "config": str(n.config),
            "platform_url": self.platform.url,
            "node_code": n.code,
            "key": n.key,
            "node_port": str(n.port),
            "scale_ports": ",".join(b.line.host_url for b in n.scales),
            "workdir": str(n.workdir),
            "python": sys.executable,
        }
        try:
            cmd = [part.format(**values) for part in shlex.split(self.start_command)]
        except (KeyError, IndexError, ValueError) as exc:
            raise HarnessError(f"start_command {self.start_command!r}: bad placeholder {exc}") from None
        n.command = cmd
        n.log = n.workdir / "node.log"
        with open(n.log, "wb") as fh:
            try:
                n.proc = subprocess.Popen(
                    cmd,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    cwd=str(n.workdir),
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    preexec_fn=die_with_parent,
                )
            except OSError as exc:
                raise HarnessError(f"cannot start the node: {cmd[0]}: {exc.strerror}") from None

    def _node_ready(self, n: NodeUnderTest) -> bool:
        if n.proc.poll() is not None:
            self.timeouts.setdefault(
                "start", f"node {n.code} exited with {n.proc.returncode}: " + n.log.read_text("utf-8", "replace")[-600:]
            )
            return True
        if not self.with_handheld:
            return True
        try:
            with socket.create_connection(("127.0.0.1", n.port), timeout=0.2):
                return True
        except OSError:
            return False

    def _scales(self) -> list[ScaleBench]:
        return [b for n in self.nodes.values() for b in n.scales]

    # -- phases --------------------------------------------------------------------------------------
    def _post_handheld(self, client, n: NodeUnderTest, rtype: str, recs: list[dict]) -> None:
        for i in range(0, len(recs), 300):
            part = recs[i : i + 300]
            body = self.spec.build(n.code, rtype, part, n.key)
            try:
                r = client.post(n.url + UPLOAD_PATH, content=body, headers={"Content-Type": "application/xml"})
            except httpx.HTTPError as exc:
                self.timeouts.setdefault("handheld", f"node {n.code} handheld intake: {type(exc).__name__}")
                return
            resp, _ = self.spec.parse_response(r.content)
            t = time.time()
            verdicts = {v.seq: v.verdict for v in resp.results} if resp is not None else {}
            for j, rec in enumerate(part, 1):
                n.handheld.append((t, rtype, canon_stored(self.spec, rtype, rec), verdicts.get(j, "")))

    def _handheld(self) -> None:
        if not self.with_handheld:
            return
        skip = {"retail_market_tran_info_summ"}  # retail sales come from the scales
        with httpx.Client(timeout=10, trust_env=False) as c:
            for n in self.nodes.values():
                groups: dict[str, list] = {}
                for r in self.day_records:
                    if r["node"] == n.code and r["type"] not in skip:
                        groups.setdefault(r["type"], []).append(r["data"])
                for rtype, recs in groups.items():
                    self._post_handheld(c, n, rtype, recs)
                if n.role == "wholesale":
                    self._ledger_probes(c, n)
                    self._guest_entry(c, n)
                if n.role == "slaughterhouse":
                    tmpl = next(
                        (r["data"] for r in self.day_records if r["node"] == n.code and r["type"] == "animal_in_info"),
                        None,
                    )
                    if tmpl:
                        bad = {k: v for k, v in tmpl.items() if k != "quarantine_id"}
                        bad["seller_name"] = (bad.get("seller_name") or "") + "（无证）"
                        before = len(n.handheld)
                        self._post_handheld(c, n, "animal_in_info", [bad])
                        if len(n.handheld) > before:
                            n.refused_intake = {"record": bad, "verdict": n.handheld.pop()[3]}

    def _await_batch_push(self, timeout: float = PUSH_WAIT_S) -> None:
        """NODE-WHOL-05: wait (bounded) until the node has loaded each scale's batch from the entry records it
        took in; a batch not pushed in time is loaded by the harness (``pushed_at`` stays ``None``) so the rest
        of the scenario runs; the test judges it."""
        waiting = [b for b in self._scales() if not b.pushed_at and self.with_handheld]

        def held(b):
            with b.runner.lock:
                table = b.model.store.batches()
            if any(x["batch_trace"] == b.batch for x in table):
                b.pushed_at, b.table_at_push = time.time(), table
                return True
            return False

        wait_for(lambda: all([held(b) for b in waiting if not b.pushed_at]), timeout)
        for b in waiting:
            if not b.pushed_at:
                b.load_entry()

    def _stall_transfer(self, timeout: float = PUSH_WAIT_S) -> None:
        """NODE-RETL-01: a quarter of one retail stall's batch moves to another stall of the node, registered
        through the handheld as the receiving retailer's entry of the same batch under a transfer voucher
        (``tran_id``) the source retailer issued; wait (bounded) until the receiving scale holds the batch and the
        source scale's limit has fallen."""
        from simulators.node.sales import kg_text

        retail = next((n for n in self.nodes.values() if n.role == "retail" and len(n.scales) >= 2), None)
        if retail is None or not self.with_handheld:
            return
        src = self.stop_scale if self.stop_scale in retail.scales else retail.scales[0]
        dst = next((b for b in retail.scales if b.operator != src.operator), None)
        base = next(
            (
                r["data"]
                for r in self.day_records
                if r["type"] == "retail_market_in_info_base"
                and r["data"]["batch_id"] == src.batch
                and r["node"] == retail.code
            ),
            None,
        )
        detail = next(
            (
                r["data"]
                for r in self.day_records
                if r["type"] == "retail_market_in_info_detail"
                and r["data"]["batch_id"] == src.batch
                and r["node"] == retail.code
            ),
            None,
        )
        if dst is None or base is None or detail is None:
            return
        moved = src.entry[1] // 4
        tran = self.profile.codes.trace_code(src.operator, 8_000_001)
        name = next((o.name for o in retail.operators if o.code == dst.operator), "")
        t0 = time.time()
        with httpx.Client(timeout=10, trust_env=False) as c:
            self._post_handheld(
                c,
                retail,
                "retail_market_in_info_base",
                [{**base, "retailer_id": dst.operator, "retailer_name": name, "tran_id": tran}],
            )
            self._post_handheld(
                c, retail, "retail_market_in_info_detail", [{**detail, "tran_id": tran, "weight": kg_text(moved)}]
            )
        src.entry = (src.entry[0], src.entry[1] - moved, src.entry[2])

        def limits():
            out = []
            for b in (src, dst):
                with b.runner.lock:
                    got = b.model.store.batch(src.batch)
                out.append(got["limit_g"] if got else None)
            return out

        done = wait_for(lambda: limits() == [src.entry[1], moved], timeout)
        src_limit, dst_limit = limits()
        retail.transfer = {
            "batch": src.batch,
            "from": src.operator,
            "to": dst.operator,
            "from_scale": src.id,
            "to_scale": dst.id,
            "voucher": tran,
            "moved_g": moved,
            "entered_g": src.entry[1] + moved,
            "registered": t0,
            "seen": time.time() if done else None,
            "source_limit_g": src_limit,
            "receiving_limit_g": dst_limit,
        }

    def _guest_entry(self, client, n: NodeUnderTest) -> None:
        """NODE-WHOL-01: the guest operator (registered at its own node) enters a lot here under its own code."""
        tmpl = next(
            (
                r["data"]
                for r in self.day_records
                if r["node"] == n.code
                and r["type"] == "market_in_info_base"
                and not r["data"].get("tran_id")
                and r["data"].get("prov_id")
            ),
            None,
        )
        if n.guest is None or tmpl is None:
            return
        codes = self.profile.codes  # the lot's batch code is the market's own (no upstream voucher)
        rec = {
            **tmpl,
            "wholesaler_id": n.guest.code,
            "wholesaler_name": n.guest.name,
            "batch_id": codes.trace_code(codes.operator_code(n.code, 0), 6_000_001),
        }
        self._post_handheld(client, n, "market_in_info_base", [rec])
        n.guest_entry = canon_stored(self.spec, "market_in_info_base", rec)

    def _ledger_probes(self, client, n: NodeUnderTest) -> None:
        """NODE-WHOL-03: two entries without an upstream voucher (no tran_id) the node must refuse: one without
        any certificate, one whose wholesaler + certificate already name another batch."""
        tmpl = next(
            (
                r["data"]
                for r in self.day_records
                if r["node"] == n.code
                and r["type"] == "market_in_info_base"
                and not r["data"].get("tran_id")
                and r["data"].get("prov_id")
            ),
            None,
        )
        if tmpl is None:
            return
        codes = self.profile.codes
        other = codes.trace_code(tmpl["wholesaler_id"], 7_000_001)
        probes = [
            (
                "no certificate",
                {
                    k: v
                    for k, v in tmpl.items()
                    if k not in ("prov_id", "quarantine_animal_products_id", "quarantine_vege_id", "inspection_meat_id")
                }
                | {"batch_id": codes.trace_code(tmpl["wholesaler_id"], 7_000_002)},
            ),
            ("certificate of another batch", {**tmpl, "batch_id": other}),
        ]
        for what, rec in probes:
            before = len(n.handheld)
            self._post_handheld(client, n, "market_in_info_base", [rec])
            verdict = n.handheld.pop()[3] if len(n.handheld) > before else ""
            n.ledger_probes.append({"case": what, "record": rec, "verdict": verdict, "ledger_batch": tmpl["batch_id"]})

    def _outage(self) -> None:
        retail = next((n for n in self.nodes.values() if n.role == "retail"), None)
        self.platform.stop()
        t_down = time.time()
        for b in self._scales():
            for _ in range(OUTAGE_SALES):
                b.sell(self.rng, "outage")
        if retail is not None and self.with_handheld:
            # lots registered while the platform is down: more than one envelope's Count limit, each a lot the
            # retailer took in without an upstream ledger (its batch code issued by the retailer itself)
            rtype = "retail_market_in_info_base"
            tmpls = [r["data"] for r in self.day_records if r["node"] == retail.code and r["type"] == rtype]
            codes = self.profile.codes
            recs = []
            for i in range(self.spec.max_count + 100):
                t = tmpls[i % len(tmpls)]
                own = codes.trace_code(t["retailer_id"], 5_000_000 + i)
                recs.append({**t, "batch_id": own, **({"tran_id": own} if "tran_id" in t else {})})
            with httpx.Client(timeout=10, trust_env=False) as c:
                self._post_handheld(c, retail, rtype, recs)
            self.backlog = [canon_stored(self.spec, rtype, r) for r in recs]
        # the node must not acknowledge to its scales what the platform has not answered (NODE-DEV-01)
        time.sleep(max(0.0, 1.5 - (time.time() - t_down)))
        for b in self._scales():
            with b.runner.lock:
                b.unacked_during_outage = b.model.store.unacked_count()
        self.platform.start()
        self.platform_down.append((t_down, time.time()))
        self._wait("outage", self._all_at_platform, 40, "every record at the platform after the outage")

    def _backoff(self) -> None:
        if not self._scales() and not self.with_handheld:
            return
        self.recorder.unavailable = True
        try:
            for b in self._scales()[:1]:
                b.sell(self.rng, "backoff")
            if not self._scales():
                n = next(iter(self.nodes.values()))
                tmpl = next((r["data"] for r in self.day_records if r["node"] == n.code), None)
                if tmpl is not None:
                    with httpx.Client(timeout=10, trust_env=False) as c:
                        self._post_handheld(
                            c, n, next(r["type"] for r in self.day_records if r["node"] == n.code), [tmpl]
                        )
            time.sleep(BACKOFF_WINDOW_S)
        finally:
            self.recorder.unavailable = False
        self._wait("backoff", self._all_at_platform, 20, "every record at the platform after the 503 period")

    def _stoptrade(self) -> None:
        if self.stop_scale is None or self.stop_batch is None:
            return
        chain = self.ledger.chain(self.stop_batch)
        vb = chain[1]["id"]
        ws = vb[:9]
        tmpl = next(
            (r["data"] for r in self.day_records if r["type"] == "qmarket_detection_info" and r["node"] == ws), None
        )
        detail = next(
            r["data"]
            for r in self.day_records
            if r["type"] == "retail_market_in_info_detail" and r["data"]["batch_id"] == self.stop_batch
        )
        if tmpl is None:
            return
        failed = {
            **tmpl,
            "batch_id": vb,
            "goods_code": detail["goods_code"],
            "goods_name": detail["goods_name"],
            "sample_id": "DHARNESS0001",
            "detection_result": "0",
            "result_expl": "农药残留超标",
        }
        failed.pop("tran_id", None)
        t0 = time.time()
        body = self.spec.build(ws, "qmarket_detection_info", [failed], self.keys[ws])
        with httpx.Client(timeout=10, trust_env=False) as c:
            c.post(self.platform.url + UPLOAD_PATH, content=body, headers={"Content-Type": "application/xml"})
        self.harness_records.add(canon_stored(self.spec, "qmarket_detection_info", failed))
        node = next(n.code for n in self.nodes.values() if self.stop_scale in n.scales)
        scale = self.stop_scale

        def stopped():
            with scale.runner.lock:
                b = scale.model.store.batch(scale.batch)
            return b and b["stopped"]

        def acked():
            rows = (
                self.platform.rows(
                    "SELECT acked_ms FROM stop_instructions WHERE node_id = ? AND batch_code = ?", (node, scale.batch)
                )
                if self._has_table("stop_instructions")
                else []
            )
            return rows and all(r[0] for r in rows)

        self.stop_result = {
            "batch": scale.batch,
            "wholesale_batch": vb,
            "node": node,
            "posted": t0,
            "poll_s": STOP_POLL_S,
        }
        ok_stop = wait_for(stopped, STOP_POLL_S + 8.0)
        self.stop_result["scale_stopped_at"] = time.time() if ok_stop else None
        ok_ack = wait_for(acked, 5.0 if ok_stop else 1.0)
        self.stop_result["acked"] = bool(ok_ack)
        self.stop_result["ack_rows"] = self._ack_rows(node, scale.batch)
        with scale.runner.lock:
            try:
                scale.model.sell(scale.batch, weight_g=500)
                self.stop_result["sale_after_stop"] = "sold"
            except Exception as exc:  # Refused("TRADE_STOPPED") is the conformant answer
                self.stop_result["sale_after_stop"] = getattr(exc, "reason", type(exc).__name__)
        if not ok_stop and not ok_ack:
            self.timeouts.setdefault("stoptrade", "the scale did not stop the batch and the node did not acknowledge")

    def _stop_nodes(self, nodes: list[NodeUnderTest]) -> None:
        """SIGTERM to each node's process group (all first, then wait), SIGKILL after 10 s."""
        live = [n for n in nodes if n.proc is not None and n.proc.poll() is None]
        for n in live:
            try:
                os.killpg(n.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for n in live:
            try:
                n.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(n.proc.pid, signal.SIGKILL)
                    n.proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass

    def _operator_change(self) -> None:
        """TRAN-UPL-08: one operator's telephone changes in each node's configuration (the nodes are stopped,
        their configs rewritten, and started again on the same outboxes); wait until each changed
        ``manager_base_info`` has been answered by the platform."""
        changed = [
            n
            for n in self.nodes.values()
            if any(not o.code.endswith("0000") and o.code.startswith(n.code) for o in n.operators)
        ]
        self._stop_nodes(changed)
        for n in changed:
            op = min(
                (o for o in n.operators if not o.code.endswith("0000") and o.code.startswith(n.code)),
                key=lambda o: o.code,
            )
            tel = "139" + "".join(str(self.rng.randint(0, 9)) for _ in range(8))
            n.operator_edits[op.code] = {"tel": tel}
            _write_config(n, self.platform.url, n.devices)
            n.operator_change = {"operator": op.code, "old_tel": op.phone, "tel": tel, "changed_at": time.time()}
            self._start_node(n)
        for n in changed:
            self._wait("operators", lambda n=n: self._node_ready(n), 30, f"node {n.code} listening again")

        def reuploaded(n):
            want = n.operator_change
            for ex in self.recorder.snapshot():
                if ex.method != "POST" or ex.path != UPLOAD_PATH or ex.t < want["changed_at"]:
                    continue
                up = analyse_upload(self.spec, ex, self.keys.get)
                if up.node == n.code and up.rtype == "manager_base_info" and up.answered:
                    for rec, v in zip(up.records, up.verdicts):
                        d = json.loads(rec)
                        if d.get("id") == want["operator"] and d.get("tel") == want["tel"] and v:
                            return True
            return False

        for n in changed:
            self._wait(
                "operators",
                lambda n=n: reuploaded(n),
                15,
                f"node {n.code}: operator {n.operator_change['operator']}'s changed information uploaded",
            )

    def _has_table(self, name: str) -> bool:
        return bool(self.platform.rows("SELECT name FROM sqlite_master WHERE type='table' AND name=?", (name,)))

    def _ack_rows(self, node: str, batch: str) -> list[dict]:
        if not self._has_table("stop_instructions"):
            return []
        cols = [r[1] for r in self.platform.rows("PRAGMA table_info(stop_instructions)")]
        rows = self.platform.rows("SELECT * FROM stop_instructions WHERE node_id = ? AND batch_code = ?", (node, batch))
        return [dict(zip(cols, r)) for r in rows]

    # -- what the platform has -----------------------------------------------------------------------
    def stored(self, node: str | None = None) -> list[tuple[str, str, str | None, str]]:
        """(node, rtype, own_code, canonical body) of every record the platform stored (of ``node``)."""
        q = "SELECT node_id, rtype, own_code, body FROM records"
        rows = self.platform.rows(q + (" WHERE node_id = ?" if node else "") + " ORDER BY id", (node,) if node else ())
        return [(a, b, c, canon(json.loads(d))) for a, b, c, d in rows]

    def expected(self, n: NodeUnderTest) -> tuple[set[str], set[str]]:
        """(canonical records accepted by the node's handheld intake, trace codes sold on its scales)."""
        recs = {c for (_, _, c, v) in n.handheld if v == "accepted"}
        codes = {s.trace_code for b in n.scales for (_, s, _) in b.sales}
        return recs, codes

    def missing(self, n: NodeUnderTest) -> tuple[set[str], set[str]]:
        recs, codes = self.expected(n)
        stored = self.stored(n.code)
        bodies = {b for (_, _, _, b) in stored}
        owns = {o for (_, _, o, _) in stored if o}
        return recs - bodies, codes - owns

    def _all_at_platform(self) -> bool:
        try:
            return all(not a and not b for a, b in (self.missing(n) for n in self.nodes.values()))
        except sqlite3.Error:
            return False

    # -- what the nodes sent -------------------------------------------------------------------------
    def uploads(self, node: str | None = None) -> list:
        """Every envelope POSTed to the upload path by a node under test, read with the profile."""
        if self._uploads is None:
            keys = dict(self.keys)
            ups = []
            for ex in self.recorder.snapshot():
                if ex.method != "POST" or ex.path != UPLOAD_PATH:
                    continue
                up = analyse_upload(self.spec, ex, keys.get)
                if up.node in self.nodes:
                    ups.append(up)
            self._uploads = ups
        return [u for u in self._uploads if node is None or u.node == node]

    def exchanges_of(self, node: str) -> list:
        return [u.ex for u in self.uploads(node)]

    # -- evidence and shutdown -----------------------------------------------------------------------
    def write_trace(self, path: Path, node: str | None = None, limit: int = 400) -> None:
        """The HTTP wire trace (uploads of the nodes under test) as JSON lines."""
        with open(path, "w", encoding="utf-8") as fh:
            for up in self.uploads(node)[:limit]:
                ex = up.ex
                fh.write(
                    json.dumps(
                        {
                            "t": ex.t,
                            "ms": round((ex.t_end - ex.t) * 1000, 2),
                            "phase": ex.phase,
                            "node": up.node,
                            "index": up.header.get("Index"),
                            "count": up.count,
                            "status": ex.status,
                            "outage": ex.outage,
                            "answer_code": up.answer_code,
                            "request": ex.body[:4096].decode("utf-8", "replace"),
                            "answer": ex.answer[:2048].decode("utf-8", "replace"),
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_nodes(list(self.nodes.values()))
        for b in self._scales():
            b.runner.stop()
            b.line.close()
        self.platform.stop()
