"""The reference node's defects live on the proof side (issue 17 item 1): conformance/proofs/node_faults.py and
its launcher node_variant.py.  Each defect being caught is test_variants.py's proof; here: the catalogue agrees
with variants.toml, the node itself holds no switch, and the launcher serves, stops and refuses like the CLI."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conformance.proofs.node_faults import FAULTS
from conformance.variants import load_variants

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = [sys.executable, "-m", "conformance.proofs.node_variant"]


def _launch(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*LAUNCHER, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_every_node_variant_has_its_defect_and_every_defect_its_variant():
    switches = {v.switch for v in load_variants().values() if v.actor == "node"}
    assert switches == set(FAULTS)
    r = _launch("--list")
    assert r.returncode == 0 and r.stdout.split() == sorted(FAULTS)


def _variant_words(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"variant", line, re.I)]


def test_the_node_holds_no_variant_switch(tmp_path):
    """Must-show of issue 17: no variant code, config key or name under simulators/node.  The check itself is
    seen failing on the switch the node had (a line of the old uploader)."""
    found = {
        str(p.relative_to(ROOT)): _variant_words(p.read_text("utf-8")) for p in (ROOT / "simulators/node").rglob("*.py")
    }
    assert {k: v for k, v in found.items() if v} == {}
    assert _variant_words('max_count = 10**6 if active(cfg, "ignores-count-limit") else cfg.max_count') == []
    assert _variant_words("from .variants import active") != []


def test_an_unknown_defect_or_a_bad_config_is_one_bilingual_line_exit_2(tmp_path):
    r = _launch("no-such-defect", "--config", tmp_path / "n.toml")
    assert r.returncode == 2 and "未知的缺陷" in r.stderr and "Traceback" not in r.stderr
    r = _launch("no-such-defect", "--config", tmp_path / "n.toml", "--lang", "en")
    assert r.returncode == 2 and "unknown defect 'no-such-defect'" in r.stderr
    r = _launch("no-backoff", "--config", tmp_path / "missing.toml", "--lang", "en")
    assert r.returncode == 2 and r.stderr.startswith("node configuration error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_the_launcher_serves_the_node_with_its_defect_and_stops_on_sigterm(tmp_path):
    cfg = tmp_path / "node.toml"
    text = (ROOT / "fixtures" / "nodes" / "example-node.toml").read_text("utf-8")
    cfg.write_text(text.replace("port = 8660", "port = 0"), "utf-8")
    p = subprocess.Popen(
        [*LAUNCHER, "no-operator-info", "--config", str(cfg), "--lang", "en"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        seen = ""
        deadline = time.monotonic() + 30
        while '"listening"' not in seen and time.monotonic() < deadline and p.poll() is None:
            seen += p.stderr.readline()
        assert '"listening"' in seen, seen[-1500:]
        first = next(line for line in seen.splitlines() if line.startswith("{"))
        assert '"broken_variant"' in first and '"no-operator-info"' in first, first
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 3, err[-800:]
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=10)
