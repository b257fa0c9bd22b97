"""Locust users of a city's day: node uploaders, consumers and the city's monitoring screen.

Imported only by ``locustfile.py`` inside a Locust process.  Shared per-process state lives in
:data:`STATE` (set up by the locustfile's ``init`` listener):

* :class:`NodeUploader` (custom client, :mod:`.exchange`): takes the next *due* envelope of this
  process's share of the plan (:class:`~loadtests.workload.Workload`), stamps it for now, sends
  it and checks every record's verdict; ``503``/connection failures are retried (bounded), an
  uploader stopped mid-request puts its envelope back (marked uncertain: a later ``duplicate``
  for it means the lost answer had stored it).
* :class:`Consumer` (FastHttpUser): looks up trace codes in the proportions of ``traffic.toml``:
  codes this process has had acknowledged (by the kind of record that issued them), valid codes
  nobody issued (404) and mistyped ones (400), through the JSON API or the consumer page, paced
  to the model's retail sales curve; a sample of answers is validated against the profile.
* :class:`Monitor` (FastHttpUser): the city's dashboard reading statistics, KPIs and nodes.

Every wait is bounded (at most ``MAX_IDLE_S`` per task) and every request has a timeout.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
from collections import defaultdict

import gevent
from locust import User, task
from locust.contrib.fasthttp import FastHttpUser

from profiles.envelope import beijing
from simulators.platform.nodeauth import sign
from simulators.tls import gevent_options

from .exchange import ExchangeClient, Outcome
from .workload import DAY_S, parse_verdicts

MAX_IDLE_S = 0.25
_TLS = gevent_options()
TRACE_API = "GET /api/v1/trace/{code}"
TRACE_PAGE = "GET /trace?code="


class ProcessState:
    """Everything one Locust process shares between its users (filled by the locustfile)."""

    def __init__(self):
        self.profile = None
        self.workload = None
        self.traffic: dict = {}
        #: (id, key) of the regulator the monitor signs its reads as (--roucai-regulator), else None: unsigned
        self.regulator: tuple[str, str] | None = None
        self.meta: dict = {}
        self.duration = 60.0
        self.t0: float | None = None
        self.rng = random.Random(0)
        self.pools: dict[str, list[str]] = defaultdict(list)
        self.checks: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind -> [checked, failed]
        self.check_examples: list[dict] = []
        self.requests: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # name -> [requests, failures]
        self.lost = 0  # envelopes given up after all attempts
        self.refused = 0  # envelopes refused as a whole (4xx)
        self.reported = False
        self.lag: dict[str, int] = defaultdict(int)  # answered-after-due seconds (10 ms buckets) -> envelopes
        self.accepted_per_s: dict[int, int] = defaultdict(int)  # test second -> records accepted

    def elapsed(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def count(self, name: str, failed: bool) -> None:
        c = self.requests[name]
        c[0] += 1
        c[1] += failed

    def check(self, kind: str, problem: str | None, detail: dict | None = None) -> None:
        c = self.checks[kind]
        c[0] += 1
        if problem:
            c[1] += 1
            if len(self.check_examples) < 20:
                self.check_examples.append({"check": kind, "problem": problem, **(detail or {})})

    def sample(self, share: float) -> bool:
        return self.rng.random() < share


STATE = ProcessState()


def _now_cst() -> dt.datetime:
    return beijing(dt.datetime.now(dt.timezone.utc))


class NodeUploader(User):
    """Sends this process's share of the plan's envelopes when they are due (custom client)."""

    weight = 10

    def on_start(self):
        up = STATE.traffic["uploaders"]
        self.client = ExchangeClient(self.host, self.environment.events.request, timeout=float(up["timeout_s"]))

    def on_stop(self):
        self.client.close()

    @task
    def upload(self):
        wl = STATE.workload
        if wl is None or STATE.t0 is None:
            gevent.sleep(MAX_IDLE_S)
            return
        env, wait = wl.next_due(STATE.elapsed())
        if env is None:
            gevent.sleep(min(wait, MAX_IDLE_S))
            return
        wl.in_flight += 1
        done = False
        try:
            self._send(wl, env)
            done = True
        finally:
            wl.in_flight -= 1
            if not done:  # stopped mid-request (GreenletExit): the envelope goes back
                env.uncertain = True
                wl.retry.appendleft(env)

    def _send(self, wl, env) -> None:
        spec = STATE.profile.envelope
        up = STATE.traffic["uploaders"]
        env.attempts += 1
        body = wl.stamp(env, _now_cst())
        ctx = {"node": env.node, "rtype": env.rtype, "records": env.count}

        def judge(status: int, data: bytes):
            if status == 503:
                return Outcome("retry", status, data), f"HTTP 503 (not stored), attempt {env.attempts}"
            code, verdicts = parse_verdicts(data)
            if status != 200 or code != "0000":
                return Outcome("refused", status, data), f"HTTP {status}, ResultCode {code}"
            problems = wl.tally.check(env, verdicts, uncertain=env.uncertain)
            ctx.update(
                accepted=verdicts.count("accepted"),
                duplicate=verdicts.count("duplicate"),
                rejected=verdicts.count("rejected"),
            )
            if STATE.sample(float(up["sample"])):
                STATE.check("upload", _validate_upload(spec, data, env), {"node": env.node, "batch": env.index})
            return Outcome("done", status, data, tuple(verdicts)), ("; ".join(problems[:3]) or None)

        out = self.client.send(body, ctx, judge)
        STATE.count("upload", out.kind != "done")
        if out.kind == "done":
            t = STATE.elapsed()
            STATE.lag[f"{max(0.0, t - wl.due_at(env)):.2f}"] += 1
            STATE.accepted_per_s[int(t)] += out.verdicts.count("accepted")
            for kind, code in env.codes:
                STATE.pools[kind].append(code)
        elif out.kind == "retry" and env.attempts < int(up["attempts"]):
            env.uncertain = env.uncertain or out.status != 503
            gevent.sleep(min(0.05 * 2**env.attempts, 1.0))
            wl.retry.append(env)
        elif out.kind == "retry":
            STATE.lost += 1
        else:
            STATE.refused += 1


def _validate_upload(spec, data: bytes, env) -> str | None:
    """Full profile check of an upload answer (TRAN-ENV-09, TRAN-ENC-*); ``None`` if it conforms."""
    resp, findings = spec.parse_response(data)
    errs = [f for f in findings if f.severity == "error"]
    if errs:
        return f"{errs[0].rule} {errs[0].field}: {errs[0].en}"
    if resp.node_id != env.node:
        return f"NodeId {resp.node_id} is not {env.node}"
    if resp.count != env.count or len(resp.results) != env.count:
        return f"Count {resp.count} / {len(resp.results)} results for {env.count} records"
    return None


class Consumer(FastHttpUser):
    """Looks up trace codes, paced to the model's retail sales curve (see module doc)."""

    fixed_count = 1
    network_timeout = 30.0
    connection_timeout = 30.0
    insecure = _TLS["insecure"]  # --ca / --insecure of roucai load
    ssl_context_factory = staticmethod(_TLS["ssl_context_factory"])

    def on_start(self):
        self.rng = random.Random(f"consumer:{id(self)}:{STATE.rng.random()}")
        mix = STATE.traffic["consumers"]["mix"]
        self.kinds = sorted(mix)
        self.weights = [float(mix[k]) for k in self.kinds]

    def _rate(self) -> float:
        """Expected look-ups per second for this process at the current test time."""
        sales = STATE.meta.get("curve", {}).get("sales") or [0] * 24
        h = min(int(STATE.elapsed() / STATE.duration * 24), 23)
        hour_s = STATE.duration / 24.0
        share = float(STATE.traffic["consumers"]["scan_share"])
        parts = max(1, STATE.workload.parts if STATE.workload else 1)
        return sales[h] * share / hour_s / parts

    def wait_time(self):
        rate = self._rate()
        users = max(1, self.environment.runner.user_classes_count.get("Consumer", 1)) if self.environment.runner else 1
        if rate <= 0:
            return MAX_IDLE_S
        return min(self.rng.expovariate(rate / users), MAX_IDLE_S * 4)

    def _pick(self) -> tuple[str, str]:
        kinds = [k for k in self.kinds if k in ("miss", "typo") or STATE.pools.get(k)]
        weights = [self.weights[self.kinds.index(k)] for k in kinds]
        kind = self.rng.choices(kinds, weights=weights)[0]
        codes = STATE.profile.codes
        if kind == "miss":
            pool = STATE.pools.get("retail") or STATE.pools.get("wholesale") or []
            op = pool[self.rng.randrange(len(pool))][:13] if pool else None
            if op is None:
                return "typo", "1234567890"
            return kind, codes.trace_code(op, 9_000_000 + self.rng.randrange(999_999))
        if kind == "typo":
            pool = STATE.pools.get("retail") or []
            base = pool[self.rng.randrange(len(pool))] if pool else "12345678901234567890"
            i = self.rng.randrange(len(base))
            return kind, base[:i] + str((int(base[i]) + 1 + self.rng.randrange(8)) % 10) + base[i + 1 :]
        pool = STATE.pools[kind]
        return kind, pool[self.rng.randrange(len(pool))]

    @task
    def look_up(self):
        if STATE.t0 is None or STATE.profile is None:
            gevent.sleep(MAX_IDLE_S)
            return
        kind, code = self._pick()
        page = self.rng.random() < float(STATE.traffic["consumers"]["page_share"])
        want = {"miss": 404}.get(kind, 200)
        if kind == "typo":
            want = None  # a mistype may still be a valid code (the check digit catches most)
        path, name = (f"/trace?code={code}", TRACE_PAGE) if page else (f"/api/v1/trace/{code}", TRACE_API)
        with self.client.get(path, name=name, catch_response=True) as resp:
            problem = None
            if want is not None and resp.status_code != want:
                problem = f"HTTP {resp.status_code} for a {kind} code (want {want})"
            elif want is None and resp.status_code not in (200, 400, 404):
                problem = f"HTTP {resp.status_code} for a mistyped code"
            if problem is None and STATE.sample(float(STATE.traffic["uploaders"]["sample"])):
                problem = _validate_page(resp, code) if page else _validate_trace(resp, code, kind)
                STATE.check("trace", problem, {"code": code, "kind": kind})
            if problem:
                resp.failure(problem)
            else:
                resp.success()
            STATE.count("trace_page" if page else "trace", bool(problem))


