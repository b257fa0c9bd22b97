"""Issue 13 finding 12 (secrets): the upstream key comes from a file or the environment, not argv (the option on
the command line still works but warns), and /api/v1/feed/status never shows credentials inside a URL."""

import os
import subprocess
import sys

import httpx
import pytest

from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import PlatformProcess, ThreadedPlatform

KEY = "k" * 32


def _status(tmp_path, upstream: str) -> dict:
    cfg = PlatformConfig(
        db=str(tmp_path / "p.db"),
        port=0,
        log_level="warning",
        upstream=upstream,
        platform_id="650100",
        upstream_key=KEY,
        feed_interval_s=3600,
    )
    with ThreadedPlatform(cfg) as tp:
        return httpx.get(tp.url + "/api/v1/feed/status", timeout=5).json()


def test_feed_status_hides_credentials_in_the_upstream_url(tmp_path):
    body = _status(tmp_path, "http://alice:s3cret@127.0.0.1:9/")
    assert "s3cret" not in str(body) and "alice" not in str(body)
    assert body["upstream"] == "http://127.0.0.1:9/"
    assert KEY not in str(body)


def _ps_args(pid: int) -> str:
    return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()


@pytest.mark.slow
def test_upstream_key_file_keeps_the_key_out_of_argv(tmp_path):
    keyfile = tmp_path / "upstream.key"
    keyfile.write_text(KEY + "\n")
    os.chmod(keyfile, 0o600)
    args = [
        "--upstream",
        "http://127.0.0.1:9",
        "--platform-id",
        "650100",
        "--upstream-key-file",
        str(keyfile),
        "--feed-interval",
        "3600",
        "--log-level",
        "warning",
    ]
    with PlatformProcess(str(tmp_path / "p.db"), args=args) as p:
        assert KEY not in _ps_args(p.proc.pid)
        assert httpx.get(p.url + "/api/v1/feed/status", timeout=5).status_code == 200


def test_upstream_key_on_the_command_line_warns(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "--lang",
            "en",
            "serve",
            "platform",
            "--db",
            str(tmp_path / "p.db"),
            "--port",
            "0",
            "--upstream",
            "http://127.0.0.1:9",
            "--platform-id",
            "650100",
            "--upstream-key",
            KEY,
            "--max-body",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2  # --max-body 10: a configuration error, after the warning
    assert "--upstream-key-file" in r.stderr and "ps" in r.stderr, r.stderr


def test_unreadable_key_file_is_a_usage_error(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "serve",
            "platform",
            "--db",
            str(tmp_path / "p.db"),
            "--port",
            "0",
            "--upstream",
            "http://127.0.0.1:9",
            "--platform-id",
            "650100",
            "--upstream-key-file",
            str(tmp_path / "missing.key"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing.key" in r.stderr
