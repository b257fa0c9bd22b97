"""``roucai --profile changchun certify --target builtin --suite SUITE`` with the built-in capability statement
plus ``verify_code = "hmac-md5"`` (changchun's recipe is unknown: a run that signs needs one declared), in a
subprocess; shared by the tests of certification under changchun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def certify_changchun(
    tmp_path: Path, keyword: str, *extra: str, suite: str = "platform", timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``suite``'s tests matching ``keyword`` (``extra``: more certify options); the report goes to
    ``tmp_path / "rep"`` (results.json there)."""
    caps = (ROOT / "conformance" / "builtin-capabilities.toml").read_text("utf-8")
    assert "[capabilities]\n" in caps
    (tmp_path / "caps.toml").write_text(
        caps.replace("[capabilities]\n", '[capabilities]\nverify_code = "hmac-md5"\n', 1), "utf-8"
    )
    argv = [sys.executable, "-m", "roucai.cli", "--lang", "en", "--profile", "changchun", "certify"]
    argv += ["--target", "builtin", "--capabilities", str(tmp_path / "caps.toml"), "--suite", suite]
    argv += ["-k", keyword, *extra, "--report", str(tmp_path / "rep")]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
