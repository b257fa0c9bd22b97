"""The roucai pytest plugin (entry point ``pytest11: roucai``).

Usable as plain pytest (``pytest conformance/ --target builtin --report out/``)
and through ``roucai certify``.  Inert in test runs whose tests declare no
requirement.

What it adds:

* markers ``requirement(*ids)`` (a test naming an unknown id is a collection
  error), ``applies(kinds=(...), needs=(...))`` (capability-driven selection),
  ``conformance_timeout(seconds)``;
* options ``--target``, ``--capabilities``, ``--seed``, ``--report``,
  ``--conformance-timeout``, ``--roucai-progress``, ``--roucai-lang zh|en``;
* fixtures ``target``, ``capabilities``, ``seed``, ``profile``, ``evidence``;
* one verdict per test (pass, fail, error, timeout, not-applicable, partial,
  expected-failure, unexpected-pass), requirement ids and verdicts as JUnit
  properties, and at session end the results JSON, the HTML reports (zh, en)
  and the hashed result bundle in ``--report DIR``; a run stopped by Ctrl-C (or SIGTERM, which
  ``roucai certify`` turns into the same) is INTERRUPTED: results and reports say so, no bundle.
"""

from __future__ import annotations

import datetime as _dt
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from . import verdicts as V
from .actions import ActionMissing
from .capabilities import CapabilityError, CapabilityStatement
from .evidence import Evidence
from .notjudgeable import NA_PREFIX, NotJudgeable
from .preflight import TargetDown
from .targets import TargetError, parse_target

#: the run's results (conformance/results.py), kept on the config's stash for the terminal summary
RESULTS_KEY = pytest.StashKey[dict]()

PLUGIN_NAME = "roucai-conformance"
BUILTIN_CAPABILITIES = Path(__file__).resolve().parent / "builtin-capabilities.toml"


class ConformanceTimeout(Exception):
    """The test ran past its time budget: the verdict is ``timeout``."""


def pytest_addoption(parser):
    g = parser.getgroup("roucai", "roucai-harness conformance / 一致性测试")
    g.addoption("--target", default=None, help="target URL or 'builtin' (default builtin) / 被测对象")
    g.addoption("--capabilities", default=None, help="capability statement (TOML) / 能力声明")
    g.addoption("--seed", type=int, default=None, help="seed of every simulation in the run (default 1)")
    g.addoption(
        "--report",
        dest="roucai_report",
        default=None,
        help="folder for results.json, report.zh.html, report.en.html, bundle.zip",
    )
    g.addoption(
        "--conformance-timeout",
        type=float,
        default=60.0,
        help="per-test time budget in seconds (default 60); past it the verdict is timeout",
    )
    g.addoption("--roucai-progress", action="store_true", help="one line per test with its verdict")
    g.addoption(
        "--roucai-lang",
        choices=("zh", "en"),
        default="zh",
        help="language of the progress lines and the summary table (default zh)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(*ids): requirement ids of the catalogue this test checks")
    config.addinivalue_line("markers", "applies(kinds=(), needs=()): target kinds and capabilities the test needs")
    config.addinivalue_line("markers", "conformance_timeout(seconds): this test's time budget")
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(ConformanceSession(config), PLUGIN_NAME)


