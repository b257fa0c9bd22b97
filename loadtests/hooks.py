"""Locust event listeners: options, per-process set-up, drain signals and the per-process summaries.

Registered on import (by ``locustfile.py`` and ``benchfile.py``).  Options (``--roucai-*``, given to
the master *and* to every worker; the master's values reach the workers with each spawn):

``--roucai-plan DIR`` (a :mod:`loadtests.plan` directory), ``--roucai-keys FILE`` (JSON node → key),
``--roucai-duration S`` (the day's compressed length), ``--roucai-drain S`` (the most the shape
waits after it for the last answers), ``--roucai-parts N`` (load-generating processes: 1 for a
local run, the number of workers otherwise; worker ``k`` sends partition ``k``),
``--roucai-report DIR`` (where the master or local process writes ``parts/part-K.json``),
``--roucai-traffic FILE`` (default ``loadtests/traffic.toml``), ``--roucai-seed N``,
``--roucai-mode day|bench`` (``bench``: uploaders cycle through the plan without pacing).

Summaries: at ``test_stop`` each load-generating process reports what it sent and what came back
(:func:`summary`); a worker sends it to the master as the custom message ``roucai_summary``, which
writes it; a local runner writes it itself.  ``roucai_drained`` tells the master a partition is done.
A worker whose summary never arrives is therefore visible (its file is missing), and its request
counts can be compared with the master's Locust totals (``loadtests.reconcile``).
"""

from __future__ import annotations

import json
import os
import random
import time
import tomllib
from pathlib import Path

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from .users import STATE, Consumer, Monitor, users_needed
from .workload import Workload

TRAFFIC = Path(__file__).with_name("traffic.toml")


class Hooks:
    def __init__(self):
        self.ready = False
        self.mode = "day"
        self.duration = 60.0
        self.drain = 30.0
        self.parts = 1
        self.users_by_hour = [1] * 24
        self.drained: set[int] = set()
        self.report: Path | None = None
        self.is_master = False

    def all_drained(self) -> bool:
        return len(self.drained) >= self.parts


HOOKS = Hooks()


@events.init_command_line_parser.add_listener
def _options(parser):
    g = parser.add_argument_group("roucai")
    g.add_argument("--roucai-plan", default="", help="load plan directory (loadtests.plan)")
    g.add_argument("--roucai-keys", default="", help="JSON file: node code -> key")
    g.add_argument("--roucai-regulator", default="", help="JSON file {regulator_id, key}: the monitor signs as it")
    g.add_argument("--roucai-duration", type=float, default=60.0, help="seconds the day is compressed into")
    g.add_argument("--roucai-drain", type=float, default=30.0, help="most seconds to wait for the last answers")
    g.add_argument("--roucai-parts", type=int, default=1, help="load-generating processes (workers, or 1)")
    g.add_argument("--roucai-report", default="", help="directory for the per-process summaries")
    g.add_argument("--roucai-traffic", default="", help="traffic.toml")
    g.add_argument("--roucai-seed", type=int, default=1)
    g.add_argument("--roucai-mode", default="day", choices=["day", "bench"])


def _load_traffic(path: str) -> dict:
    return tomllib.loads(Path(path or TRAFFIC).read_text("utf-8"))


@events.init.add_listener
def _init(environment, runner=None, **_kw):
    from profiles import load_profile
    from .plan import read_meta

    o = environment.parsed_options
    if o is None or not o.roucai_plan:
        return
    HOOKS.mode = o.roucai_mode
    HOOKS.duration = float(o.roucai_duration)
    HOOKS.drain = float(o.roucai_drain)
    HOOKS.parts = max(1, int(o.roucai_parts))
    HOOKS.report = Path(o.roucai_report) if o.roucai_report else None
    STATE.traffic = _load_traffic(o.roucai_traffic)
    STATE.meta = read_meta(o.roucai_plan)
    STATE.duration = HOOKS.duration
    STATE.profile = load_profile()
    if o.roucai_regulator:
        who = json.loads(Path(o.roucai_regulator).read_text("utf-8"))
        STATE.regulator = (who["regulator_id"], who["key"])
    if isinstance(runner, MasterRunner):
        HOOKS.is_master = True
        runner.register_message("roucai_summary", _on_summary)
        runner.register_message("roucai_drained", lambda msg, **kw: HOOKS.drained.add(int(msg.data)))
    else:
        part = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        STATE.rng = random.Random(f"{o.roucai_seed}:{part}")
        keys = json.loads(Path(o.roucai_keys).read_text("utf-8")) if o.roucai_keys else {}
        keys = keys.get("keys", keys)
        t = time.monotonic()
        STATE.workload = Workload(
            STATE.profile.envelope,
            o.roucai_plan,
            keys,
            HOOKS.duration if HOOKS.mode == "day" else 1e-9,
            part,
            HOOKS.parts,
            cycle=HOOKS.mode == "bench",
        )
        STATE.workload.load_s = round(time.monotonic() - t, 3)
    need = [users_needed(STATE.meta, STATE.traffic, HOOKS.duration, HOOKS.parts, h) for h in range(24)]
    Consumer.fixed_count = max(n["Consumer"] for n in need) if HOOKS.mode == "day" else 0
    Monitor.fixed_count = need[0]["Monitor"] if HOOKS.mode == "day" else 0
    HOOKS.users_by_hour = [sum(n.values()) for n in need]
    HOOKS.ready = True


@events.test_start.add_listener
def _start(environment, **_kw):
    if STATE.workload is None or STATE.t0 is not None:
        return
    STATE.t0 = time.monotonic()
    if HOOKS.mode == "day":
        gevent.spawn(_watch_drain, environment)


def _watch_drain(environment) -> None:
    """Tell the master (or the local shape) once this partition is sent and answered; bounded in time."""
    wl, runner = STATE.workload, environment.runner
    deadline = HOOKS.duration + HOOKS.drain + 60.0
    while STATE.elapsed() < deadline:
        if STATE.elapsed() >= HOOKS.duration and wl.drained:
            if isinstance(runner, WorkerRunner):
                runner.send_message("roucai_drained", wl.part)
            else:
                HOOKS.drained.add(wl.part)
            return
        gevent.sleep(0.2)


def summary() -> dict:
    """What this process sent and what came back (the worker's report to the master)."""
    wl = STATE.workload
    t = wl.tally
    return {
        "part": wl.part,
        "parts": wl.parts,
        "pid": os.getpid(),
        "total": wl.total,
        "unsent": wl.unsent(),
        "in_flight": wl.in_flight,
        "lost": STATE.lost,
        "refused": STATE.refused,
        "no_key": sorted(wl.no_key),
        "load_s": getattr(wl, "load_s", None),
        "requests": dict(STATE.requests),
        "checks": dict(STATE.checks),
        "check_examples": STATE.check_examples,
        "acks": dict(t.cells),
        "wrong": t.wrong,
        "wrong_count": t.wrong_count,
        "missing": t.missing(),
        "planned_unique": len(t.planned),
        "lag": dict(STATE.lag),
        "accepted_per_s": {str(k): v for k, v in sorted(STATE.accepted_per_s.items())},
    }


@events.test_stop.add_listener
def _stop(environment, **_kw):
    if STATE.workload is None or STATE.reported:
        return
    STATE.reported = True
    data = summary()
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message("roucai_summary", data)
    else:
        _write(data)


def _on_summary(msg, **_kw):
    _write(msg.data)


def _write(data: dict) -> None:
    if HOOKS.report is None:
        return
    d = HOOKS.report / "parts"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".part-{data['part']}.json"
    tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    tmp.replace(d / f"part-{data['part']}.json")
