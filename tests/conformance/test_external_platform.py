"""An external platform certified as a contractor does it: the reference platform started EXACTLY as
docs/platform.md says (import-city -> keys-out -> serve platform, in its own process), then
``roucai certify --target http://127.0.0.1:PORT --suite platform,transmission`` with the shipped
``fixtures/capabilities/platform-example.toml`` (node monitoring and a regulator declared): CONFORMANT, with
problem discovery, the district figures and the regulator-only reads judged (pass), not "not applicable".

The same running platform then shows that setup problems are refused before any test: wrong keys
(exit 2), a node missing from the keys file (exit 2), a statement of the wrong kind (exit 2); and that
``restart_command`` is detached and readiness means healthy.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.bundle import verify_bundle

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "capabilities" / "platform-example.toml"
DOC_PORT = "8553"
#: The walk-through, word for word as docs/platform.md and docs/certify.md give it.
WALKTHROUGH = [
    "roucai fixtures city --preset tiny --seed 1 --out tiny.json",
    "roucai serve admin --db cert.db import-city tiny.json --keys-out keys.json",
    "roucai serve admin --db cert.db register-regulator 650100 --name 乌鲁木齐市商务局 --key-out regulator.key",
    "roucai serve platform --db cert.db --port 8553 --offline-after 5 --stop-ack-deadline 3 --pid-file platform.pid"
    " 2> platform.log",
    "cp fixtures/capabilities/platform-example.toml .",
    "roucai certify --target http://127.0.0.1:8553 --capabilities platform-example.toml --suite platform,transmission",
]
CJK = re.compile(r"[\u4e00-\u9fff]")


def roucai(*args: str) -> list[str]:
    return [sys.executable, "-m", "roucai.cli", *args]


def test_the_docs_give_the_walkthrough_word_for_word():
    for doc in ("docs/platform.md", "docs/certify.md"):
        text = (ROOT / doc).read_text("utf-8")
        missing = [line for line in WALKTHROUGH if line not in text]
        assert not missing, f"{doc} does not give these steps: {missing}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The walk-through's first four steps in a fresh folder; the platform on a free port instead of 8553
    (ready when its pid file appears).  Yields (folder, base URL)."""
    work = tmp_path_factory.mktemp("contractor")
    for line in WALKTHROUGH[:3]:
        subprocess.run(roucai(*line.split()[1:]), cwd=work, check=True, capture_output=True, timeout=120)
    argv = WALKTHROUGH[3].split()[1:-2]
    port = free_port()  # fixed for the run: the restart must come back on the same port
    argv[argv.index(DOC_PORT)] = str(port)
    log = open(work / "platform.log", "wb")
    proc = subprocess.Popen(
        roucai(*argv), cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
    end = time.monotonic() + 30
    while not (work / "platform.pid").is_file() and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.1)
    assert (work / "platform.pid").is_file(), (
        f"the platform did not start: {(work / 'platform.log').read_text('utf-8', 'replace')[-2000:]}"
    )
    shutil.copy(EXAMPLE, work / EXAMPLE.name)
    yield work, f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certify(work: Path, url: str, *extra: str, statement: str = EXAMPLE.name, timeout: float = 400):
    argv = WALKTHROUGH[5].replace(f"http://127.0.0.1:{DOC_PORT}", url).split()[1:]
    argv[argv.index(EXAMPLE.name)] = statement
    return subprocess.run(roucai(*argv, *extra), cwd=work, capture_output=True, text=True, timeout=timeout)


def test_reference_platform_started_as_documented_is_conformant(reference):
    work, url = reference
    p = certify(work, url, "--json", "--report", "rep")
    doc = json.loads(p.stdout)  # --json: stdout is one JSON object, nothing else
    res = json.loads((work / "rep" / "results.json").read_text("utf-8"))
    bad = {
        t["nodeid"]: (t["verdict"], t["reason_en"][:300])
        for t in res["tests"]
        if t["verdict"] not in ("pass", "not-applicable")
    }
    assert not bad, f"the reference platform must pass every applicable test: {bad}"
    assert p.returncode == 0 and doc["verdict"] == "CONFORMANT" and doc["conformant"] is True, (doc, p.stderr[-2000:])
    verdicts = {r["id"]: r["verdict"] for r in res["requirements"]}
    for rid in (
        "PLAT-MON-01",
        "PLAT-MAINT-01",
        "PLAT-STOP-02",
        "PLAT-ING-02",
        "PLAT-TRACE-01",
        "TRAN-ENV-05",
        "PLAT-DUR-01",
        # the declared regulator: problem discovery, district figures, and everyone else refused
        *(f"PLAT-PROB-{i:02d}" for i in range(1, 11)),
        *(f"PLAT-DIST-{i:02d}" for i in range(1, 4)),
        "PLAT-SEC-12",
    ):
        assert verdicts.get(rid) == "pass", f"{rid}: {verdicts.get(rid)}"
    node_tests = [t for t in res["tests"] if "/test_node_" in t["nodeid"] or "test_operator_base" in t["name"]]
    assert node_tests and all(t["verdict"] == "not-applicable" and "node" in t["selection_en"] for t in node_tests), (
        "node-only tests must not run against a platform"
    )
    assert verify_bundle(work / "rep" / "bundle.zip") == []