class ConformanceSession:
    def __init__(self, config):
        self.config = config
        self.active = False
        self.items: dict[str, dict] = {}
        self.evidence: dict[str, Evidence] = {}
        self.started = time.time()
        report = config.getoption("roucai_report")
        self.report_dir = Path(report).resolve() if report else None
        self.target = None
        self.capabilities = None
        self.catalogue = None
        self.profile = None
        self.target_down = None  #: the TargetDown a session fixture raised, if any

    # -- set-up ----------------------------------------------------------------
    def _activate(self):
        from profiles import load_profile

        try:
            self.target = parse_target(self.config.getoption("target") or "builtin")
            cap_file = self.config.getoption("capabilities")
            if cap_file:
                self.capabilities = CapabilityStatement.load(cap_file)
            elif self.target.is_builtin:
                self.capabilities = CapabilityStatement.load(BUILTIN_CAPABILITIES)
            else:
                raise CapabilityError(
                    "非内置目标需要能力声明：--capabilities FILE（见 docs/certify.md）",
                    "a target other than builtin needs a capability statement: --capabilities FILE",
                )
        except (TargetError, CapabilityError) as exc:
            raise pytest.UsageError(f"{exc.zh} / {exc.en}")
        from .recipe import target_profile

        try:  # the harness signs with the recipe the target declares (capability verify_code)
            self.profile = target_profile(load_profile(), self.capabilities)
        except CapabilityError as exc:
            raise pytest.UsageError(f"{exc.zh} / {exc.en}")
        self.catalogue = self.profile.requirements
        root = self.report_dir or Path(tempfile.mkdtemp(prefix="roucai-report-"))
        self.report_root = root
        self.evidence_root = root / "evidence"
        self.active = True

    @property
    def seed(self) -> int:
        s = self.config.getoption("seed")
        return 1 if s is None else s

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        marked = [it for it in items if it.get_closest_marker("requirement")]
        if not marked:
            return
        from profiles import load_profile

        known = set(load_profile().requirements.ids)
        undeclared = [
            f"{it.nodeid}: {[r for m in it.iter_markers('requirement') for r in m.args if r not in known]}"
            for it in marked
            if any(r not in known for m in it.iter_markers("requirement") for r in m.args)
        ]
        if undeclared:
            raise pytest.UsageError(
                "测试声明了目录中不存在的需求编号 / tests name requirement ids that are not in the catalogue:\n  "
                + "\n  ".join(undeclared)
            )
        self._activate()
        unknown = []
        for it in marked:
            reqs = [r for m in it.iter_markers("requirement") for r in m.args]
            bad = [r for r in reqs if r not in known]
            if bad or not reqs:
                unknown.append(f"{it.nodeid}: {bad or 'no requirement id'}")
                continue
            kinds, needs = (), ()
            am = it.get_closest_marker("applies")
            if am:
                kinds = tuple(am.kwargs.get("kinds", ()))
                needs = tuple(am.kwargs.get("needs", ()))
            kinds = _implied_kinds(it, kinds)
            ok, why_zh, why_en = self.capabilities.applies(kinds, needs)
            self.items[it.nodeid] = {
                "nodeid": it.nodeid,
                "name": it.name,
                "suite": _suite_of(it),
                "requirements": reqs,
                "doc": (it.function.__doc__ or "").strip() if hasattr(it, "function") else "",
                "selection_zh": why_zh,
                "selection_en": why_en,
                "verdict": None,
                "reason_zh": "",
                "reason_en": "",
                "duration_s": 0.0,
                "evidence": [],
                "notes": [],
            }
            if not ok:
                it.add_marker(pytest.mark.skip(reason=NA_PREFIX + why_en))
                continue
            declared = [r for r in reqs if r in self.capabilities.expected_failures]
            if declared:
                reason = "; ".join(f"{r}: {self.capabilities.expected_failures[r]}" for r in declared)
                it.add_marker(pytest.mark.xfail(strict=True, reason="declared expected failure: " + reason))
        if unknown:
            raise pytest.UsageError(
                "测试声明了目录中不存在的需求编号 / tests name requirement ids that are not in the catalogue:\n  "
                + "\n  ".join(unknown)
            )
        for it in items:  # unmarked tests in a conformance run are not allowed either
            if it.nodeid not in self.items and not it.get_closest_marker("requirement"):
                raise pytest.UsageError(
                    f"{it.nodeid}: 一致性测试必须声明需求编号 / a conformance test must "
                    "declare requirement ids (@pytest.mark.requirement)"
                )

    # -- running ---------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        budget = None
        if self.active and item.nodeid in self.items:
            m = item.get_closest_marker("conformance_timeout")
            budget = float(m.args[0]) if m else self.config.getoption("conformance_timeout")
        use_alarm = budget and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
        if use_alarm:

            def on_alarm(signum, frame):
                raise ConformanceTimeout(f"test exceeded its time budget of {budget:g} s")

            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            yield
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        rec = self.items.get(item.nodeid) if self.active else None
        if rec is None:
            return
        if call.excinfo is not None and call.excinfo.errisinstance(TargetDown) and self.target_down is None:
            self.target_down = call.excinfo.value  # the target did not come up: no verdict, stop here
            item.session.shouldstop = "target down"
        verdict, zh, en = _verdict_of(rep, call)
        if verdict == V.NOT_APPLICABLE and rec["selection_zh"] and en == rec["selection_en"]:
            zh = rec["selection_zh"]  # skipped by its capability marker (one text): the reason in Chinese too
        ev = self.evidence.get(item.nodeid)
        if ev is not None:  # files attached in any phase, teardown included
            rec["evidence"], rec["notes"] = list(ev.files), list(ev.notes)
        if verdict is None:
            if rep.when == "teardown":
                self._junit_properties(item, rep, rec)
            return
        if verdict == V.NOT_TESTED:
            rec["needs_actions"] = call.excinfo.value.actions
        if verdict == V.PASS and ev is not None and ev.partial_reason:
            verdict, (zh, en) = V.PARTIAL, ev.partial_reason
        first = rec["verdict"] is None
        if first or V.ORDER.index(verdict) < V.ORDER.index(rec["verdict"]):
            rec["verdict"], rec["reason_zh"], rec["reason_en"] = verdict, zh, en
        rec["duration_s"] = round(rec["duration_s"] + rep.duration, 4)
        if rep.when == "teardown" or rep.skipped:
            self._junit_properties(item, rep, rec)

    @staticmethod
    def _junit_properties(item, rep, rec):
        # junitxml reads the properties of the last report of a test (teardown, or setup if skipped)
        own = [(k, v) for k, v in item.user_properties if k not in ("requirement", "verdict")]
        rep.user_properties = (
            own + [("requirement", r) for r in rec["requirements"]] + [("verdict", rec["verdict"] or V.ERROR)]
        )

    def pytest_runtest_logreport(self, report):
        if not (self.active and self.config.getoption("roucai_progress")) or report.when != "teardown":
            return
        rec = self.items.get(report.nodeid)
        if rec is None or rec["verdict"] is None:
            return
        done = sum(1 for r in self.items.values() if r["verdict"] is not None)
        lang = self.config.getoption("roucai_lang")
        line = (
            f"[{done}/{len(self.items)}] {V.label(rec['verdict'], lang):<6} {','.join(rec['requirements'])}  "
            f"{rec['name']} ({rec['duration_s']:.2f}s)"
        )
        print(line, file=sys.stderr, flush=True)  # stdout stays for the summary (or --json)

    # -- results ---------------------------------------------------------------
    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted_by = str(excinfo.value) or "SIGINT"

    def pytest_sessionfinish(self, session, exitstatus):
        if not self.active:
            return
        from .results import build_results, mark_interrupted, mark_target_down, write_outputs

        results = build_results(self)
        if self.target_down is not None:  # stopped on purpose (session.shouldstop): the target is down
            mark_target_down(results, self.target_down.zh, self.target_down.en)
        elif exitstatus == pytest.ExitCode.INTERRUPTED or getattr(self, "interrupted_by", None):
            mark_interrupted(results, getattr(self, "interrupted_by", None) or "SIGINT")
        session.config.stash[RESULTS_KEY] = results
        write_outputs(results, self.report_root, self, write_files=self.report_dir is not None)

    def pytest_terminal_summary(self, terminalreporter):
        res = self.config.stash.get(RESULTS_KEY, None)
        if not res:
            return
        from .textsummary import summary_lines

        lang = self.config.getoption("roucai_lang")
        terminalreporter.section("roucai conformance" if lang == "en" else "roucai 一致性判定")
        for line in summary_lines(res, lang, verbose=self.config.getoption("verbose") > 0):
            terminalreporter.write_line(line)
        if self.report_dir:
            terminalreporter.write_line(("report: " if lang == "en" else "报告：") + str(self.report_dir))


