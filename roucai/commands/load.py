"""``roucai load``: a city's day against a platform, judged by SLO gates and reconciled.

    roucai load --target builtin --duration 60s
    roucai load --target http://127.0.0.1:8553 --keys keys.json --preset lanzhou --scale 10 --duration 15m
    roucai load --workers 2 --slo my-slo.toml --report out/load
    roucai load --target https://127.0.0.1:8553 --keys keys.json --ca tls/cert.pem --duration 60s

This process never imports locust: :mod:`loadtests.run` starts Locust as subprocesses.  Exit codes:
0 every SLO met and reconciled; 1 an SLO breached or the data did not reconcile (each breach names
its threshold); 2 usage or configuration; 3 harness error (Locust failed or timed out, statistics or
a load process's summary lost).  ``--json`` prints the summary (also written to REPORT/summary.json).
"""

from __future__ import annotations

from pathlib import Path

from ..console import EXIT_HARNESS, UsageError
from ..progress import Progress
from ._tls import add_arguments as add_tls_arguments
from ._tls import trust_of


def register(sub, common):
    p = sub.add_parser("load", parents=[common], help="load test a platform with a city's day / 负载测试")
    p.add_argument(
        "--target", default="builtin", help="builtin, builtin?variant=NAME or http://host:port (default builtin)"
    )
    p.add_argument("--keys", help="JSON file node code -> key (needed for an external --target)")
    p.add_argument(
        "--regulator",
        help="an external target's regulator id: the monitor and the reconciliation sign their reads as it "
        "(with --regulator-key-file; docs/load.md)",
    )
    p.add_argument("--regulator-key-file", help="file holding the --regulator's key")
    add_tls_arguments(p)
    p.add_argument("--preset", default="lanzhou", help="city preset (default lanzhou)")
    p.add_argument("--scale", default="1", help="times the city's daily traffic, 0 < F <= 31 (default 1)")
    p.add_argument("--duration", default="15m", help="the day compressed into this: 60s, 15m, 1h (default 15m)")
    p.add_argument("--drain", help="most seconds to wait for the last answers after the day (default 25%%, 10..120 s)")
    p.add_argument("--slo", help="SLO file (TOML; default loadtests/slo-default.toml)")
    p.add_argument("--workers", default="0", help="Locust workers on 127.0.0.1 (0 = one local process)")
    p.add_argument("--seed", default="1", help="seed of the city and its day (default 1)")
    p.add_argument("--report", help="report directory (default ./load-report-TIMESTAMP)")
    p.add_argument("--cache", help="plan cache directory (default ~/.cache/roucai-harness/load)")
    p.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the built-in platform's database in the report (tens of MB; removed by default)",
    )
    p.set_defaults(func=run_load)


def _num(text: str, name: str, kind=float):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise UsageError(f"{name} 应为数字：{text!r}", f"{name} must be a number: {text!r}") from None


def _abs(path: str | None) -> str | None:
    """A path given relative to the user's directory, made absolute: Locust runs from the project root."""
    return str(Path(path).expanduser().resolve()) if path else None


def run_load(args, con) -> int:
    from loadtests.run import LoadError, LoadOptions, parse_duration, run

    try:
        opts = LoadOptions(
            target=args.target,
            preset=args.preset,
            scale=_num(args.scale, "--scale"),
            duration=parse_duration(args.duration),
            slo=_abs(args.slo),
            workers=_num(args.workers, "--workers", int),
            seed=_num(args.seed, "--seed", int),
            report=args.report,
            keys=_abs(args.keys),
            cache=_abs(args.cache),
            drain=_num(args.drain, "--drain") if args.drain else None,
            keep_db=args.keep_db,
            regulator=args.regulator,
            regulator_key_file=_abs(args.regulator_key_file),
        )
        if opts.seed < 0:
            raise UsageError("--seed 不能为负数", "--seed must not be negative")
        with trust_of(args), Progress(con.lang, quiet=con.as_json) as progress:
            code, summary = run(opts, say=lambda zh, en: con.say(zh, en), progress=progress)
    except LoadError as exc:
        if exc.code == EXIT_HARNESS:
            con.err("负载测试未能完成：" + exc.zh, "the load test could not complete: " + exc.en)
            return EXIT_HARNESS
        raise  # exit 2: main() says it
    if con.as_json:
        con.json(summary)
        return code
    _print(con, summary)
    return code


def _print(con, s: dict) -> None:
    con.say("", "")
    con.say(
        f"{'端点':<28} {'请求':>8} {'失败':>6} {'每秒':>8} {'p50':>7} {'p95':>7} {'p99':>7}",
        f"{'endpoint':<28} {'requests':>8} {'fails':>6} {'req/s':>8} {'p50':>7} {'p95':>7} {'p99':>7}",
    )
    for name, e in sorted(s["endpoints"].items()):
        f = lambda v: "-" if v is None else f"{v:g}"
        con.say(
            f"{name:<28} {e['requests']:>8} {e['failures']:>6} {f(e['rps']):>8} {f(e['p50_ms']):>7} "
            f"{f(e['p95_ms']):>7} {f(e['p99_ms']):>7}"
        )
    u, r = s["uploads"], s["reconcile"]
    t = r["totals"]
    con.say(
        f"上传：计划 {u['planned']} 个报文，完成 {u['answered']} 个；滞后 p95 {u['lag_model_min']['p95']} 模型分钟；"
        f"最忙5秒 {u['peak_records_per_s_5s']} 条/秒",
        f"uploads: {u['answered']} of {u['planned']} envelopes answered; lag p95 {u['lag_model_min']['p95']} model "
        f"minutes; busiest 5 s {u['peak_records_per_s_5s']} records/s",
    )
    con.say(
        f"对账：真值 {t['truth']}，确认 {t['acknowledged']}，存储 {t['stored']} — {r['reason'][0]}",
        f"reconciliation: truth {t['truth']}, acknowledged {t['acknowledged']}, stored {t['stored']} — {r['reason'][1]}",
    )
    bn = s.get("bottleneck")
    if bn:
        fig = bn["figures"]
        pct = lambda k: "-" if fig.get(k) is None else f"{fig[k]['mean']:.0%}/{fig[k]['peak']:.0%}"
        con.say(
            f"瓶颈：{bn['zh']}（均值/峰值：生成端 {pct('generator')}，平台 CPU {pct('platform')}，"
            f"存储等待 {pct('storage')}，本机 {pct('machine')}，其他进程 {pct('other')}）",
            f"bottleneck: {bn['en']} (mean/peak: generator {pct('generator')}, platform CPU {pct('platform')}, "
            f"storage wait {pct('storage')}, machine {pct('machine')}, other processes {pct('other')})",
        )
    sc = s["stats_check"]
    if not sc["ok"]:
        con.say("统计丢失：" + sc["reason"][0], "statistics lost: " + sc["reason"][1])
    for b in s["breaches"]:
        con.say(f"未达标 [{b['threshold']}] {b['zh']}", f"BREACH [{b['threshold']}] {b['en']}")
    verdict = {"pass": ("通过", "PASS"), "fail": ("未通过", "FAIL"), "error": ("测试工具错误", "HARNESS ERROR")}[
        s["verdict"]
    ]
    con.say(
        f"结论：{verdict[0]}（退出码 {s['exit_code']}）；报告：{s['files']['report']}",
        f"verdict: {verdict[1]} (exit {s['exit_code']}); report: {s['files']['report']}",
    )
