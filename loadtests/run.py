"""Orchestrate one load test: plan → platform → Locust (subprocesses) → SLO gates → reconciliation → report.

:func:`run` never imports locust: Locust runs as child processes (one local process, or a master
and ``workers`` workers, all bound to 127.0.0.1), each in its own session so that every one of
them is killed at the end whatever happens.  Every wait is bounded: the Locust run by
``duration + drain + START_MARGIN_S``, the platform's start by its launcher, HTTP calls by timeouts.

Exit codes: 0 every SLO met and reconciled; 1 an SLO breached or the data did not reconcile (the
target is at fault); 2 usage or configuration (bad option, SLO file, target, preset, keys);
3 harness error (Locust failed or timed out, a load process's summary or statistics were lost).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from profiles.errors import RoucaiError
from simulators.tls import client_verify

from . import reconcile as rec
from . import bottleneck
from .plan import PlanError, prepare, read_meta, read_truth
from .report import render, write_summary
from .slo import SloError, judge, load_slo, percentile

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
START_MARGIN_S = 120.0
EXIT_OK, EXIT_BREACH, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3


class LoadError(RoucaiError):
    """The load test cannot run (``code`` 2) or could not complete (``code`` 3); ``code`` is ``exit_code``."""

    def __init__(self, zh: str, en: str, code: int = EXIT_USAGE):
        super().__init__(zh, en, code)

    @property
    def code(self) -> int:
        return self.exit_code


@dataclass
class LoadOptions:
    """One run.  ``duration``: seconds the day is compressed into; ``workers``: 0 = one local
    Locust process, N = a master and N workers on 127.0.0.1."""

    target: str = "builtin"
    preset: str = "lanzhou"
    scale: float = 1.0
    duration: float = 900.0
    slo: str | None = None
    workers: int = 0
    seed: int = 1
    report: str | None = None
    keys: str | None = None
    cache: str | None = None
    drain: float | None = None
    traffic: str | None = None
    extra_env: dict = field(default_factory=dict)
    keep_db: bool = False
    #: an external target's regulator (id, key file) the monitor and the reconciliation sign their reads as
    #: (docs/regulator.md); without it they read unsigned.  The built-in platform registers its own.
    regulator: str | None = None
    regulator_key_file: str | None = None


_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|)\s*$")


def parse_duration(text: str) -> float:
    """``"15m"``, ``"60s"``, ``"1h"`` or plain seconds → seconds (10 s .. 24 h)."""
    m = _DUR.match(str(text))
    if not m:
        raise LoadError(
            f"--duration 格式应为 60s、15m 或 1h：{text!r}", f"--duration must look like 60s, 15m or 1h: {text!r}"
        )
    secs = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    if not 10 <= secs <= 86400:
        raise LoadError("--duration 须在 10 秒到 24 小时之间", "--duration must be between 10 s and 24 h")
    return secs


#: the proof-side launcher of a broken platform (a process, named, not imported: loadtests and conformance are
#: independent layers); it exits 2 with a bilingual line for an unknown variant
VARIANT_LAUNCHER = "conformance.proofs.platform_variant"


def parse_target(text: str) -> tuple[str | None, str | None]:
    """``(url, variant)``: ``url`` is ``None`` for ``builtin`` (``builtin?variant=NAME`` names a
    deliberately broken reference platform, served by :data:`VARIANT_LAUNCHER`)."""
    u = urlsplit(text or "builtin")
    if u.scheme == "" and u.path == "builtin":
        q = parse_qs(u.query)
        return None, (q.get("variant") or [None])[0]
    if u.scheme in ("http", "https") and u.hostname:
        return text.rstrip("/"), None
    raise LoadError(
        f"--target 应为 builtin 或 http://主机:端口：{text!r}",
        f"--target must be builtin or http://host:port: {text!r}",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _locust_bin() -> str:
    cand = Path(sys.executable).with_name("locust")
    found = str(cand) if cand.exists() else shutil.which("locust")
    if not found:
        raise LoadError(
            "未安装 locust（pip install 'roucai-harness[load]'）",
            "locust is not installed (pip install 'roucai-harness[load]')",
        )
    return found


def _kill(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)


def locust_commands(
    opts: LoadOptions,
    url: str,
    plan_dir: Path,
    keys: Path,
    report: Path,
    drain: float,
    master_port: int,
    regulator: Path | None = None,
) -> tuple[list[str], list[list[str]]]:
    """The master (or local) command and the worker commands; ``regulator``: the JSON file of the regulator the
    monitor signs its reads as (:func:`regulator_file`), or ``None`` (unsigned)."""
    loc = _locust_bin()
    parts = max(1, opts.workers)
    ours = [
        *(["--roucai-regulator", str(regulator)] if regulator else []),
        "--roucai-plan",
        str(plan_dir),
        "--roucai-keys",
        str(keys),
        "--roucai-duration",
        f"{opts.duration:g}",
        "--roucai-drain",
        f"{drain:g}",
        "--roucai-parts",
        str(parts),
        "--roucai-seed",
        str(opts.seed),
    ]
    if opts.traffic:
        ours += ["--roucai-traffic", str(opts.traffic)]
    out = report / "locust"
    main = [
        loc,
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "--json-file",
        str(out),
        "--csv",
        str(out),
        "--csv-full-history",
        "--html",
        str(report / "locust.html"),
        "--stop-timeout",
        "5",
        "--loglevel",
        "WARNING",
        "--logfile",
        str(report / "locust-master.log"),
        "--roucai-report",
        str(report),
        *ours,
    ]
    workers = []
    if opts.workers:
        main += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(opts.workers),
            "--expect-workers-max-wait",
            "90",
        ]
        for k in range(opts.workers):
            workers.append(
                [
                    loc,
                    "-f",
                    str(LOCUSTFILE),
                    "--worker",
                    "--master-host",
                    "127.0.0.1",
                    "--master-port",
                    str(master_port),
                    "--loglevel",
                    "WARNING",
                    "--logfile",
                    str(report / f"locust-worker-{k}.log"),
                    *ours,
                ]
            )
    return main, workers


def _import_city(plan_dir: Path, db: Path, keys: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "roucai.cli",
        "serve",
        "admin",
        "--db",
        str(db),
        "import-city",
        str(plan_dir / "city.json"),
        "--keys-out",
        str(keys),
    ]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=300)
    if r.returncode != 0:
        raise LoadError(
            "导入城市失败：" + r.stderr.decode("utf-8", "replace")[-500:],
            "importing the city failed: " + r.stderr.decode("utf-8", "replace")[-500:],
            EXIT_HARNESS,
        )


def external_regulator(opts: LoadOptions) -> tuple[str, str] | None:
    """``(id, key)`` of ``--regulator`` / ``--regulator-key-file`` (an external target's), ``None`` without them;
    LoadError (exit 2) when only one is given or the key file cannot be read or is empty."""
    if not (opts.regulator or opts.regulator_key_file):
        return None
    if not (opts.regulator and opts.regulator_key_file):
        raise LoadError(
            "--regulator 与 --regulator-key-file 须同时给出", "--regulator and --regulator-key-file go together"
        )
    try:
        key = Path(opts.regulator_key_file).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        key, why = "", str(exc)
    else:
        why = "empty"
    if not key:
        raise LoadError(
            f"无法读取监管部门密钥文件 {opts.regulator_key_file}：{why}",
            f"cannot read the regulator key file {opts.regulator_key_file}: {why}",
        )
    return opts.regulator, key


def regulator_file(report: Path, db: Path | None, keys: Path, external: tuple[str, str] | None) -> Path | None:
    """``report/regulator.json`` = ``{"regulator_id", "key"}`` (owner-only) of the regulator the monitor and the
    reconciliation read as: the built-in platform's (``db``), registered here for the city of the plan's nodes
    (its prefecture), else ``external`` (:func:`external_regulator`); ``None`` when an external target has none."""
    from simulators.platform.filemode import write_private

    if db is not None:
        from simulators.platform import admin
        from simulators.platform.regulators import Regulators

        nodes = json.loads(keys.read_text("utf-8"))
        rid = next(iter(nodes.get("keys", nodes)), "650100")[:4] + "00"
        with admin.registry(str(db)) as reg:
            key = Regulators(reg.store, reg.secret, reg.profile).register(rid, "负载测试监管部门")
    elif external is not None:
        rid, key = external
    else:
        return None
    out = report / "regulator.json"
    write_private(out, json.dumps({"regulator_id": rid, "key": key}).encode("utf-8"))
    return out


def _health(url: str) -> None:
    try:
        r = httpx.get(url + "/healthz", timeout=10, verify=client_verify())
    except httpx.HTTPError as exc:
        raise LoadError(
            f"无法连接目标平台 {url}：{exc}", f"cannot reach the target platform {url}: {exc}", EXIT_HARNESS
        ) from None
    if r.status_code != 200:
        raise LoadError(
            f"目标平台 {url}/healthz 返回 {r.status_code}", f"{url}/healthz answered {r.status_code}", EXIT_HARNESS
        )


def run(opts: LoadOptions, say=lambda zh, en: None, progress=None) -> tuple[int, dict]:
    """Run the test; returns ``(exit code, summary)``.  Raises :class:`LoadError` for usage/config
    problems found before anything started (exit 2) and harness failures (exit 3).

    ``say(zh, en)`` reports each phase; ``progress(zh, en, fraction)`` the steps of building the plan."""
    from simulators.platform.launcher import LaunchError, PlatformProcess

    slo = _slo(opts.slo)
    url, variant = parse_target(opts.target)
    if opts.workers < 0 or opts.workers > 64:
        raise LoadError("--workers 须在 0 到 64 之间", "--workers must be 0..64")
    if url and not opts.keys:
        raise LoadError(
            "外部平台需要 --keys（节点编码到密钥的 JSON 文件）",
            "an external target needs --keys (JSON file: node code -> key)",
        )
    ext_keys = _external_keys(opts.keys) if url else None
    ext_regulator = external_regulator(opts) if url else None
    if url:
        _health(url)  # unreachable: exit 3 before minutes of planning
    drain = opts.drain if opts.drain is not None else max(10.0, min(120.0, 0.25 * opts.duration))
    say(
        f"准备负载计划：{opts.preset} × {opts.scale:g}（种子 {opts.seed}）",
        f"preparing the load plan: {opts.preset} x {opts.scale:g} (seed {opts.seed})",
    )
    try:
        plan_dir = prepare(opts.preset, opts.seed, opts.scale, opts.cache, progress=progress)
    except PlanError as exc:
        raise LoadError(exc.zh, exc.en) from None
    meta = read_meta(plan_dir)
    if ext_keys is not None:
        _keys_cover(ext_keys, plan_dir, opts)
    report = Path(opts.report or f"load-report-{dt.datetime.now():%Y%m%d-%H%M%S}").resolve()
    report.mkdir(parents=True, exist_ok=True)  # only now: a usage error above leaves no empty report folder
    for old in ("parts", "locust.json", "summary.json", "pids.json"):
        p = report / old
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    say(
        f"计划：{meta['envelopes']} 个报文、{meta['sends']} 条记录、{meta['nodes']} 个节点，压缩到 {opts.duration:g} 秒",
        f"plan: {meta['envelopes']} envelopes, {meta['sends']} records, {meta['nodes']} nodes, compressed into {opts.duration:g} s",
    )
    procs: list[subprocess.Popen] = []
    with ExitStack() as stack:
        stack.callback(_kill, procs)
        db = None
        if url is None:
            db = report / "platform.db"
            for suffix in ("", "-wal", "-shm", ".secret"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            keys = report / "keys.json"
            _import_city(plan_dir, db, keys)
            try:
                plat = stack.enter_context(
                    PlatformProcess(
                        str(db),
                        args=["--log-level", "warning"],
                        cwd=str(ROOT),
                        env=opts.extra_env,
                        command=[sys.executable, "-m", VARIANT_LAUNCHER, variant] if variant else None,
                        log_file=report / "platform.log",
                    )
                )
            except LaunchError as exc:
                raise LoadError(
                    f"参考平台未能启动：{exc}", f"the reference platform did not start: {exc}", EXIT_HARNESS
                ) from None
            url = plat.url
            say(
                f"参考平台：{url}" + (f"（缺陷变体 {variant}）" if variant else ""),
                f"reference platform: {url}" + (f" (broken variant {variant})" if variant else ""),
            )
        else:
            keys = Path(opts.keys)
        regulator = regulator_file(report, db, keys, ext_regulator)
        _health(url)
        main, workers = locust_commands(opts, url, plan_dir, keys, report, drain, _free_port(), regulator)
        (report / "commands.json").write_text(json.dumps({"master": main, "workers": workers}, indent=1), "utf-8")
        say(
            f"Locust：{'本地单进程' if not workers else f'主控 + {len(workers)} 个工作进程'}，{opts.duration:g} 秒 + 收尾 ≤ {drain:g} 秒",
            f"Locust: {'one local process' if not workers else f'master + {len(workers)} workers'}, {opts.duration:g} s + drain <= {drain:g} s",
        )
        t_start = time.monotonic()
        plat_pid = plat.proc.pid if db is not None else bottleneck.local_pid(url)
        sampler = bottleneck.Sampler(
            lambda: [p.pid for p in procs], plat_pid, url + "/healthz", verify=client_verify()
        ).start()
        stack.callback(sampler.stop)
        with open(report / "locust-master.out", "wb") as mout:
            procs.append(
                subprocess.Popen(main, cwd=ROOT, stdout=mout, stderr=subprocess.STDOUT, start_new_session=True)
            )
            for k, w in enumerate(workers):
                wout = stack.enter_context(open(report / f"locust-worker-{k}.out", "wb"))
                procs.append(
                    subprocess.Popen(w, cwd=ROOT, stdout=wout, stderr=subprocess.STDOUT, start_new_session=True)
                )
            (report / "pids.json").write_text(
                json.dumps({"master": procs[0].pid, "workers": [p.pid for p in procs[1:]]}), "utf-8"
            )
            limit = opts.duration + drain + START_MARGIN_S
            try:
                locust_rc = procs[0].wait(limit)
            except subprocess.TimeoutExpired:
                raise LoadError(
                    f"Locust 超过 {limit:g} 秒未结束，已终止",
                    f"Locust did not finish within {limit:g} s; killed",
                    EXIT_HARNESS,
                ) from None
        for p in procs[1:]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                pass
        wall = time.monotonic() - t_start
        limit_found = bottleneck.judge(sampler.stop())
        try:
            stats = json.loads((report / "locust.json").read_text("utf-8"))
        except (OSError, ValueError):
            tail = (report / "locust-master.out").read_text("utf-8", "replace")[-800:]
            raise LoadError(
                f"Locust 未写出结果（退出码 {locust_rc}）：{tail}",
                f"Locust wrote no results (exit {locust_rc}): {tail}",
                EXIT_HARNESS,
            ) from None
        parts = [json.loads(p.read_text("utf-8")) for p in sorted((report / "parts").glob("part-*.json"))]
        say("对账中", "reconciling")
        dates = sorted({c.split("|")[1] for c in read_truth(plan_dir)["cells"]})
        try:
            stored = rec.stored_by_api(url, dates, regulator=regulator)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise LoadError(
                f"读取平台统计失败：{exc}", f"reading the platform's statistics failed: {exc}", EXIT_HARNESS
            ) from None
        records = rec.record_level(plan_dir, db) if db is not None else None
    if db is not None and not opts.keep_db:  # the reference platform's database: tens of MB, kept on request
        for suffix in ("", "-wal", "-shm", ".secret"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    recon = rec.reconcile(plan_dir, parts, stored, records)
    stats_check = rec.check_stats(stats, parts, max(1, opts.workers))
    facts = facts_of(stats, parts, meta, opts.duration, recon)
    breaches = judge(slo, facts)
    summary = _summary(
        opts,
        meta,
        plan_dir,
        report,
        url if opts.target != "builtin" else "builtin",
        variant,
        stats,
        parts,
        facts,
        recon,
        stats_check,
        breaches,
        locust_rc,
        wall,
        drain,
    )
    summary["bottleneck"] = limit_found
    code = EXIT_HARNESS if not stats_check["ok"] else (EXIT_BREACH if breaches else EXIT_OK)
    summary["exit_code"] = code
    summary["verdict"] = {EXIT_OK: "pass", EXIT_BREACH: "fail", EXIT_HARNESS: "error"}[code]
    write_summary(report / "summary.json", summary)
    try:
        render(
            report / "load.png",
            stats,
            report / "locust_stats_history.csv",
            meta["curve"]["envelopes"],
            opts.duration,
            f"roucai load: {opts.preset} x {opts.scale:g} in {opts.duration:g} s against "
            f"{summary['target']} ({summary['verdict']})",
        )
    except (OSError, ValueError) as exc:  # the plot is an extra: never lose the verdict to it
        summary["plot_error"] = str(exc)
    return code, summary


def _external_keys(path: str) -> dict[str, str]:
    """The keys file of an external target, validated before anything runs (LoadError exit 2 with why)."""
    from simulators.market.errors import MarketConfigError
    from simulators.market.upload import load_keys

    try:
        return load_keys(path)
    except MarketConfigError as exc:
        raise LoadError(exc.zh, exc.en) from None


def _keys_cover(keys: dict[str, str], plan_dir: Path, opts: LoadOptions) -> None:
    """Every node of the plan has a key, else nothing could be uploaded: exit 2 naming the mismatch."""
    nodes = {n["code"] for n in json.loads((plan_dir / "city.json").read_text("utf-8"))["nodes"]}
    missing = sorted(nodes - set(keys))
    if missing:
        raise LoadError(
            f"密钥文件 {opts.keys} 缺少计划中 {len(missing)}/{len(nodes)} 个节点的密钥（如 {missing[0]}）："
            f"--preset {opts.preset} --seed {opts.seed} 与平台导入的城市不一致？",
            f"the keys file {opts.keys} has no key for {len(missing)} of the plan's {len(nodes)} nodes (e.g. "
            f"{missing[0]}): does --preset {opts.preset} --seed {opts.seed} match the city the platform imported?",
        )


def _slo(path: str | None) -> dict:
    try:
        return load_slo(path)
    except SloError as exc:
        raise LoadError(exc.zh, exc.en) from None


def facts_of(stats: list[dict], parts: list[dict], meta: dict, duration: float, recon: dict) -> dict:
    """What :func:`loadtests.slo.judge` needs, from Locust's totals and the processes' summaries."""
    eps = {
        e["name"]: {
            "requests": e["num_requests"],
            "failures": e["num_failures"],
            "hist": dict(e.get("response_times") or {}),
        }
        for e in stats
    }
    lag: dict[str, int] = {}
    checks: dict[str, list[int]] = {}
    per_s: dict[int, int] = {}
    for p in parts:
        for k, v in p["lag"].items():
            lag[k] = lag.get(k, 0) + v
        for k, (a, b) in p["checks"].items():
            c = checks.setdefault(k, [0, 0])
            c[0] += a
            c[1] += b
        for s, n in p["accepted_per_s"].items():
            per_s[int(s)] = per_s.get(int(s), 0) + n

    def peak(window: float) -> float:
        w = max(1, int(window))
        if not per_s:
            return 0.0
        end = max(per_s) + 1
        best = run = sum(per_s.get(s, 0) for s in range(min(w, end)))
        for s in range(w, end):
            run += per_s.get(s, 0) - per_s.get(s - w, 0)
            best = max(best, run)
        return best / w

    answered = sum(p["total"] - p["unsent"] - p["in_flight"] - p["lost"] - p["refused"] for p in parts)
    return {
        "endpoints": eps,
        "lag_hist": lag,
        "hour_s": duration / 24.0,
        "planned": meta["envelopes"],
        "answered": answered,
        "peak_records_per_s": peak,
        "checks": checks,
        "wrong_verdicts": sum(p["wrong_count"] for p in parts),
        "reconciled": recon["ok"],
        "reconcile_reason": recon["reason"],
    }


def _summary(
    opts,
    meta,
    plan_dir,
    report,
    target,
    variant,
    stats,
    parts,
    facts,
    recon,
    stats_check,
    breaches,
    locust_rc,
    wall,
    drain,
) -> dict:
    eps = {}
    for e in stats:
        h = e.get("response_times") or {}
        span = max(1e-9, (e.get("last_request_timestamp") or 0) - (e.get("start_time") or 0))
        eps[e["name"]] = {
            "requests": e["num_requests"],
            "failures": e["num_failures"],
            "rps": round(e["num_requests"] / span, 2) if e["num_requests"] > 1 else None,
            **{k: percentile(h, q) for k, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))},
            "max_ms": round(e.get("max_response_time") or 0, 1),
        }
    to_min = 60.0 / facts["hour_s"]
    lag = facts["lag_hist"]
    return {
        "target": target,
        "variant": variant,
        "preset": opts.preset,
        "scale": opts.scale,
        "seed": opts.seed,
        "duration_s": opts.duration,
        "drain_s": drain,
        "workers": opts.workers,
        "wall_s": round(wall, 1),
        "slo_file": str(Path(opts.slo).resolve()) if opts.slo else "loadtests/slo-default.toml",
        "plan": {
            k: meta[k] for k in ("preset", "seed", "scale", "days", "start", "envelopes", "sends", "unique", "nodes")
        }
        | {"dir": str(plan_dir)},
        "endpoints": eps,
        "uploads": {
            "planned": facts["planned"],
            "answered": facts["answered"],
            "lag_model_min": {
                "p50": _m(percentile(lag, 0.5), to_min),
                "p95": _m(percentile(lag, 0.95), to_min),
                "max": _m(percentile(lag, 1.0), to_min),
            },
            "peak_records_per_s_5s": round(facts["peak_records_per_s"](5), 1),
            "wrong_verdicts": facts["wrong_verdicts"],
            "wrong_examples": [w for p in parts for w in p["wrong"]][:10],
        },
        "checks": facts["checks"],
        "check_examples": [c for p in parts for c in p["check_examples"]][:10],
        "reconcile": recon,
        "stats_check": stats_check,
        "breaches": [b.to_dict() for b in breaches],
        "locust_exit_code": locust_rc,
        "files": {
            "report": str(report),
            "summary": "summary.json",
            "plot": "load.png",
            "locust_html": "locust.html",
            "locust_json": "locust.json",
            "history_csv": "locust_stats_history.csv",
        },
    }


def _m(v, to_min):
    return None if v is None else round(v * to_min, 1)
