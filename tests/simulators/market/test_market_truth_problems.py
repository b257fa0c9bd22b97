"""``roucai truth problems``: the tiny city simulated with record faults, uploaded to a real reference platform,
detection run by a registered regulator, the flags matched against the ledger; a platform that lost one kind's
flags fails; bad input and an unreachable platform give exit 2 and 3."""

import json
import sqlite3
import subprocess
import sys

from uploadkit import ROOT, city_file, platform, simulate_cli  # noqa: F401  (fixtures)

FAULTS = [
    "--fault",
    "silent_node=0.2",
    "--fault",
    "duplicate_trace_code=0.3",
    "--fault",
    "chain_break=0.1",
    "--fault",
    "stock_imbalance=0.1",
    "--fault",
    "silent_scale=0.1",
    "--fault",
    "certificate_overuse=1",
]


def cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_truth_problems_on_the_tiny_city(platform, tmp_path):
    proc, db, _keys, keys_path = platform
    ledger = tmp_path / "truth.jsonl"
    r = simulate_cli("--days", "2", "--ledger", str(ledger), "--to", proc.url, "--keys", str(keys_path), *FAULTS)
    assert r.returncode == 0, r.stderr
    r = cli("serve", "admin", "--db", str(db), "register-regulator", "650100", "--name", "市商务局", "--json")
    assert r.returncode == 0, r.stderr
    (tmp_path / "reg.key").write_text(json.loads(r.stdout)["key"])
    creds = ("--regulator", "650100", "--key-file", str(tmp_path / "reg.key"))
    args = ["truth", "problems", "--ledger", str(ledger), "--platform", proc.url, *creds]
    r = cli(*args, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    kinds = json.loads(r.stdout)["kinds"]
    for k in (
        "chain-break",
        "stock-imbalance",
        "duplicate-trace-code",
        "silent-node",
        "silent-scale",
        "certificate-overuse",
    ):
        assert kinds[k]["expected"] > 0 and kinds[k]["precision"] == kinds[k]["recall"] == 1.0, (k, kinds[k])
    assert kinds["price-outlier"]["expected"] == kinds["price-outlier"]["flagged"] == 0
    r = cli(*args, "--no-detect", "--lang", "en")
    assert r.returncode == 0 and "chain break" in r.stdout and "100.0%" in r.stdout
    # a platform that lost its chain-break flags: recall 0 for that kind, exit 1
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM problems WHERE kind = 'chain-break'")
    r = cli(*args, "--no-detect", "--json")
    assert r.returncode == 1
    bad = json.loads(r.stdout)["kinds"]["chain-break"]
    assert bad["recall"] == 0.0 and bad["flagged"] == 0 and len(bad["missed"]) == min(20, bad["expected"])
    # a truncated ledger is refused (exit 2), an unreachable platform is exit 3
    (tmp_path / "cut.jsonl").write_text("".join(ledger.read_text().splitlines(True)[:-1]))
    r = cli("truth", "problems", "--ledger", str(tmp_path / "cut.jsonl"), "--platform", proc.url, *creds)
    assert (
        r.returncode == 2
        and "truncated"
        in cli(
            "truth", "problems", "--ledger", str(tmp_path / "cut.jsonl"), "--platform", proc.url, *creds, "--lang", "en"
        ).stderr
    )
    r = cli("truth", "problems", "--ledger", str(ledger), "--platform", "http://127.0.0.1:9", *creds)
    assert r.returncode == 3 and "平台不可达" in r.stderr
    r = cli("truth", "problems", "--ledger", str(ledger), "--platform", proc.url, "--regulator", "650100")
    assert r.returncode == 2 and "ROUCAI_REGULATOR_KEY" in r.stderr
    # the list answers a regulator only (none given: exit 2), for its jurisdiction: another city's sees nothing
    r = cli("truth", "problems", "--ledger", str(ledger), "--platform", proc.url)
    assert r.returncode == 2 and "--regulator" in r.stderr, r.stderr
    r = cli("serve", "admin", "--db", str(db), "register-regulator", "659001", "--name", "石河子市商务局", "--json")
    (tmp_path / "other.key").write_text(json.loads(r.stdout)["key"])
    other = ("--regulator", "659001", "--key-file", str(tmp_path / "other.key"))
    r = cli(*args[:6], *other, "--no-detect", "--json")
    assert r.returncode == 1 and all(k["flagged"] == 0 for k in json.loads(r.stdout)["kinds"].values()), r.stdout
    r = cli(*args[:6], "--regulator", "650100", "--key-file", str(tmp_path / "other.key"), "--no-detect")
    assert r.returncode == 2 and "HTTP 401" in r.stderr, r.stderr  # a wrong key: refused


def test_overuse_truth_counts_meat_out_uploaded_within_the_run_only():
    """The truth of certificate-overuse: 1 pig recorded (bound 130 kg × 1.1); 100 kg + 50 kg out under a product
    certificate of that intake alone expose it, unless the 50 kg were first uploaded after the run's last day;
    meat under a product certificate shared with another intake is not counted."""
    from profiles import load_profile
    from simulators.market.problemtruth import _exposed_overuse

    rule = load_profile().problems.kind("certificate-overuse")
    origin_of = {("S", "P1"): {"AQ1"}, ("S", "P2"): {"AQ1", "AQ2"}}

    def truth(late_day, shared_kg=0.0):
        out = {"certificate-overuse": set()}
        meat = [
            ("S", "P1", "21111001", 100.0, 0),
            ("S", "P1", "21111002", 50.0, late_day),
            ("S", "P2", "21111001", shared_kg, 0),
        ]
        _exposed_overuse(rule, {"S:AQ1": ("20250106", 1)}, origin_of, meat, 2, out)
        return out["certificate-overuse"]

    assert truth(1) == {("certificate-overuse", "S:AQ1")}
    assert truth(2) == set()  # uploaded on day 3 of a 2-day run: never detected
    assert truth(2, shared_kg=500.0) == set()


def test_trade_after_stop_and_late_uploads_agree_with_the_truth(platform, tmp_path):
    """Tiny, 4 days, every sampled vegetable batch failing its test, every stopped farmers' market lot sold on
    (trade_after_stop = 1) and 30 % of the records uploaded late: the ledger's true cases of both new kinds are
    exactly what the platform flags (each kind has cases); a platform that lost one kind's flags fails."""
    import datetime as dt

    from simulators.city import generate_city
    from simulators.market.ledger import Ledger
    from simulators.market.model import MarketModel
    from simulators.market.output import EnvelopeBatcher
    from simulators.market.rates import Rates
    from simulators.market.upload import Uploader, ingest_url, run_sharded
    from uploadkit import P

    proc, db, keys, _keys_path = platform
    rates = Rates.load(overrides={"volume": {"detection_pass_rate": 0.0}})
    start = dt.date(2025, 3, 10)
    live = EnvelopeBatcher(P, start, rates.upload["node_batch_s"])
    ledger_path = tmp_path / "truth.jsonl"
    with ledger_path.open("w", encoding="utf-8") as fh:
        ledger = Ledger(fh, deadline_grace_s=rates.upload["deadline_grace_s"])
        MarketModel(
            generate_city("tiny", 1, P),
            P,
            seed=1,
            start=start,
            days=4,
            rates=rates,
            fault_rates={**rates.faults, "trade_after_stop": 1.0, "late_upload": 0.3},
            ledger=ledger,
            record_hooks=[live.add],
        ).run()
        ledger.finish()
    up = run_sharded(lambda: Uploader(P.envelope, ingest_url(proc.url), keys), list(live.batches()), 1)
    assert up.accepted > 0 and all(r.startswith("2012") for r in up.reasons), up.to_dict()  # tests before entries
    r = cli("serve", "admin", "--db", str(db), "register-regulator", "650100", "--name", "市商务局", "--json")
    assert r.returncode == 0, r.stderr
    (tmp_path / "reg.key").write_text(json.loads(r.stdout)["key"])
    creds = ("--regulator", "650100", "--key-file", str(tmp_path / "reg.key"))
    args = ["truth", "problems", "--ledger", str(ledger_path), "--platform", proc.url, "--json", *creds]
    r = cli(*args, timeout=300)
    kinds = json.loads(r.stdout)["kinds"]
    for k in ("trade-after-stop", "late-upload"):
        assert kinds[k]["expected"] > 0 and kinds[k]["precision"] == kinds[k]["recall"] == 1.0, (k, kinds[k])
    assert kinds["late-upload"]["injected"] >= kinds["late-upload"]["expected"]
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM problems WHERE kind = 'trade-after-stop'")
    r = cli(*args, "--no-detect")
    assert r.returncode == 1 and json.loads(r.stdout)["kinds"]["trade-after-stop"]["recall"] == 0.0
