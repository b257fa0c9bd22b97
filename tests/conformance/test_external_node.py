"""Node software certified as a contractor does it (docs/certify.md): ``roucai certify --target node`` with
the shipped ``fixtures/capabilities/node-example.toml``, whose ``start_command`` starts the reference node as
an outside program: CONFORMANT, every node test passing, no platform-only test run against a node.
A ``start_command`` whose program does not exist is refused by the pre-flight: exit 2, one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LINE = "roucai certify --target node --capabilities fixtures/capabilities/node-example.toml --suite coding,transmission"


def run(cwd: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_the_docs_give_the_node_walkthrough():
    assert LINE in (ROOT / "docs" / "certify.md").read_text("utf-8")


def test_reference_node_as_an_outside_program_is_conformant(tmp_path):
    args = LINE.split()[1:]
    args[args.index("fixtures/capabilities/node-example.toml")] = str(ROOT / "fixtures/capabilities/node-example.toml")
    p = run(tmp_path, *args, "--json", "--report", "rep")
    doc = json.loads(p.stdout)
    res = json.loads((tmp_path / "rep" / "results.json").read_text("utf-8"))
    bad = {
        t["nodeid"]: (t["verdict"], t["reason_en"][:300])
        for t in res["tests"]
        if t["verdict"] not in ("pass", "not-applicable")
    }
    assert not bad and p.returncode == 0 and doc["verdict"] == "CONFORMANT", (bad, doc, p.stderr[-1500:])
    node = [t for t in res["tests"] if "test_node_" in t["nodeid"]]
    assert len(node) >= 20 and all(t["verdict"] == "pass" for t in node)
    server = [t for t in res["tests"] if "/test_server_" in t["nodeid"]]
    assert server and all(t["verdict"] == "not-applicable" for t in server)


def test_missing_node_program_is_refused_in_one_line(tmp_path):
    text = (ROOT / "fixtures/capabilities/node-example.toml").read_text("utf-8")
    (tmp_path / "n.toml").write_text(text.replace('"{python} -m roucai.cli', '"/nonexistent/tracenode'), "utf-8")
    p = run(tmp_path, "certify", "--target", "node", "--capabilities", "n.toml", "--lang", "en", timeout=60)
    lines = (p.stdout + p.stderr).strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "/nonexistent/tracenode" in lines[0], lines


def test_node_that_does_not_come_up_is_no_verdict_exit_3(tmp_path):
    """The program exists (the pre-flight passes) but exits at once: TARGET-DOWN, exit 3, at most 5 lines,
    no bundle, and the results say so."""
    text = (ROOT / "fixtures/capabilities/node-example.toml").read_text("utf-8")
    cmd = 'start_command = "{python} -c \\"import sys; sys.exit(4)\\""'
    (tmp_path / "n.toml").write_text(
        text.replace('start_command = "{python} -m roucai.cli serve node --config {config}"', cmd), "utf-8"
    )
    p = run(
        tmp_path,
        "certify",
        "--target",
        "node",
        "--capabilities",
        "n.toml",
        "--suite",
        "transmission",
        "--lang",
        "en",
        "--report",
        "rep",
        timeout=120,
    )
    lines = (p.stdout + p.stderr).strip().splitlines()
    assert p.returncode == 3 and len(lines) <= 5 and "did not come up" in lines[-1], lines
    assert "Traceback" not in p.stdout + p.stderr
    res = json.loads((tmp_path / "rep" / "results.json").read_text("utf-8"))
    assert res["status"] == "target-down" and res["summary"]["conformant"] is None
    assert not (tmp_path / "rep" / "bundle.zip").exists()