def _validate_trace(resp, code: str, kind: str) -> str | None:
    """The JSON answer for ``code`` against the profile: status, the code itself, every code in the chain."""
    try:
        ans = json.loads(resp.content)
    except (TypeError, ValueError):
        return "trace answer is not JSON"
    if ans.get("code") != code:
        return f"answer is for {ans.get('code')!r}, not {code}"
    codes = STATE.profile.codes
    status = ans.get("status")
    want = {"invalid": 400, "unknown": 404, "found": 200}.get(status)
    if want != resp.status_code:
        return f"status {status!r} with HTTP {resp.status_code}"
    if status == "invalid":
        return None if not codes.is_valid(code, "trace") else "a valid code answered invalid"
    if not codes.is_valid(code, "trace"):
        return f"an invalid code answered {status}"
    if status == "found":
        chain = ans.get("chain") or []
        if not chain:
            return "found with an empty chain"
        for hop in chain:
            c = hop.get("code")
            if c and len(c) == 20 and not codes.is_valid(c, "trace"):
                return f"chain holds an invalid trace code {c}"
    elif kind in ("retail", "wholesale", "slaughter"):
        return f"an acknowledged code answered {status}"
    return None


def _validate_page(resp, code: str) -> str | None:
    text = resp.text or ""
    if code not in text:
        return "the page does not show the code"
    return None


