"""``roucai load`` end to end: Locust in subprocesses against the reference platform (127.0.0.1).

Short runs (10 s, the tiny city's day × 3) keep the normal suite quick; the 60 s lanzhou day of
issue 7 runs with ``ROUCAI_LOAD_FULL=1`` (about 2 minutes: the plan is built first):

    ROUCAI_LOAD_FULL=1 .venv/bin/pytest tests/loadtests/test_load_run.py -k full -s
    roucai load --target builtin --duration 60s        # the same from the command line
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.load
QUICK = ["--preset", "tiny", "--scale", "3", "--duration", "10s", "--drain", "10"]
# Gates of the tests whose subject is not speed (the machine may be shared): correctness and reconciliation
FUNCTIONAL = "[correctness]\nmax_failed = 0\nmax_wrong_verdicts = 0\n[reconcile]\nrequired = true\n"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("plan-cache")


def load(report: Path, cache: Path, *args: str, timeout: float = 240, background: bool = False):
    cmd = [
        sys.executable,
        "-m",
        "roucai.cli",
        "load",
        "--lang",
        "en",
        "--report",
        str(report),
        "--cache",
        str(cache),
        *args,
    ]
    if background:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _gone(report: Path) -> None:
    """Every Locust process of the run has exited (no strays)."""
    pids = json.loads((report / "pids.json").read_text())
    for pid in [pids["master"], *pids["workers"]]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def functional(tmp_path) -> str:
    f = tmp_path / "functional-slo.toml"
    f.write_text(FUNCTIONAL)
    return str(f)


def test_builtin_day_passes_the_default_slos_and_reconciles(tmp_path, cache):
    r = load(tmp_path, cache, "--preset", "tiny", "--scale", "3", "--duration", "20s", "--json")
    s = json.loads(r.stdout)
    assert r.returncode == 0, (s["breaches"], s["reconcile"]["reason"])
    assert s["verdict"] == "pass" and s["breaches"] == []
    rec = s["reconcile"]
    assert rec["ok"] and rec["records"]["ok"] and rec["records"]["missing"] == 0
    t = rec["totals"]
    assert t["stored"] == t["acknowledged"] == t["truth"] > 0 and t["duplicate_verdicts"] > 0
    assert s["uploads"]["answered"] == s["uploads"]["planned"] == s["plan"]["envelopes"]
    assert s["stats_check"]["ok"] and s["checks"]["upload"][0] > 0 and s["checks"]["trace"][0] > 0
    for name in ("POST /api/v1/exchange", "GET /api/v1/trace/{code}", "GET /trace?code=", "GET /api/v1/stats/totals"):
        assert s["endpoints"][name]["requests"] > 0
    assert (tmp_path / "load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "locust.html").stat().st_size > 1000
    assert json.loads((tmp_path / "summary.json").read_text())["verdict"] == "pass"
    assert not list(tmp_path.glob("platform.db*"))  # the platform's database only with --keep-db
    # the summary names the limiting side from real figures: the built-in platform runs here, so its CPU and its
    # group commit's transaction times were measured, and the group commit counted every acknowledged upload
    bn = s["bottleneck"]
    assert bn["missing"] == [] and bn["intervals"] >= 15, bn
    assert bn["figures"]["platform"]["peak"] > 0 and bn["figures"]["storage"] is not None
    assert bn["verdict"] in ("generator", "machine", "platform-cpu", "storage", "none")
    _gone(tmp_path)


def test_distributed_run_reports_what_the_platform_stored(tmp_path, cache):
    r = load(tmp_path / "r", cache, *QUICK, "--workers", "2", "--json", "--slo", functional(tmp_path), "--keep-db")
    s = json.loads(r.stdout)
    assert (tmp_path / "r" / "platform.db").stat().st_size > 0  # kept on request
    assert r.returncode == 0, (s["breaches"], s["stats_check"], s["reconcile"]["reason"])
    sc = s["stats_check"]
    assert sc["ok"] and sc["parts_reported"] == [0, 1] and sc["lost_requests"] == 0
    assert all(row["processes"] == row["locust"] for row in sc["rows"])
    parts = [json.loads(p.read_text()) for p in sorted((tmp_path / "r" / "parts").glob("part-*.json"))]
    assert all(p["requests"]["upload"][0] > 0 for p in parts) and len({p["pid"] for p in parts}) == 2
    t = s["reconcile"]["totals"]
    assert t["stored"] == t["acknowledged"] == t["truth"]
    assert s["endpoints"]["POST /api/v1/exchange"]["requests"] == sum(p["requests"]["upload"][0] for p in parts)
    cmds = json.loads((tmp_path / "r" / "commands.json").read_text())
    assert cmds["master"][cmds["master"].index("--master-bind-host") + 1] == "127.0.0.1"
    _gone(tmp_path / "r")


@pytest.fixture(scope="module")
def failing(tmp_path_factory, cache):
    """The three runs that must fail, started together (their verdicts do not depend on speed):
    a slowed platform under a tight SLO, a platform that loses records, a worker killed mid-run."""
    base = tmp_path_factory.mktemp("failing")
    slo = base / "tight.toml"
    slo.write_text('[[latency]]\nendpoint = "POST /api/v1/exchange"\np95_ms = 150\n')
    func = base / "functional.toml"
    func.write_text(FUNCTIONAL)
    runs = {
        "slow": load(
            base / "slow", cache, *QUICK, "--target", "builtin?variant=slow-ingest", "--slo", str(slo), background=True
        )
    }
    runs["drops"] = load(
        base / "drops",
        cache,
        *QUICK,
        "--target",
        "builtin?variant=drops-every-100th-record",
        "--json",
        "--slo",
        str(func),
        background=True,
    )
    runs["lost"] = load(base / "lost", cache, *QUICK[:-1], "4", "--workers", "2", background=True)
    killer = threading.Thread(target=_kill_worker_1, args=(base / "lost", runs["lost"]), daemon=True)
    killer.start()
    out = {}
    try:
        for name, p in runs.items():
            o, e = p.communicate(timeout=240)
            out[name] = (p.returncode, o.decode(), e.decode(), base / name)
    finally:
        for p in runs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        killer.join(10)
    return out


def _kill_worker_1(report: Path, proc) -> None:
    deadline = time.monotonic() + 120
    while not (report / "pids.json").is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if (report / "pids.json").is_file():
        victim = json.loads((report / "pids.json").read_text())["workers"][1]
        time.sleep(5)  # the test is running: kill one worker outright
        os.killpg(victim, signal.SIGKILL)


def test_slowed_platform_breaches_and_names_the_threshold(failing):
    code, out, err, report = failing["slow"]
    assert code == 1, out + err
    assert 'BREACH [latency."POST /api/v1/exchange".p95_ms]' in out
    s = json.loads((report / "summary.json").read_text())
    (b,) = s["breaches"]
    assert b["limit"] == 150 and b["actual"] >= 200  # every upload is answered 0.2 s late
    # the 0.2 s is a sleep: neither the platform's CPU nor its storage is what held the run back
    assert s["bottleneck"]["verdict"] not in ("platform-cpu", "storage"), s["bottleneck"]
    assert "bottleneck:" in out
    assert s["reconcile"]["ok"]  # slow, but nothing lost


def test_a_platform_that_loses_acknowledged_records_fails_reconciliation(failing):
    code, out, err, report = failing["drops"]
    s = json.loads(out)
    assert code == 1
    rec = s["reconcile"]
    lost = rec["totals"]["acknowledged"] - rec["totals"]["stored"]
    breaches = {b["threshold"]: b for b in s["breaches"]}
    assert "reconcile.required" in breaches, s["breaches"]
    # A dropped record that the plan also uploads twice (fault duplicate_upload) comes back "accepted" where
    # "duplicate" was due: which records are dropped depends on arrival order, so that breach may join in,
    # never with more wrong verdicts than records lost.
    assert set(breaches) <= {"reconcile.required", "correctness.max_wrong_verdicts"}, s["breaches"]
    wrong = 0
    if "correctness.max_wrong_verdicts" in breaches:
        wrong = breaches["correctness.max_wrong_verdicts"]["actual"]
        assert 0 < wrong <= lost, s["breaches"]
    assert lost > 0 and rec["lost_cells"] > 0
    # Every record missing from the store was acknowledged: missing <= lost. A record dropped once and then
    # accepted again on its planned re-send is acknowledged twice and stored once, so it counts as lost but
    # not as missing; each such record is also one wrong verdict ("accepted" where "duplicate" was due).
    missing = rec["records"]["missing"]
    assert 0 < missing <= lost and lost - missing <= wrong, (lost, missing, wrong)
    assert "acknowledged records are not stored" in rec["reason"][1]


def test_a_lost_worker_is_detected_not_hidden(failing):
    code, out, err, report = failing["lost"]
    assert code == 3, out + err
    assert (report / "summary.json").is_file(), out + err
    s = json.loads((report / "summary.json").read_text())
    assert s["verdict"] == "error" and not s["stats_check"]["ok"]
    # which load part the killed worker was serving is decided at run time: exactly one summary is missing
    reported = s["stats_check"]["parts_reported"]
    assert len(reported) == 1 and reported[0] in (0, 1)
    assert f"[{1 - reported[0]}]" in s["stats_check"]["reason"][1]
    assert "statistics lost" in out
    _gone(report)


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["--duration", "soon"], 2, "--duration"),
        (["--duration", "2s"], 2, "--duration"),
        (["--scale", "x"], 2, "--scale"),
        (["--workers", "-1"], 2, "--workers"),
        (["--target", "ftp://x"], 2, "--target"),
        (["--target", "http://127.0.0.1:9"], 2, "--keys"),
        (["--slo", "/nonexistent.toml"], 2, "SLO file not found"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(tmp_path, cache, args, code, needle):
    r = load(tmp_path, cache, "--preset", "tiny", *args, timeout=60)
    assert r.returncode == code and needle in r.stderr and "Traceback" not in r.stderr


def test_an_unreachable_target_is_a_harness_error(tmp_path, cache):
    """Exit 3 before any planning, and no report folder is left behind."""
    keys = tmp_path / "keys.json"
    keys.write_text('{"650102001": "k"}')
    t = time.monotonic()
    r = load(
        tmp_path / "r",
        cache,
        "--preset",
        "lanzhou",
        "--duration",
        "10s",
        "--target",
        "http://127.0.0.1:9",
        "--keys",
        str(keys),
        timeout=120,
    )
    assert r.returncode == 3 and "cannot reach" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - t < 15 and not (tmp_path / "r").exists()


def test_keys_that_do_not_fit_are_a_configuration_error(tmp_path, cache):
    """Garbage keys and keys of another city: exit 2 with the reason, nothing run, no report folder."""
    from httpkit import BackgroundHTTPServer, QuietHandler

    class Healthy(QuietHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    garbage, other = tmp_path / "garbage.json", tmp_path / "other.json"
    garbage.write_text("not json at all")
    other.write_text('{"650102001": "k"}')
    with BackgroundHTTPServer(Healthy) as srv:
        r = load(
            tmp_path / "r1", cache, "--preset", "tiny", "--target", srv.base_url, "--keys", str(garbage), timeout=60
        )
        assert r.returncode == 2 and "is not a keys file" in r.stderr and not (tmp_path / "r1").exists()
        r = load(tmp_path / "r2", cache, *QUICK, "--target", srv.base_url, "--keys", str(other), timeout=120)
        assert r.returncode == 2 and "has no key for" in r.stderr and "--preset tiny" in r.stderr, r.stderr
        assert not (tmp_path / "r2").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("ROUCAI_LOAD_FULL") != "1", reason="the 60 s lanzhou day: set ROUCAI_LOAD_FULL=1")
def test_full_lanzhou_day_in_60s_passes_and_reconciles(tmp_path, cache):
    r = load(tmp_path, cache, "--target", "builtin", "--duration", "60s", "--json", timeout=600)
    s = json.loads(r.stdout)
    print(json.dumps({k: s[k] for k in ("uploads", "endpoints", "breaches", "wall_s")}, indent=1))
    assert r.returncode == 0, s["breaches"]
    t = s["reconcile"]["totals"]
    assert s["reconcile"]["ok"] and t["stored"] == t["acknowledged"] == t["truth"] == s["plan"]["unique"]


def _processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line mentions ``text`` (a report folder: the run's own children)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if text in (d / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"):
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def test_ctrl_c_stops_every_process_and_leaves_no_summary(tmp_path, cache):
    """SIGINT mid-run: exit 3, no summary.json (nothing that reads as a finished run), no Locust or platform
    process left behind."""
    report = tmp_path / "r"
    p = load(report, cache, "--preset", "tiny", "--scale", "3", "--duration", "60s", background=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and p.poll() is None and not (report / "pids.json").is_file():
        time.sleep(0.2)
    assert p.poll() is None, p.communicate()[1][-2000:]
    time.sleep(2)  # Locust is sending
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 3, err[-2000:]
    assert not (report / "summary.json").exists()
    _gone(report)
    time.sleep(1)
    assert _processes_mentioning(str(report)) == []  # the reference platform (its db is in the report) too
