"""The README's exit-code table, row by row, through the console script as a user runs it.

0 ok · 1 non-conformant input or target · 2 usage or configuration · 3 unreachable, timeout, harness
failure or interrupted.  Every failing row also says so in at most a few lines, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEAD = "127.0.0.1:1"  # nothing listens on port 1 of the loopback


def roucai(*argv, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        stdin=subprocess.DEVNULL,
    )


def one_clear_line(r) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert 1 <= len(r.stderr.strip().splitlines()) <= 5, r.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["codes", "check", "650102001"],
        ["records", "validate", "fixtures/records/valid/market_in_info_detail.xml"],
    ],
)
def test_row_0_ok(argv):
    assert roucai(*argv).returncode == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["codes", "check", "65010200X"],
        ["records", "validate", "fixtures/records/invalid/bad_date_and_code.xml"],
    ],
)
def test_row_1_non_conformant_input(argv):
    r = roucai("--lang", "en", *argv)
    assert r.returncode == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["codes", "check", "--no-such-option"],
        ["records", "validate", "no/such/file.xml"],
        ["truth", "kpis", "--ledger", "no/such/ledger.jsonl"],
        ["simulate", "--preset", "atlantis"],
        ["certify", "--capabilities", "no/such/capabilities.toml"],
    ],
)
def test_row_2_usage_or_configuration(argv):
    r = roucai("--lang", "en", *argv)
    assert r.returncode == 2
    one_clear_line(r)


def test_row_3_unreachable_targets(tmp_path):
    keys = tmp_path / "keys.json"
    city = tmp_path / "tiny.json"
    assert roucai("fixtures", "city", "--preset", "tiny", "--seed", "1", "--out", city).returncode == 0
    keys.write_text(json.dumps({n["code"]: "k" for n in json.loads(city.read_text("utf-8"))["nodes"]}), "utf-8")
    for argv in (
        ["device", "drive", f"socket://{DEAD}", "identify"],
        ["device", "handheld", "--url", f"http://{DEAD}", "--key", "k", "--timeout", "1"],
        ["simulate", "--preset", "tiny", "--to", f"http://{DEAD}", "--keys", keys],
        ["certify", "--target", f"http://{DEAD}"],
    ):
        r = roucai("--lang", "en", *argv, cwd=tmp_path)
        assert r.returncode == 3, (argv, r.stdout[-500:], r.stderr[-500:])
        assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, argv
        assert len(r.stderr.strip().splitlines()) + len(r.stdout.strip().splitlines()) <= 5, (argv, r.stdout, r.stderr)


def test_row_3_a_server_stopped_by_a_signal(tmp_path):
    """serve platform and serve node: SIGINT or SIGTERM stops them gracefully, one line, exit 3."""
    import shutil
    import signal
    import time

    node_cfg = tmp_path / "node.toml"
    shutil.copy(ROOT / "fixtures" / "nodes" / "example-node.toml", node_cfg)
    text = node_cfg.read_text("utf-8").replace("port = 8660", "port = 0")
    node_cfg.write_text(text, "utf-8")
    servers = {
        "platform": ["serve", "platform", "--db", tmp_path / "p.db", "--port", "0"],
        "node": ["serve", "node", "--config", node_cfg],
    }
    for name, argv in servers.items():
        for sig in (signal.SIGINT, signal.SIGTERM):
            p = subprocess.Popen(
                [sys.executable, "-m", "roucai.cli", "--lang", "en", *map(str, argv)],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            seen = ""
            deadline = time.monotonic() + 30
            while '"listening"' not in seen and time.monotonic() < deadline:
                seen += p.stderr.readline()
            p.send_signal(sig)
            _, err = p.communicate(timeout=30)
            assert p.returncode == 3, (name, sig, err[-800:])
            assert err.strip().splitlines()[-1] == f"stopped ({signal.Signals(sig).name})", (name, err[-300:])


def test_a_usage_error_leaves_no_report_folder(tmp_path):
    r = roucai("--lang", "en", "certify", "--capabilities", "no/such/capabilities.toml", cwd=tmp_path)
    assert r.returncode == 2 and list(tmp_path.iterdir()) == []
    r = roucai("--lang", "en", "certify", "--target", "http://127.0.0.1:1", "--report", tmp_path / "rep", cwd=tmp_path)
    assert r.returncode == 3 and (tmp_path / "rep" / "certify.log").stat().st_size > 0  # the details it points to
