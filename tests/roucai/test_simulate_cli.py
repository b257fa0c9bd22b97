"""`roucai simulate` and `roucai truth`: files, summaries, exit codes, bad options refused before the run."""

from __future__ import annotations

import json

import pytest

from roucai.cli import main


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    argv = [
        "simulate",
        "--preset",
        "tiny",
        "--seed",
        "3",
        "--date",
        "2025-03-10",
        "--out",
        d / "s.jsonl",
        "--ledger",
        d / "l.jsonl",
        "--envelopes",
        d / "env",
        "--plot",
        d / "p.png",
        "--json",
        "--quiet",
    ]
    rc = main([str(a) for a in argv])
    return rc, d


def test_simulate_writes_every_output_and_a_json_summary(simulated, capsys):
    rc, d = simulated
    assert rc == 0
    for name in ("s.jsonl", "l.jsonl", "p.png"):
        assert (d / name).stat().st_size > 0
    assert any((d / "env").rglob("*.xml"))
    rc, out, err = run(
        capsys, "simulate", "--preset", "tiny", "--seed", "3", "--date", "2025-03-10", "--json", "--quiet"
    )
    s = json.loads(out)
    assert rc == 0 and s["preset"] == "tiny" and s["records_by_node_type"]["farmers_market"] > 0
    assert 0 < s["kpis"]["scale_usage"]["overall"] <= 1 and s["retail_tonnes_by_category"]


def test_human_summary_in_both_languages(capsys):
    rc, out, _ = run(capsys, "simulate", "--preset", "tiny", "--quiet")
    assert rc == 0 and "追溯秤使用率" in out and "按节点类型的记录数" in out
    rc, out, _ = run(capsys, "simulate", "--preset", "tiny", "--quiet", "--lang", "en", "--no-faults")
    assert rc == 0 and "traceability-scale usage (true): 100.0%" in out and "faults injected" not in out


@pytest.mark.parametrize(
    "argv, word",
    [
        (["--preset", "atlantis"], "unknown preset"),
        (["--preset", "tiny", "--date", "2025-02-30"], "--date"),
        (["--preset", "tiny", "--date", "yesterday"], "--date"),
        (["--preset", "tiny", "--days", "0"], "--days"),
        (["--preset", "tiny", "--days", "400"], "--days"),
        (["--preset", "tiny", "--speed", "fast"], "--speed"),
        (["--preset", "tiny", "--speed", "x0"], "--speed"),
        (["--preset", "tiny", "--speed", "x-5"], "--speed"),
        (["--preset", "tiny", "--fault", "gremlins=0.5"], "NAME=RATE"),
        (["--preset", "tiny", "--fault", "late_upload=1.5"], "0..1"),
        (["--preset", "tiny", "--seed", "-1"], "non-negative"),
        (["--preset", "tiny", "--plot", "day.jpg"], ".png"),
        (["--preset", "tiny", "--out", "/nonexistent-dir/x.jsonl"], "does not exist"),
    ],
)
def test_bad_options_exit_2_with_a_message(capsys, argv, word):
    rc, out, err = run(capsys, "--lang", "en", "simulate", *argv, "--quiet")
    assert rc == 2 and word in err and "Traceback" not in err


def test_realtime_speed_factor(capsys):
    import time

    t = time.monotonic()
    rc, out, _ = run(capsys, "simulate", "--preset", "tiny", "--speed", "x400000", "--quiet", "--json")
    assert rc == 0 and time.monotonic() - t >= 86400 / 400000


def test_truth_chain_totals_kpis_check(simulated, capsys):
    rc, d = simulated
    ledger = d / "l.jsonl"
    sale = next(json.loads(x) for x in (d / "s.jsonl").read_text().splitlines() if '"scale_sale"' in x)["data"][
        "trace_code"
    ]
    rc, out, _ = run(capsys, "truth", "chain", sale, "--ledger", ledger)
    assert rc == 0 and "零售" in out and "产地" in out
    rc, out, _ = run(capsys, "truth", "chain", sale, "--ledger", ledger, "--json")
    j = json.loads(out)
    assert rc == 0 and j["complete"] and j["chain"][0]["id"] == sale and j["chain"][-1]["kind"] == "origin"
    rc, out, _ = run(capsys, "truth", "chain", "65010300200039999999", "--ledger", ledger)
    assert rc == 1
    rc, out, _ = run(capsys, "truth", "totals", "--ledger", ledger, "--json")
    assert rc == 0 and json.loads(out)["by_node_type"]["farmers_market"]["sold"] > 0
    rc, out, _ = run(capsys, "truth", "totals", "--ledger", ledger, "--day", "0", "--lang", "en")
    assert rc == 0 and "day 0 node" in out
    rc, out, _ = run(capsys, "truth", "kpis", "--ledger", ledger, "--lang", "en")
    assert rc == 0 and "traceability-scale usage" in out
    rc, out, _ = run(capsys, "truth", "check", "--ledger", ledger, "--json")
    assert rc == 0 and json.loads(out)["ok"] and json.loads(out)["sales"] > 0


def test_truth_with_a_missing_or_bad_ledger_exits_2(capsys, tmp_path):
    rc, _, err = run(capsys, "--lang", "en", "truth", "kpis", "--ledger", tmp_path / "none.jsonl")
    assert rc == 2 and "not found" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n")
    rc, _, err = run(capsys, "--lang", "en", "truth", "check", "--ledger", bad)
    assert rc == 2 and "not a valid ledger" in err


def test_device_mode_gives_the_same_stream(capsys, tmp_path):
    fast, dev = tmp_path / "f.jsonl", tmp_path / "d.jsonl"
    rc1, _, _ = run(capsys, "simulate", "--preset", "tiny", "--seed", "5", "--out", fast, "--quiet")
    rc2, out, _ = run(
        capsys,
        "simulate",
        "--preset",
        "tiny",
        "--seed",
        "5",
        "--out",
        dev,
        "--quiet",
        "--mode",
        "devices",
        "--lang",
        "en",
    )
    assert rc1 == rc2 == 0 and "mode devices" in out
    assert fast.read_bytes() == dev.read_bytes()
    assert "SALE_EVENT frames" in out and "card readers" in out


def test_device_mode_summary_counts_what_crossed_the_lines(capsys):
    rc, out, _ = run(capsys, "simulate", "--preset", "tiny", "--seed", "5", "--quiet", "--mode", "devices", "--json")
    d = json.loads(out)["devices"]
    assert rc == 0 and d["sale_events"] == d["records_received"] > 0 and d["host_errors"] == 0
    assert 0 < d["load_batch"] < d["sale_events"] and d["scales"] > 0
    assert d["cards_read"] == d["card_trades"] and sum(d["handheld_entries"].values()) > 0
    rc, out, _ = run(capsys, "simulate", "--preset", "tiny", "--seed", "5", "--quiet", "--json")
    assert rc == 0 and "devices" not in json.loads(out)


def test_ctrl_c_leaves_no_output_under_a_final_name(tmp_path):
    """SIGINT mid-run: exit 3, neither the stream nor the ledger appears (nor their .partial files)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out, led = tmp_path / "day.jsonl", tmp_path / "ledger.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "roucai.cli",
        "simulate",
        "--preset",
        "lanzhou",
        "--seed",
        "1",
        "--quiet",
        "--out",
        str(out),
        "--ledger",
        str(led),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=os.getcwd())
    partial = tmp_path / "ledger.jsonl.partial"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # wait until records are being written
        if any(f.exists() and f.stat().st_size > 100_000 for f in (partial, led)):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "已中断" in err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
