"""The proof from outside over HTTP: every defect of ``conformance/proofs/http_defects.toml``, injected by the
proxy into a clean reference, is caught by a test naming its requirement; the clean proxy is CONFORMANT.

Platform side: for each defect a fresh reference platform (``launch_builtin``, the seeded ``tiny`` city,
``--stop-ack-deadline 3 --offline-after 5``) is started, the proxy (:class:`~conformance.proofs.proxy.ProxyThread`)
put in front of it with the defect, and ``roucai certify --target http://PROXY --capabilities STATEMENT --suite
SUITE -k TESTS`` runs in a subprocess against the proxy, restricted to the suite's tests that name the defect's
requirement (``roucai requirements coverage``).  Node side: ``roucai certify --suite transmission`` with a node
capability statement whose ``start_command`` is ``conformance.proofs.node_uplink`` (the reference node whose
uplink runs through the proxy with the defect).  Caught = a ``fail`` or ``timeout`` verdict on such a test and
exit 1 (or 3); exit 0 when the requirement is a recommendation, reported as failed (as in test_variants.py).
The clean proxy runs every test the catalogue selects, per side and suite: exit 0.
Runs go two at a time; the wall time is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sessionkit import items_of_module

from conformance.proofs.http_defects import load_catalogue

pytestmark = pytest.mark.slow

DEFECTS = load_catalogue()
CAUGHT = ("fail", "timeout")
RUN_TIMEOUT_S = 400
PLATFORM_CAPS = (
    "trace_query",
    "statistics",
    "node_monitoring",
    "stop_trade_broadcast",
    "time_service",
    "scale_usage",
    "quarterly_kpis",
    "problem_discovery",
    "regulator_statistics",
    "district_assessment",
)
OFFLINE_AFTER_S = 5
NODE_START = "{python} -m conformance.proofs.node_uplink --config {config} --seed 1"
_LAUNCH = threading.Lock()
NODE_ROLES = ("node_slaughterhouse", "node_wholesale", "node_retail", "node_supermarket", "node_canteen")


def _tests_by_requirement() -> dict[str, list[str]]:
    p = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "requirements", "coverage", "--json"],
        check=False,
        capture_output=True,
        timeout=120,
    )
    return {r["id"]: r["tests"] for r in json.loads(p.stdout)["requirements"]}


def _names(tests: list[str]) -> list[str]:
    return sorted({t.rsplit("::", 1)[-1].split("[", 1)[0] for t in tests})


def _certify(target: str, caps: Path, suite: str, names: list[str], out: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "roucai.cli",
        "certify",
        "--target",
        target,
        "--capabilities",
        str(caps),
        "--suite",
        suite,
        "--report",
        str(out),
        *(["-k", " or ".join(names)] if names else []),
        "--timeout",
        "120",
    ]
    try:
        # a basetemp of its own: concurrent pytest runs on this machine prune each other's numbered temp folders
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTEST_ADDOPTS": f"--basetemp={out.parent / 'tmp'}"}
        p = subprocess.run(cmd, capture_output=True, timeout=RUN_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"rc": None, "tests": {}, "reasons": {}, "stderr": f"certify ran over {RUN_TIMEOUT_S} s"}
    res = out / "results.json"
    tests, reasons, recommended = {}, {}, []
    if res.is_file():
        doc = json.loads(res.read_text("utf-8"))
        recommended = doc["summary"].get("failed_recommended", [])
        tests = {t["nodeid"]: (t["verdict"], t["requirements"]) for t in doc["tests"]}
        reasons = {t["nodeid"]: t["reason_en"][:400] for t in doc["tests"] if t["verdict"] != "pass"}
    return {
        "rc": p.returncode,
        "tests": tests,
        "reasons": reasons,
        "failed_recommended": recommended,
        "stderr": p.stderr.decode("utf-8", "replace")[-1500:],
    }


def _platform_run(defect: str | None, suite: str, names: list[str], work: Path) -> dict:
    """A fresh reference platform behind the proxy with ``defect``; certify ``suite`` (tests ``names``) through it."""
    from conformance.platform_under_test import launch_builtin
    from conformance.proofs.proxy import ProxyThread
    from profiles import load_profile
    from simulators.city import generate_city

    with _LAUNCH:  # launch_builtin runs the admin command in this process with stdout redirected: one at a time
        city = generate_city("tiny", 1, load_profile())
        put = launch_builtin(
            city, work / "platform", args=["--stop-ack-deadline", "3", "--offline-after", str(OFFLINE_AFTER_S)]
        )
        from conformance.platform_under_test import admin
        from simulators.platform.regulators import Regulators

        regulator = city.city_code[:4] + "00"  # the problem-discovery tests act as the city's regulator
        with admin(put.db) as reg:
            (work / "regulator.key").write_text(
                Regulators(reg.store, reg.secret, reg.profile).register(regulator, "proofs"), "utf-8"
            )
    try:
        (work / "keys.toml").write_text("[keys]\n" + "".join(f'"{n}" = "{k}"\n' for n, k in put.keys.items()), "utf-8")
        caps = work / "platform.toml"
        caps.write_text(
            '[target]\nkind = "city_platform"\n[capabilities]\nkeys_file = "keys.toml"\n'
            + "".join(f"{c} = true\n" for c in PLATFORM_CAPS)
            + f"stop_ack_deadline_s = 3\noffline_after_s = {OFFLINE_AFTER_S}\n"
            + f'regulator_id = "{regulator}"\nregulator_key_file = "regulator.key"\n'
            + f"log_file = {json.dumps(str(work / 'platform' / 'platform.log'))}\n",
            "utf-8",
        )
        with ProxyThread(put.url, defect, 1, put.keys) as px:
            return _certify(px.url, caps, suite, names, work / "report")
    finally:
        put.close()


def _node_run(defect: str | None, suite: str, names: list[str], work: Path) -> dict:
    """The reference node with its uplink through the proxy (``defect``); certify ``suite`` (tests ``names``)."""
    work.mkdir(parents=True, exist_ok=True)
    start = NODE_START + (f" --defect {defect}" if defect else "")
    caps = work / "node.toml"
    caps.write_text(
        f'[target]\nkind = "node"\nstart_command = {json.dumps(start)}\n[capabilities]\n'
        + "".join(f"{c} = true\n" for c in (*NODE_ROLES, "node_scales", "handheld_intake")),
        "utf-8",
    )
    return _certify("node", caps, suite, names, work / "report")


def _selected(request) -> list[str]:
    mine = items_of_module(request)
    if any(it.originalname in ("test_every_defect_is_caught", "test_clean_proxy_is_conformant") for it in mine):
        return sorted(DEFECTS)
    return sorted({it.callspec.params["name"] for it in mine if hasattr(it, "callspec")})


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """``{defect or "clean:SIDE:SUITE": result}`` for the selected defects and the clean runs they imply."""
    by_req = _tests_by_requirement()
    root = tmp_path_factory.mktemp("http-defects")
    chosen = _selected(request)
    jobs, clean = {}, {}
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name in chosen:
            d = DEFECTS[name]
            kind = "node" if d.side == "node" else "server"
            tests = [
                t
                for t in by_req.get(d.breaks, [])
                if t.split("/", 1)[0] == d.suite
                and (d.suite != "transmission" or ("test_node_" in t) == (kind == "node"))
            ]
            if not tests:
                jobs[name] = None
                continue
            clean.setdefault((d.side, d.suite), set()).update(_names(tests))
            if d.side == "node":
                jobs[name] = pool.submit(_node_run, name, d.suite, _names(tests), root / name)
            else:
                jobs[name] = pool.submit(_platform_run, name, d.suite, _names(tests), root / name)
        for (side, suite), names in clean.items():
            key = f"clean:{side}:{suite}"
            work = root / key.replace(":", "-")
            # a clean platform behind the clean proxy runs the WHOLE suite (every test, not only those the
            # catalogue targets): a transparent proxy must leave a conformant platform conformant
            jobs[key] = (
                pool.submit(_node_run, None, suite, sorted(names), work)
                if side == "node"
                else pool.submit(_platform_run, None, suite, [], work)
            )
        out = {
            k: (
                f.result()
                if f is not None
                else {"rc": None, "tests": {}, "reasons": {}, "stderr": "no test of the suite names the requirement"}
            )
            for k, f in jobs.items()
        }
    out["_wall_s"] = time.monotonic() - t0
    return out


def _caught(name: str, r: dict) -> list[str]:
    brk = DEFECTS[name].breaks
    return [n for n, (v, reqs) in r["tests"].items() if v in CAUGHT and brk in reqs]


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_is_caught_by_a_test_naming_its_requirement(name, runs):
    d, r = DEFECTS[name], runs[name]
    assert _caught(name, r), (
        f"defect {name} ({d.side}, breaks {d.breaks}) was not caught by suite {d.suite}: "
        f"exit {r['rc']}, verdicts {r['tests']}, reasons {r['reasons']}\n{r['stderr']}"
    )
    if r["rc"] == 0 and d.breaks in r.get("failed_recommended", []):
        return  # a failed recommendation is reported, but leaves the target conformant (exit 0) by design
    assert r["rc"] in (1, 3), f"certify through the proxy with {name} must exit 1 (or 3), not {r['rc']}"


def test_clean_proxy_is_conformant(runs):
    """Without a defect the proxy is transparent: a clean platform behind it passes every test of the suites
    (exit 0), and a clean node behind it every test the catalogue relies on."""
    cleans = {k: r for k, r in runs.items() if k.startswith("clean:")}
    assert cleans
    bad = {
        k: (r["rc"], {n: v for n, (v, _r) in r["tests"].items() if v != "pass"}, r["reasons"], r["stderr"][-600:])
        for k, r in cleans.items()
        if r["rc"] != 0
    }
    assert not bad, f"the clean proxy must be CONFORMANT (exit 0): {bad}"


def test_every_defect_is_caught(runs, capsys):
    names = [k for k in runs if k in DEFECTS]
    caught = sorted(n for n in names if _caught(n, runs[n]))
    sides = {
        s: [sum(1 for n in caught if DEFECTS[n].side == s), sum(1 for n in names if DEFECTS[n].side == s)]
        for s in ("platform", "node")
    }
    line = (
        f"HTTP defects caught: {len(caught)}/{len(names)} — "
        + ", ".join(f"{s} {c}/{t}" for s, (c, t) in sides.items())
        + f"; wall time {runs['_wall_s']:.0f} s"
    )
    with capsys.disabled():
        print("\n" + line)
        for n in sorted(names):
            by = ", ".join(t.rsplit("::", 1)[-1] for t in _caught(n, runs[n])) or "NOT CAUGHT"
            print(f"  {n} ({DEFECTS[n].breaks}): {by}")
    assert len(caught) == len(names) >= 20, line