#: Session fixtures that only a target of these kinds can provide: a test using one applies to
#: those kinds whatever its ``applies`` marker says (a node-only test never runs against a platform).
FIXTURE_KINDS = {"node_session": ("node",)}


def _implied_kinds(item, kinds: tuple) -> tuple:
    """``kinds`` narrowed by the kind-bound fixtures ``item`` uses (:data:`FIXTURE_KINDS`)."""
    for fixture, only in FIXTURE_KINDS.items():
        if fixture in getattr(item, "fixturenames", ()):
            kinds = tuple(k for k in (kinds or only) if k in only) or only
    return kinds


def _suite_of(item) -> str:
    parts = Path(str(item.fspath)).parts
    if "conformance" in parts:
        i = len(parts) - 1 - parts[::-1].index("conformance")
        if i + 1 < len(parts) - 1:
            return parts[i + 1]
    return Path(str(item.fspath)).parent.name


def _verdict_of(rep, call):
    """(verdict, reason zh, reason en) for one phase report, or (None, …) for a passing set-up/teardown."""
    exc = call.excinfo
    if rep.skipped:
        if exc is not None and exc.errisinstance(ActionMissing):
            return V.NOT_TESTED, exc.value.zh, exc.value.en
        if exc is not None and exc.errisinstance(NotJudgeable):
            return V.NOT_APPLICABLE, exc.value.zh, exc.value.en
        if hasattr(rep, "wasxfail"):
            return V.EXPECTED_FAILURE, "已声明的预期失败：" + rep.wasxfail, "expected failure: " + rep.wasxfail
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NA_PREFIX):
            reason = reason[len(NA_PREFIX) :]
        return V.NOT_APPLICABLE, reason, reason
    if rep.failed:
        text = _short(rep)
        if exc is None and "XPASS(strict)" in text:
            return (
                V.UNEXPECTED_PASS,
                "声明为预期失败的测试通过了：请更新能力声明",
                "a declared expected failure passed: update the capability statement",
            )
        if exc is not None and exc.errisinstance((ConformanceTimeout, TimeoutError)):
            return V.TIMEOUT, "超时：" + text, "timeout: " + text
        if rep.when == "call" and exc is not None and exc.errisinstance(AssertionError):
            return V.FAIL, text, text
        where = {"setup": "准备阶段", "teardown": "清理阶段", "call": "执行中"}[rep.when]
        return V.ERROR, f"{where}出错：{text}", f"error in {rep.when}: {text}"
    if rep.when == "call":
        return V.PASS, "", ""
    return None, "", ""


def _short(rep) -> str:
    crash = getattr(rep.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.strip()[:2000]
    return str(rep.longrepr).strip().splitlines()[-1][:2000] if rep.longrepr else ""


# -- fixtures --------------------------------------------------------------------
def _session(request) -> ConformanceSession:
    s = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if s is None or not s.active:
        pytest.skip("not a conformance run")
    return s


@pytest.fixture(scope="session")
def target(request):
    """The :class:`~conformance.targets.Target` under test."""
    return _session(request).target


@pytest.fixture(scope="session")
def capabilities(request):
    return _session(request).capabilities


@pytest.fixture(scope="session")
def seed(request) -> int:
    return _session(request).seed


@pytest.fixture(scope="session")
def profile(request):
    return _session(request).profile


@pytest.fixture
def evidence(request) -> Evidence:
    """Evidence of the running test (files and notes that go into the report and bundle)."""
    s = _session(request)
    ev = Evidence(s.evidence_root, request.node.nodeid, s.report_root)
    ev.append_jsonl(
        "meta.jsonl",
        {"seed": s.seed, "target": s.target.url, "started": _dt.datetime.now(_dt.timezone.utc).isoformat()},
    )
    s.evidence[request.node.nodeid] = ev
    return ev