def test_english_summary_is_a_table_without_chinese(reference):
    work, url = reference
    p = certify(work, url, "--lang", "en", "--report", "rep-en", "-k", "test_time or test_health")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert not CJK.findall(p.stdout + p.stderr), (p.stdout + p.stderr)[:2000]
    assert any(line.startswith("PLAT-TIME-01") and " | " in line for line in p.stdout.splitlines()), p.stdout
    assert "verdict: CONFORMANT" in p.stdout and "{" not in p.stdout


def _refused(p, code: int, *words: str):
    lines = (p.stdout + p.stderr).strip().splitlines()
    assert p.returncode == code, (p.returncode, lines)
    assert 1 <= len(lines) <= 5 and "Traceback" not in p.stdout + p.stderr, lines
    text = " ".join(lines)
    for w in words:
        assert w in text, (w, lines)


def test_wrong_keys_are_refused_before_any_test(reference):
    work, url = reference
    keys = json.loads((work / "keys.json").read_text("utf-8"))
    node = sorted(keys)[1]
    (work / "wrong.json").write_text(json.dumps({**keys, node: "0" * 32}), "utf-8")
    (work / "missing.json").write_text(json.dumps({k: v for k, v in keys.items() if k != node}), "utf-8")
    for name, words in (("wrong.json", ("wrong keys", node)), ("missing.json", ("no key", node))):
        text = EXAMPLE.read_text("utf-8").replace('keys_file = "keys.json"', f'keys_file = "{name}"')
        (work / f"st-{name}.toml").write_text(text, "utf-8")
        p = certify(work, url, "--lang", "en", "--report", f"rep-{name}", statement=f"st-{name}.toml", timeout=60)
        _refused(p, 2, *words)
        assert not (work / f"rep-{name}" / "results.json").exists()
        assert "refused" in (work / f"rep-{name}" / "certify.log").read_text("utf-8")


def test_a_declared_regulator_without_its_key_is_refused_before_any_test(reference):
    """The walk-through's statement declares regulator 650100 and its key file: a missing key file, or only half
    the declaration, is a setup problem (exit 2, one line), never a run of 401 answers judged as the platform's."""
    work, url = reference
    text = EXAMPLE.read_text("utf-8")
    assert 'regulator_key_file = "regulator.key"' in text and 'regulator_id = "650100"' in text
    cases = {
        "no-key-file": (text.replace('"regulator.key"', '"absent.key"'), ("absent.key", "register-regulator")),
        "half": (text.replace('regulator_id = "650100"', "# no regulator id"), ("regulator_id", "both")),
    }
    for name, (statement, words) in cases.items():
        (work / f"st-{name}.toml").write_text(statement, "utf-8")
        p = certify(work, url, "--lang", "en", "--report", f"rep-{name}", statement=f"st-{name}.toml", timeout=60)
        _refused(p, 2, *words)
        assert not (work / f"rep-{name}" / "results.json").exists()


def test_statement_of_another_kind_is_refused(reference):
    work, url = reference
    (work / "scale.toml").write_text(
        EXAMPLE.read_text("utf-8").replace('kind = "city_platform"', 'kind = "scale"'), "utf-8"
    )
    _refused(certify(work, url, "--report", "rep-kind", statement="scale.toml", timeout=60), 2, "scale")


def test_restart_command_is_detached_and_waits_for_health(reference, tmp_path):
    """A restart command that leaves a daemon holding stdout/stderr returns at once (the harness does
    not wait for the daemon's pipes); readiness is the health endpoint answering healthy."""
    from conformance.platform_under_test import connect_external

    work, url = reference
    caps = {
        "keys_file": "keys.json",
        "restart_command": "sh -c 'sleep 30 & echo restarted; echo err >&2'",
        "restart_timeout_s": 20,
    }
    put = connect_external(url, caps, work)
    put.restart_log = tmp_path / "restart.log"
    t0 = time.monotonic()
    put.restart()
    assert time.monotonic() - t0 < 5, "restart_command's daemon kept the harness waiting"
    assert put.restart_log.read_text("utf-8").split() == ["restarted", "err"]
