"""Every threshold a platform's capability statement can declare is a flag of the reference platform.

The keys are read from the suites' own source (``capabilities….get("…_s")`` in conformance/platform,
conformance/transmission and the shared fixtures), so a new threshold without a flag fails here.
``restart_timeout_s`` bounds the harness's own wait, not the platform.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import conformance

ROOT = Path(conformance.__file__).resolve().parent
HARNESS_SIDE = {"restart_timeout_s"}
FLAGS = {"offline_after_s": "--offline-after", "stop_ack_deadline_s": "--stop-ack-deadline"}
_KEY = re.compile(r"""capabilities(?:\.capabilities)?\.get\(\s*["']([a-z_]+_(?:s|ms))["']""")


def declared_thresholds() -> set[str]:
    files = [
        *ROOT.glob("platform/*.py"),
        *ROOT.glob("transmission/*.py"),
        ROOT / "conftest.py",
        ROOT / "platform_under_test.py",
    ]
    return {k for f in files for k in _KEY.findall(f.read_text("utf-8"))} - HARNESS_SIDE


def test_every_declarable_threshold_has_a_flag():
    keys = declared_thresholds()
    assert keys >= {"offline_after_s", "stop_ack_deadline_s"}, keys
    assert keys <= set(FLAGS), f"thresholds without a flag of roucai serve platform: {sorted(keys - set(FLAGS))}"
    helptext = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "serve", "platform", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert all(flag in helptext for flag in FLAGS.values()), helptext
    docs = (ROOT.parent / "docs" / "platform.md").read_text("utf-8")
    assert all(f"`{k}`" in docs and f"`{FLAGS[k]}" in docs for k in keys)
