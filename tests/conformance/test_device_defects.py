"""Device defects proved from outside: every entry of ``conformance/proofs/device_defects.toml`` is caught.

For each defect: a fresh simulated scale in another process (``roucai device scale --url socket://… --control
socket://…``, ``test_perception_suite.DeviceProcess``), the
frame-aware relay (:class:`conformance.proofs.relay.Relay`, in this process) in front of it injecting the
defect, and ``roucai certify --target socket://<relay> --suite perception`` restricted with ``-k`` to the
tests that name the defect's requirement, the run-wide invariants, and :data:`TRAFFIC` (tests that make the
sales, weighings and polls the invariants judge).  The defect is caught when a test naming its requirement
ends ``fail`` or ``timeout``.  The clean relay runs the whole perception suite: nothing fails, every test
that catches a defect passes there, and the relay forwarded every frame unchanged.

Runs go two at a time; the wall time is printed at the end (``-s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sessionkit import items_of_module
from test_perception_suite import (
    DeviceProcess,  # the simulated scale in another process, control channel
)

from conformance.proofs.device_defects import CATALOGUE, load_catalogue
from conformance.proofs.relay import Relay

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STATEMENT = ROOT / "conformance" / "proofs" / "scale-behind-relay.toml"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
DEFECTS = load_catalogue()
CAUGHT = ("fail", "timeout")
TRAFFIC = (
    "test_every_sale_line_reads_back_as_sold",
    "test_every_request_answered_in_good_frames",
    "test_capacity_division_and_overload",
    "test_weighs_net_after_tare",
    "test_clock_set_offset_and_sale_timestamps",
    "test_scale_invariants",
)
RUN_TIMEOUT_S = 400
WORKERS = 2


def _tests_by_requirement() -> dict[str, list[str]]:
    p = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "requirements", "coverage", "--json"],
        check=False,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env=ENV,
    )
    return {r["id"]: r["tests"] for r in json.loads(p.stdout)["requirements"]}


def run_behind_relay(tmp: Path, defect, k: str | None) -> dict:
    """Certify the simulated scale behind the relay (``defect`` None: clean); the results and relay stats."""
    tmp.mkdir(parents=True, exist_ok=True)
    dev = DeviceProcess(tmp, "--for", str(RUN_TIMEOUT_S))
    relay = Relay("socket://127.0.0.1:0", dev.url, defect, seed=7).start()
    try:
        statement = tmp / "statement.toml"
        statement.write_text(STATEMENT.read_text("utf-8").replace("socket://127.0.0.1:7002", dev.control), "utf-8")
        cmd = [
            sys.executable,
            "-m",
            "roucai.cli",
            "certify",
            "--lang",
            "en",
            "--target",
            relay.host_url,
            "--capabilities",
            str(statement),
            "--suite",
            "perception",
            "--report",
            str(tmp / "report"),
            "--timeout",
            "120",
        ]
        if k:
            cmd += ["-k", k]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=RUN_TIMEOUT_S, env=ENV, cwd=ROOT, check=False)
            rc, out = p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")[-3000:]
        except subprocess.TimeoutExpired:
            rc, out = None, f"certify ran over {RUN_TIMEOUT_S} s"
        wall = time.monotonic() - t0
    finally:
        relay.stop()
        dev.stop()
    res = tmp / "report" / "results.json"
    doc = json.loads(res.read_text("utf-8")) if res.is_file() else {"tests": [], "summary": {}}
    return {
        "rc": rc,
        "out": out,
        "wall_s": wall,
        "stats": relay.stats,
        "error": getattr(relay, "error", None),
        "tests": {t["nodeid"]: (t["verdict"], t["requirements"], t.get("reason_en", "")[:600]) for t in doc["tests"]},
        "verdict": doc["summary"].get("verdict"),
        "summary": doc["summary"],
    }


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("device-defects")
    by_req = _tests_by_requirement()
    mine = items_of_module(request)
    names = sorted({it.callspec.params["name"] for it in mine if hasattr(it, "callspec")})
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        clean = pool.submit(run_behind_relay, root / "clean", None, None)
        jobs = {}
        for name in names:
            d = DEFECTS[name]
            own = sorted({t.rsplit("::", 1)[-1] for t in by_req.get(d.requirement, []) if t.startswith("perception/")})
            jobs[name] = pool.submit(run_behind_relay, root / name, d, " or ".join([*own, *TRAFFIC]))
        out = {"clean": clean.result(), "defects": {n: f.result() for n, f in jobs.items()}}
    out["wall_s"] = time.monotonic() - t0
    print(f"\ndevice defects: {len(names)} defect runs + 1 clean run in {out['wall_s']:.0f} s ({WORKERS} at a time)")
    return out


def caught_by(run: dict, requirement: str) -> list[str]:
    return [n for n, (v, reqs, _r) in run["tests"].items() if v in CAUGHT and requirement in reqs]


def test_catalogue_is_large_and_spread():
    """At least 20 defects, over at least 10 requirements and 8 areas."""
    assert len(DEFECTS) >= 20, CATALOGUE
    assert len({d.requirement for d in DEFECTS.values()}) >= 10
    assert len({d.area for d in DEFECTS.values()}) >= 8


def test_clean_relay_is_transparent_and_conformant(runs):
    """The clean relay, with the simulator's actions declared: every frame forwarded unchanged; no test fails,
    errors or times out; CONFORMANT."""
    c = runs["clean"]
    assert c["error"] is None, c["error"]
    assert c["stats"]["host->device"]["changed"] == 0 and c["stats"]["device->host"]["changed"] == 0
    assert c["stats"]["device->host"]["frames"] > 100, c["stats"]
    bad = {n: (v, r) for n, (v, _q, r) in c["tests"].items() if v in ("fail", "error", "timeout")}
    assert not bad, bad
    assert c["verdict"] == "CONFORMANT" and c["rc"] == 0, (c["verdict"], c["out"])


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_caught_by_a_test_naming_its_requirement(runs, name):
    """The defect's run fails a test that names the catalogue's requirement; the relay really changed frames."""
    d = DEFECTS[name]
    r = runs["defects"][name]
    assert r["error"] is None, r["error"]
    changed = r["stats"]["host->device"]["changed"] + r["stats"]["device->host"]["changed"]
    assert changed > 0, f"{name}: the relay never applied the defect ({r['stats']})"
    got = caught_by(r, d.requirement)
    failing = {n: (v, reqs, why) for n, (v, reqs, why) in r["tests"].items() if v != "pass"}
    assert got, f"{name} ({d.requirement}) not caught; non-passing tests: {failing}; {r['out'][-800:]}"
    if r["verdict"] != "NON-CONFORMANT":  # a failed recommended requirement alone: reported, not a verdict
        assert d.requirement in r["summary"].get("failed_recommended", []), (r["rc"], r["verdict"], r["summary"])
    clean = runs["clean"]["tests"]
    for n in got:
        assert clean.get(n, ("absent",))[0] == "pass", f"{n} catches {name} but does not pass on the clean relay"
