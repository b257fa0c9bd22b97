"""``roucai certify``: run the conformance suites against a target and write the evidence.

    roucai certify                                   # everything, against the built-in target
    roucai certify --target serial:///dev/ttyUSB0?baud=9600 --capabilities my-scale.toml --suite perception
    roucai certify --target http://127.0.0.1:8080 --capabilities platform.toml --suite platform,transmission

Outputs in ``--report DIR`` (default ``roucai-report``): ``results.json``,
``report.zh.html``, ``report.en.html``, ``junit.xml`` (or ``--junit FILE``),
``bundle.zip`` (with ``MANIFEST.sha256``; check it with ``roucai certify
--verify-bundle FILE``).  Exit: 0 conformant, 1 non-conformant, 2 usage or
configuration error, 3 harness error or timeout.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..console import EXIT_HARNESS, EXIT_NONCONFORMANT, EXIT_OK, EXIT_USAGE, UsageError



def available_suites() -> list[str]:
    import conformance
    root = Path(conformance.__file__).resolve().parent
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("test_*.py")))


def register(sub, common):
    p = sub.add_parser("certify", parents=[common], help="run the conformance suites / 一致性认证测试")
    p.add_argument("--target", default="builtin", help="builtin (default), serial://…, sim://…, socket://…, http://…")
    p.add_argument("--suite", default=None, help="comma-separated suites (default: all): coding, perception, transmission, platform")
    p.add_argument("--capabilities", help="capability statement TOML (required for targets other than builtin)")
    p.add_argument("--report", default="roucai-report", help="report folder (default ./roucai-report)")
    p.add_argument("--junit", help="JUnit XML path (default REPORT/junit.xml)")
    p.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    p.add_argument("--timeout", type=float, default=60.0, help="per-test time budget, seconds (default 60)")
    p.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    p.add_argument("--verify-bundle", metavar="BUNDLE", help="check a result bundle's SHA-256 manifest and exit")
    p.set_defaults(func=run)


def run(args, con) -> int:
    if args.verify_bundle:
        return _verify(args.verify_bundle, con)
    import pytest
    import conformance
    root = Path(conformance.__file__).resolve().parent
    suites = available_suites()
    chosen = suites if not args.suite else [s.strip() for s in args.suite.split(",") if s.strip()]
    bad = [s for s in chosen if s not in suites]
    if bad or not chosen:
        raise UsageError(f"未知的测试套件 {bad}，可选：{', '.join(suites)}",
                         f"unknown suite(s) {bad}; available: {', '.join(suites)}")
    if args.timeout <= 0:
        raise UsageError("--timeout 必须为正数", "--timeout must be positive")
    report = Path(args.report).resolve()
    junit = Path(args.junit).resolve() if args.junit else report / "junit.xml"
    report.mkdir(parents=True, exist_ok=True)
    for stale in ("results.json", "bundle.zip"):
        (report / stale).unlink(missing_ok=True)
    argv = [str(root / s) for s in chosen] + [
        "-c", str(root / "pytest.ini"), "--rootdir", str(root), "-qq", "--roucai-progress",
        "--target", args.target, "--seed", str(args.seed), "--report", str(report),
        "--junitxml", str(junit), "--conformance-timeout", str(args.timeout), "-o", "junit_family=xunit1"]
    if args.capabilities:
        argv += ["--capabilities", args.capabilities]
    if args.keyword:
        argv += ["-k", args.keyword]
    con.say(f"一致性测试：目标 {args.target}，套件 {', '.join(chosen)}，种子 {args.seed}",
            f"certify: target {args.target}, suites {', '.join(chosen)}, seed {args.seed}")
    rc = pytest.main(argv)
    if rc in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        con.err("用法或配置错误（见上）", "usage or configuration error (see above)")
        return EXIT_USAGE
    results_path = report / "results.json"
    if rc in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.INTERRUPTED) or not results_path.is_file():
        con.err("测试工具内部错误或运行被中断", "harness error or interrupted run")
        return EXIT_HARNESS
    results = json.loads(results_path.read_text("utf-8"))
    s = results["summary"]
    if con.as_json:
        con.json({"conformant": s["conformant"], "summary": s, "report": str(report),
                  "junit": str(junit), "bundle": str(report / "bundle.zip")})
    else:
        con.say(("结论：符合" if s["conformant"] else "结论：不符合") + f"（报告 {report / 'report.zh.html'}）",
                ("verdict: CONFORMANT" if s["conformant"] else "verdict: NON-CONFORMANT")
                + f" (report {report / 'report.en.html'})")
        if s["failed_required"]:
            con.say("未通过的必须项：" + ", ".join(s["failed_required"]),
                    "failed required: " + ", ".join(s["failed_required"]))
    if s["tests"].get("timeout"):
        return EXIT_HARNESS
    return EXIT_OK if s["conformant"] else EXIT_NONCONFORMANT


def _verify(path: str, con) -> int:
    from conformance.bundle import verify_bundle
    if not Path(path).is_file():
        raise UsageError(f"找不到文件 {path}", f"no such file: {path}")
    problems = verify_bundle(Path(path))
    if con.as_json:
        con.json({"bundle": path, "intact": not problems, "problems": problems})
    elif problems:
        for p in problems:
            con.say(p)
        con.say("结果包已被改动或损坏", "the bundle was altered or is damaged")
    else:
        con.say("结果包完整：所有文件与清单一致", "bundle intact: every file matches the manifest")
    return EXIT_OK if not problems else EXIT_NONCONFORMANT