class Monitor(FastHttpUser):
    """The city's dashboard: statistics, KPIs and nodes of the plan's business days."""

    fixed_count = 1
    network_timeout = 30.0
    connection_timeout = 30.0
    insecure = _TLS["insecure"]  # --ca / --insecure of roucai load
    ssl_context_factory = staticmethod(_TLS["ssl_context_factory"])

    def wait_time(self):
        return float(STATE.traffic["monitors"]["period_s"])

    @task
    def read(self):
        if not STATE.meta:
            gevent.sleep(MAX_IDLE_S)
            return
        start = dt.date.fromisoformat(STATE.meta["start"])
        date = (start + dt.timedelta(days=random.randrange(STATE.meta["days"]))).strftime("%Y%m%d")
        for path, name, key in (
            (f"/api/v1/stats/totals?date={date}", "GET /api/v1/stats/totals", "by_node"),
            (f"/api/v1/kpis?date={date}", "GET /api/v1/kpis", "report_rate"),
            ("/api/v1/nodes", "GET /api/v1/nodes", "nodes"),
        ):
            headers = None
            if STATE.regulator is not None:  # the reads answer a regulator only (docs/regulator.md)
                headers = sign(STATE.profile.envelope, STATE.regulator[1], STATE.regulator[0], "GET", path)
            with self.client.get(path, name=name, catch_response=True, headers=headers) as resp:
                problem = None if resp.status_code == 200 else f"HTTP {resp.status_code}"
                if problem is None:
                    try:
                        if key not in json.loads(resp.content):
                            problem = f"no {key!r} in the answer"
                    except (TypeError, ValueError):
                        problem = "not JSON"
                    STATE.check("monitor", problem, {"path": path})
                if problem:
                    resp.failure(problem)
                STATE.count("monitor", bool(problem))


def users_needed(meta: dict, traffic: dict, duration: float, parts: int, hour: int) -> dict[str, int]:
    """Users per class at clock ``hour`` of the compressed day (the shape's sizing rule)."""
    hour_s = duration / 24.0
    env_rate = meta["curve"]["envelopes"][hour] / hour_s
    up = traffic["uploaders"]
    n_up = max(int(up["min_per_part"]) * parts, math.ceil(env_rate * float(up["concurrency_s"])))
    n_up = min(n_up, max(int(up["max"]), int(up["min_per_part"]) * parts))
    con = traffic["consumers"]
    peak_q = max(meta["curve"]["sales"]) * float(con["scan_share"]) / hour_s
    n_con = min(int(con["max"]), math.ceil(peak_q * float(con["concurrency_s"])) + 1)
    return {"NodeUploader": n_up, "Consumer": max(n_con, parts), "Monitor": int(traffic["monitors"]["users"])}


__all__ = ["STATE", "NodeUploader", "Consumer", "Monitor", "users_needed", "DAY_S"]
