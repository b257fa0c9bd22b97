"""``roucai certify``: run the conformance suites against a target and write the evidence.

    roucai certify                                   # everything, against the built-in target
    roucai certify --target serial:///dev/ttyUSB0?baud=9600 --capabilities my-scale.toml --suite perception
    roucai certify --target http://127.0.0.1:8080 --capabilities platform.toml --suite platform,transmission
    roucai certify --profile guangzhou --target https://127.0.0.1:8553 --ca tls/cert.pem \
        --capabilities platform.toml --suite platform      # a dialect's platform over HTTPS
    roucai certify --target node --capabilities my-node.toml --suite coding,transmission

Order of a run: the options, the target URL and the capability statement are checked (exit 2);
the pre-flight (``conformance/preflight.py``) checks the target is there and set up (exit 2 or 3,
ONE line; the detail in ``REPORT/certify.log``); only then do tests run.  A setup problem is never
a verdict.

Outputs in ``--report DIR`` (default ``roucai-report``): ``results.json``,
``report.zh.html``, ``report.en.html``, ``junit.xml`` (or ``--junit FILE``),
``bundle.zip`` (with ``MANIFEST.sha256``; check it with ``roucai certify
--verify-bundle FILE``), ``certify.log`` (pre-flight steps and pytest's own output, tracebacks
included).  Every file is written atomically.  On screen: one progress line per test on stderr,
then the summary table (``--lang``) on stdout; with ``--json`` stdout carries only one JSON object.
Ctrl-C or SIGTERM: the run is INTERRUPTED (results and reports say so, no conformance verdict, no
bundle), exit 3.  Exit: 0 conformant, 1 non-conformant, 2 usage or configuration error, 3
unreachable target, harness error, timeout or interrupted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from profiles.errors import RoucaiError

from ..console import EXIT_HARNESS, EXIT_NONCONFORMANT, EXIT_OK, EXIT_USAGE, UsageError
from ._tls import add_arguments as add_tls_arguments, trust_of


def available_suites() -> list[str]:
    import conformance

    root = Path(conformance.__file__).resolve().parent
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("test_*.py")))


def register(sub, common):
    p = sub.add_parser("certify", parents=[common], help="run the conformance suites / 一致性认证测试")
    p.add_argument(
        "--target",
        default="builtin",
        help="builtin (default), node (the statement's start_command), serial://…, sim://…, socket://…, http://…",
    )
    p.add_argument(
        "--suite",
        default=None,
        help="comma-separated suites (default: all): coding, perception, transmission, platform",
    )
    p.add_argument("--capabilities", help="capability statement TOML (required for targets other than builtin)")
    p.add_argument("--report", default="roucai-report", help="report folder (default ./roucai-report)")
    p.add_argument("--junit", help="JUnit XML path (default REPORT/junit.xml)")
    p.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    p.add_argument("--timeout", type=float, default=60.0, help="per-test time budget, seconds (default 60)")
    p.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    p.add_argument("--verify-bundle", metavar="BUNDLE", help="check a result bundle's SHA-256 manifest and exit")
    add_tls_arguments(p)
    p.set_defaults(func=run)


def run(args, con) -> int:
    if args.verify_bundle:
        return _verify(args.verify_bundle, con)
    try:
        with trust_of(args):
            return _run(args, con)
    except (Refused, UsageError) as exc:
        line = exc.line if isinstance(exc, Refused) else con.t(f"错误：{exc.zh}", f"error: {exc.en}")
        code = exc.exit_code if isinstance(exc, Refused) else EXIT_USAGE
        con.err(line, line)
        if con.as_json:
            con.json({"verdict": None, "status": "not-run", "exit": code, "error": line})
        return code


def _run(args, con) -> int:
    import conformance

    root = Path(conformance.__file__).resolve().parent
    suites = available_suites()
    chosen = suites if not args.suite else [s.strip() for s in args.suite.split(",") if s.strip()]
    bad = [s for s in chosen if s not in suites]
    if bad or not chosen:
        raise UsageError(
            f"未知的测试套件 {bad}，可选：{', '.join(suites)}",
            f"unknown suite(s) {bad}; available: {', '.join(suites)}",
        )
    if args.timeout <= 0:
        raise UsageError("--timeout 必须为正数", "--timeout must be positive")
    report = Path(args.report).resolve()
    junit = Path(args.junit).resolve() if args.junit else report / "junit.xml"
    created = not report.exists()
    try:
        report.mkdir(parents=True, exist_ok=True)
        for stale in ("results.json", "bundle.zip", LOG):
            (report / stale).unlink(missing_ok=True)
    except OSError as exc:
        raise UsageError(
            f"无法使用报告目录 {report}：{exc.strerror}", f"cannot use the report folder {report}: {exc.strerror}"
        ) from None
    log_path = report / LOG
    with open(log_path, "a", encoding="utf-8") as log:

        def note(line: str) -> None:
            log.write(line.rstrip("\n") + "\n")
            log.flush()

        try:
            capabilities = _setup(args, con, note, log_path)
        except UsageError:  # a usage error says all in its one line: leave no report folder
            if created:
                shutil.rmtree(report, ignore_errors=True)
            raise
        con.say(
            f"一致性测试：目标 {args.target}，套件 {', '.join(chosen)}，种子 {args.seed}",
            f"certify: target {args.target}, suites {', '.join(chosen)}, seed {args.seed}",
        )
        argv = [str(root / s) for s in chosen] + [
            "-c",
            str(root / "pytest.ini"),
            "--rootdir",
            str(root),
            "-q",
            "--tb=short",
            "-rfE",
            "--roucai-progress",
            "--roucai-lang",
            con.lang,
            "--target",
            args.target,
            "--seed",
            str(args.seed),
            "--report",
            str(report),
            "--junitxml",
            str(junit),
            "--conformance-timeout",
            str(args.timeout),
            "-o",
            "junit_family=xunit1",
        ]
        if capabilities:
            argv += ["--capabilities", capabilities]
        if args.keyword:
            argv += ["-k", args.keyword]
        note("pytest " + " ".join(argv))
        from conformance.actions import mark_interactive

        mark_interactive()  # "prompt" actions only when certify runs on a terminal
        rc = _pytest(argv, log)
    return _conclude(rc, report, junit, log_path, con)


LOG = "certify.log"


def _signable(args, statement, builtin: bool) -> None:
    """The chosen suites can sign their uploads under the profile (conformance/recipe.py), else exit 2."""
    from conformance.capabilities import CapabilityError
    from conformance.recipe import check_signable
    from profiles import load_profile

    chosen = available_suites() if not args.suite else [s.strip() for s in args.suite.split(",") if s.strip()]
    try:
        check_signable(load_profile(), statement, chosen, builtin)
    except CapabilityError as exc:  # a UsageError on purpose: see _setup
        raise UsageError(exc.zh, exc.en) from None


def _setup(args, con, note, log_path: Path) -> str | None:
    """Target, capability statement and pre-flight; return the statement's path (or None for builtin).
    Raises :class:`Refused` (one line, exit 2 or 3) for anything that stops the run before its tests."""
    from conformance.capabilities import CapabilityError, CapabilityStatement
    from conformance.plugin import BUILTIN_CAPABILITIES
    from conformance.preflight import EXIT_USAGE as PRE_USAGE, PreflightError, preflight, reachable
    from conformance.targets import TargetError, parse_target

    # TargetError and CapabilityError become UsageError on purpose here: a UsageError leaves no report
    # folder (_run), while any other error of the pre-flight is a harness error (exit 3) below
    try:
        target = parse_target(args.target)
    except TargetError as exc:
        raise UsageError(exc.zh, exc.en) from None
    try:
        reachable(target, note)
        if args.capabilities:
            path = args.capabilities
        elif target.is_builtin:
            path = None
        else:
            raise UsageError(
                "非内置目标需要能力声明：--capabilities FILE（见 docs/certify.md）",
                "a target other than builtin needs a capability statement: --capabilities FILE (docs/certify.md)",
            )
        try:
            statement = CapabilityStatement.load(path or BUILTIN_CAPABILITIES)
        except CapabilityError as exc:
            raise UsageError(exc.zh, exc.en) from None
        note(f"target {target.url}; capability statement {statement.source}: kinds {list(statement.kinds)}")
        _signable(args, statement, target.is_builtin)
        preflight(target, statement, args.seed, note)
    except PreflightError as exc:
        note(f"pre-flight refused the run: {exc.en}")
        code = EXIT_USAGE if exc.exit_code == PRE_USAGE else EXIT_HARNESS
        raise Refused(con.t(f"{exc.zh}（详见 {log_path}）", f"{exc.en} (details: {log_path})"), code) from None
    except UsageError:
        raise
    except Exception as exc:  # the pre-flight itself broke: a harness error, shown in one line
        import traceback

        note(traceback.format_exc())
        raise Refused(
            con.t(
                f"预检出错：{type(exc).__name__}（详见 {log_path}）",
                f"pre-flight error: {type(exc).__name__} (details: {log_path})",
            ),
            EXIT_HARNESS,
        ) from None
    note("pre-flight passed")
    return path


class Refused(RoucaiError):
    """The run stops before its tests: one line for the screen (already in the run's language), and the exit code."""

    def __init__(self, line: str, exit_code: int):
        super().__init__(line, line, exit_code)
        self.line = line


def _pytest(argv: list[str], log) -> int:
    """pytest.main with its own output (and file descriptor 1) in the log, SIGTERM raising KeyboardInterrupt
    (pytest then ends the session as interrupted, like Ctrl-C)."""
    import contextlib
    import os
    import signal
    import sys

    import pytest

    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    # Ctrl-C interrupts even when this process was started with SIGINT ignored (a shell's background job)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_term = signal.signal(signal.SIGTERM, on_term)
    # stdout is the summary's (or --json's) alone: pytest's output and anything a child process started
    # during the run writes on file descriptor 1 go to the log
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(log.fileno(), 1)
    try:
        with contextlib.redirect_stdout(log):
            return int(pytest.main(argv))
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def _conclude(rc: int, report: Path, junit: Path, log_path: Path, con) -> int:
    import pytest

    from conformance.textsummary import run_verdict, summary_lines

    results_path = report / "results.json"
    if not results_path.is_file():
        usage = rc in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED)
        raise Refused(
            con.t(
                f"{'用法或配置错误' if usage else '测试工具内部错误'}，未运行测试（详见 {log_path}）",
                f"{'usage or configuration error' if usage else 'harness error'}: no tests ran (details: {log_path})",
            ),
            EXIT_USAGE if usage else EXIT_HARNESS,
        )
    results = json.loads(results_path.read_text("utf-8"))
    s = results["summary"]
    if results.get("status") == "target-down":
        down = results["target_down"]
        raise Refused(
            con.t(f"{down['zh']}（无结论，详见 {log_path}）", f"{down['en']} (no verdict; details: {log_path})"),
            EXIT_HARNESS,
        )
    interrupted = results.get("status") == "interrupted"
    bundle = report / "bundle.zip"
    if con.as_json:
        con.json(
            {
                "verdict": s.get("verdict") or run_verdict(s, "en"),
                "conformant": s["conformant"],
                "status": results.get("status", "finished"),
                "summary": s,
                "report": str(report),
                "junit": str(junit),
                "bundle": str(bundle) if bundle.is_file() else None,
                "log": str(log_path),
            }
        )
    else:
        for line in summary_lines(results, con.lang):
            con.say(line)
        con.say(f"报告：{report / 'report.zh.html'}", f"report: {report / 'report.en.html'}")
    if interrupted:
        con.err(
            f"已中断：运行未完成，无一致性结论，未生成结果包（{report}）",
            f"INTERRUPTED: the run did not finish; no conformance verdict, no bundle ({report})",
        )
        return EXIT_HARNESS
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
