"""Dialect traffic over HTTPS on the real path (issue 12, must-show): a Guangzhou simulation day uploaded to the
reference platform run with the guangzhou profile, HTTPS with a self-signed certificate, on
/dts_if/servlet/IfRevSubServlet, and accepted; the platform answering a dialect envelope with all its findings;
the same platform certified with the dialect's traffic (certify --profile guangzhou --ca)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from profiles import load_profile
from simulators.city import dump_bytes, generate_city
from simulators.platform.launcher import PlatformProcess
from tests.regulatorkit import declare_regulator, register_regulator

ROOT = Path(__file__).resolve().parents[2]
REAL_PATH = "/dts_if/servlet/IfRevSubServlet"
GZ = load_profile("guangzhou")
DATE = "2025-03-10"


def cli(*args, cwd=ROOT, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def guangzhou_platform(d: Path):
    """The reference platform, --profile guangzhou, HTTPS (self-signed certificate made in d/tls), the tiny
    city imported (keys in d/keys.json), its log in d/platform.log, its pid file d/platform.pid (restartable in
    place with ``roucai serve restart``: a fixed port, which a restart keeps)."""
    (d / "city.json").write_bytes(dump_bytes(generate_city("tiny", 1, GZ)))
    r = cli(
        "--profile",
        "guangzhou",
        "serve",
        "admin",
        "--db",
        str(d / "p.db"),
        "import-city",
        str(d / "city.json"),
        "--keys-out",
        str(d / "keys.json"),
    )
    assert r.returncode == 0, r.stderr
    args = [
        "--profile",
        "guangzhou",
        "--tls-self-signed",
        str(d / "tls"),
        "--offline-after",
        "5",
        "--stop-ack-deadline",
        "3",
        "--port",
        str(free_port()),
        "--pid-file",
        str(d / "platform.pid"),
    ]
    with PlatformProcess(str(d / "p.db"), args=args, cwd=str(ROOT), timeout=30, log_file=d / "platform.log") as proc:
        assert proc.url.startswith("https://")
        yield proc


@pytest.fixture(scope="module")
def gz_platform(tmp_path_factory):
    d = tmp_path_factory.mktemp("gz-https")
    with guangzhou_platform(d) as proc:
        yield proc, d


def test_a_guangzhou_day_uploaded_over_https_on_the_real_path_is_accepted(gz_platform, tmp_path):
    proc, d = gz_platform
    stream = tmp_path / "day.jsonl"
    common = [
        "--profile",
        "guangzhou",
        "--lang",
        "en",
        "simulate",
        "--preset",
        "tiny",
        "--seed",
        "1",
        "--date",
        DATE,
        "--quiet",
        "--to",
        proc.url + REAL_PATH,
        "--keys",
        str(d / "keys.json"),
    ]
    refused = cli(*common)  # the self-signed certificate is not trusted
    assert refused.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
    r = cli(*common, "--ca", str(d / "tls" / "cert.pem"), "--out", str(stream), "--json")
    assert r.returncode == 0, r.stderr
    up = json.loads(r.stdout)["upload"]
    assert up["rejected"] == 0 and up["lost"] == 0 and up["unsent"] == 0 and up["accepted"] > 0, up
    sent = [json.loads(x) for x in stream.read_text("utf-8").splitlines()]
    sent = [o for o in sent if o.get("k") == "record" and o["type"] in GZ.records.types]
    with sqlite3.connect(d / "p.db") as c:
        rows = c.execute("SELECT rtype, body, original FROM records").fetchall()
    assert len(rows) == up["accepted"]
    # one stored record per distinct record the model sent (the duplicates it sent twice are answered duplicate)
    assert len(rows) == len({(o["node"], o["type"], json.dumps(o["data"], sort_keys=True)) for o in sent})
    # what arrived is Guangzhou's form, kept as the original beside the canonical body: yyyy-MM-dd dates,
    # market_code in supermarket entries; tran details without the reference's header fields
    originals = " ".join(o for _t, _b, o in rows if o)
    assert f"{DATE}" in originals and "market_code" in originals
    tran = [b for t, b, _o in rows if t == "market_tran_info_detail"]
    assert tran and all("market_id" not in b and "tran_date" not in b for b in tran)


def test_the_platform_answers_a_dialect_envelope_with_every_finding(gz_platform):
    proc, d = gz_platform
    keys = json.loads((d / "keys.json").read_text("utf-8"))
    city = json.loads((d / "city.json").read_text("utf-8"))
    node = next(n["code"] for n in city["nodes"] if n["type"] == "vegetable_wholesale")
    good = {
        "tran_id": node + "00010000001",
        "qua_id": "Q-1",
        "batch_id": node + "0000001",
        "goods_code": "01201001",
        "goods_name": "大白菜",
        "weight": "10.5",
        "price": "1.20",
        "dest": "广州",
    }
    bad = {**good, "tran_id": node + "00010000002", "weight": "ten", "price": "-1"}
    spec = GZ.envelope
    from profiles.envelope import format_request_time
    import datetime as dt

    now = format_request_time(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None))
    # the records are already in Guangzhou's form (qua_id): written as given
    body = spec.build(node, "market_tran_info_detail", [good, bad], keys[node], request_time=now)
    r = httpx.post(
        proc.url + REAL_PATH,
        content=body,
        headers={"Content-Type": "application/xml; charset=utf-8"},
        verify=ssl.create_default_context(cafile=str(d / "tls" / "cert.pem")),
    )
    resp, problems = spec.parse_response(r.content)
    assert r.status_code == 200 and resp is not None and not problems, (r.status_code, r.text[:500], problems)
    assert [x.verdict for x in resp.results] == ["accepted", "rejected"]
    fields = {f["field"] if isinstance(f, dict) and "field" in f else f.get("Field") for f in resp.results[1].findings}
    assert {"weight", "price"} <= fields, resp.results[1].findings
    for f in resp.results[1].findings:
        assert (f.get("zh") or f.get("Zh")) and (f.get("en") or f.get("En")) and (f.get("rule") or f.get("Rule"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_a_dialect_platform_is_certified_over_https_on_the_whole_platform_suite(tmp_path):
    """certify --profile guangzhou --suite platform, the WHOLE suite (no -k) with the capability statement of the
    reference run: the suites' uploads are written in Guangzhou's form (profiles/forms.py) and posted over HTTPS
    (--ca) on the real path; CONFORMANT, every test run, none failed.  PLAT-KPI-01 among them: Guangzhou's
    wholesale detail carries no wholesaler_id, the platform names the seller by the voucher's issuer."""
    d = tmp_path / "platform"
    d.mkdir()
    with guangzhou_platform(d) as proc:
        caps = (ROOT / "fixtures" / "capabilities" / "platform-example.toml").read_text("utf-8")
        caps = caps.replace('keys_file = "keys.json"', f'keys_file = "{d / "keys.json"}"')
        caps = caps.replace('log_file = "platform.log"', f'log_file = "{d / "platform.log"}"')
        caps = caps.replace('upload_path = "/api/v1/exchange"', f'upload_path = "{REAL_PATH}"')
        caps = caps.replace("--pid-file platform.pid", f"--pid-file {d / 'platform.pid'}")
        caps = declare_regulator(caps, d / "p.db", d, ("--profile", "guangzhou"))  # the signed reads
        (tmp_path / "caps.toml").write_text(caps, "utf-8")
        base = [
            "--profile",
            "guangzhou",
            "--lang",
            "en",
            "certify",
            "--target",
            proc.url,
            "--capabilities",
            str(tmp_path / "caps.toml"),
            "--suite",
            "platform",
        ]
        untrusted = cli(*base, "-k", "test_health", "--report", str(tmp_path / "rep0"), timeout=120)
        assert untrusted.returncode in (2, 3) and "CERTIFICATE_VERIFY_FAILED" in (
            untrusted.stdout + untrusted.stderr + (tmp_path / "rep0" / "certify.log").read_text("utf-8")
        )
        r = cli(*base, "--ca", str(d / "tls" / "cert.pem"), "--report", str(tmp_path / "rep"), timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    res = json.loads((tmp_path / "rep" / "results.json").read_text("utf-8"))
    assert res["summary"]["verdict"] == "CONFORMANT" and res["profile"]["name"] == "guangzhou"
    level = {q["id"]: q["level"] for q in res["requirements"]}
    # the recommended response-time tests (300 TLS handshakes within 3 s…) ran and gave a verdict; on this shared
    # two-core machine their timing is not asserted here (test_external_platform.py asserts them, over HTTP), nor
    # whether the harness was fit to judge them (conformance/platform/timing_gate.py: not judgeable otherwise)
    timing = {
        t["nodeid"]
        for t in res["tests"]
        if (t["verdict"] == "fail" or t["reason_en"].startswith("not judgeable: the harness could not"))
        and all(r.startswith("PLAT-PERF-") and level.get(r) == "recommended" for r in t["requirements"])
    }
    bad = {
        t["nodeid"]: (t["verdict"], t["reason_en"][:300])
        for t in res["tests"]
        if t["verdict"] not in ("pass", "not-applicable") and t["nodeid"] not in timing
    }
    assert not bad, bad
    # the whole suite ran: a test of every file of conformance/platform, and only what the statement (a capability
    # the reference run's statement does not declare either) rules out is not applicable - never the dialect, nor
    # the transport (the slow-connection probe holds its connections over TLS)
    files = {p.name for p in (ROOT / "conformance" / "platform").glob("test_*.py")}
    assert {t["nodeid"].split("::")[0].rsplit("/", 1)[-1] for t in res["tests"]} == files
    na = {
        t["nodeid"]: t["reason_en"]
        for t in res["tests"]
        if t["verdict"] == "not-applicable" and t["nodeid"] not in timing
    }
    by_statement = re.compile(
        r"capability '\w+' is not declared|not applicable: the capability statement declares no .+"
    )
    assert all(by_statement.fullmatch(why) for why in na.values()), na
    verdicts = {q["id"]: q["verdict"] for q in res["requirements"]}
    for rid in ("PLAT-KPI-01", "PLAT-DUR-01", "PLAT-ING-01", "PLAT-TRACE-01", "PLAT-SEC-01", "PLAT-STOP-01"):
        assert verdicts.get(rid) == "pass", (rid, verdicts.get(rid))


@pytest.mark.load
def test_a_dialect_load_test_over_https_reconciles(tmp_path):
    """roucai load --profile guangzhou against the HTTPS dialect platform: refused without --ca (exit 3); with it
    the plan (built in Guangzhou's forms, its own cache key) is uploaded, answered and reconciled (exit 0)."""
    d = tmp_path / "platform"
    d.mkdir()
    slo = tmp_path / "slo.toml"
    slo.write_text("[correctness]\nmax_failed = 0\nmax_wrong_verdicts = 0\n[reconcile]\nrequired = true\n", "utf-8")
    with guangzhou_platform(d) as proc:
        # the reconciliation reads the platform's statistics, which answer a registered regulator only
        key_file = register_regulator(d / "p.db", d, ("--profile", "guangzhou"))
        base = [
            "--profile",
            "guangzhou",
            "--lang",
            "en",
            "load",
            "--regulator",
            "650100",
            "--regulator-key-file",
            str(key_file),
            "--target",
            proc.url,
            "--keys",
            str(d / "keys.json"),
            "--preset",
            "tiny",
            "--duration",
            "10s",
            "--drain",
            "10",
            "--slo",
            str(slo),
            "--cache",
            str(tmp_path / "cache"),
        ]
        refused = cli(*base, "--report", str(tmp_path / "rep0"), timeout=240)
        assert refused.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr[-1500:]
        r = cli(*base, "--ca", str(d / "tls" / "cert.pem"), "--report", str(tmp_path / "rep"), "--json", timeout=300)
    assert r.returncode == 0, r.stdout[-2500:] + r.stderr[-1500:]
    s = json.loads(r.stdout)
    assert s["verdict"] == "pass" and s["breaches"] == [] and s["reconcile"]["ok"], s
    t = s["reconcile"]["totals"]
    assert t["stored"] == t["acknowledged"] == t["truth"] > 0
    assert s["uploads"]["answered"] == s["uploads"]["planned"] == s["plan"]["envelopes"]
    assert s["endpoints"]["GET /api/v1/trace/{code}"]["requests"] > 0  # the consumers' HTTPS client too
