"""Reading an external platform's keys and capabilities; refusals are bilingual PlatformErrors."""

from __future__ import annotations

import pytest

from conformance.platform_under_test import PlatformError, connect_external


def test_keys_file_relative_to_the_statement(tmp_path):
    (tmp_path / "keys.toml").write_text('[keys]\n"650103002" = "abc"\n', "utf-8")
    put = connect_external("http://127.0.0.1:9/", {"keys_file": "keys.toml", "upload_path": "/up"}, tmp_path)
    assert put.keys == {"650103002": "abc"} and put.url == "http://127.0.0.1:9" and put.upload_path == "/up"
    assert not put.can_restart and put.age_contact("650103002", 60) is False and put.log_lines is None


@pytest.mark.parametrize(
    "caps, text",
    [
        ({}, None),
        ({"keys_file": "k.toml"}, None),
        ({"keys_file": "k.toml"}, "[keys\n"),
        ({"keys_file": "k.toml"}, "x = 1\n"),
    ],
)
def test_missing_or_bad_keys_file_is_refused(tmp_path, caps, text):
    if text is not None:
        (tmp_path / "k.toml").write_text(text, "utf-8")
    with pytest.raises(PlatformError) as exc:
        connect_external("http://127.0.0.1:9", caps, tmp_path)
    assert exc.value.zh and exc.value.en


def test_restart_without_command_is_refused(tmp_path):
    (tmp_path / "k.toml").write_text('[keys]\n"650103002" = "abc"\n', "utf-8")
    put = connect_external("http://127.0.0.1:9", {"keys_file": "k.toml"}, tmp_path)
    with pytest.raises(PlatformError):
        put.restart()


def test_restart_command_failure_is_bounded(tmp_path):
    (tmp_path / "k.toml").write_text('[keys]\n"650103002" = "abc"\n', "utf-8")
    put = connect_external(
        "http://127.0.0.1:9", {"keys_file": "k.toml", "restart_command": "false", "restart_timeout_s": 2}, tmp_path
    )
    assert put.can_restart
    with pytest.raises(PlatformError):
        put.restart()


def test_keys_file_takes_the_json_import_city_writes(tmp_path):
    """``roucai serve admin import-city --keys-out`` writes JSON: the statement's keys_file takes it as written."""
    import json
    import subprocess
    import sys

    run = [sys.executable, "-m", "roucai.cli"]
    subprocess.run(
        run + ["fixtures", "city", "--preset", "tiny", "--seed", "1", "--out", "tiny.json"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        run + ["serve", "admin", "--db", "c.db", "import-city", "tiny.json", "--keys-out", "keys.json"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    put = connect_external("http://127.0.0.1:9", {"keys_file": "keys.json"}, tmp_path)
    assert put.keys == json.loads((tmp_path / "keys.json").read_text("utf-8")) and len(put.keys) == 6


@pytest.mark.parametrize("text", ['["650103002"]', '{"650103002": 5}', '{"650103002": "k"'])
def test_malformed_json_keys_are_refused(tmp_path, text):
    (tmp_path / "k.json").write_text(text, "utf-8")
    with pytest.raises(PlatformError) as exc:
        connect_external("http://127.0.0.1:9", {"keys_file": "k.json"}, tmp_path)
    assert "JSON" in exc.value.en and "JSON" in exc.value.zh


def _answering(status: int, body: bytes, ctype: str = "application/json"):
    from tests.httpkit import QuietHandler

    class H(QuietHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return H


@pytest.mark.parametrize(
    "status, body, ctype, healthy",
    [
        (200, b'{"status": "ok"}', "application/json", True),
        (502, b'{"status": "ok"}', "application/json", False),  # a proxy's 502 is not ready
        (200, b"<html>Bad gateway</html>", "text/html", False),  # any answer is not ready
        (200, b'{"status": "degraded"}', "application/json", False),
        (503, b'{"status": "degraded"}', "application/json", False),
    ],
)
def test_ready_means_the_health_endpoint_answers_healthy(tmp_path, status, body, ctype, healthy):
    import time

    from tests.httpkit import BackgroundHTTPServer

    (tmp_path / "k.toml").write_text('[keys]\n"650103002" = "abc"\n', "utf-8")
    with BackgroundHTTPServer(_answering(status, body, ctype)) as srv:
        put = connect_external(srv.base_url, {"keys_file": "k.toml"}, tmp_path)
        t0 = time.monotonic()
        if healthy:
            put.wait_ready(5)
        else:
            with pytest.raises(PlatformError):
                put.wait_ready(1.0)
        assert time.monotonic() - t0 < 4  # bounded


def test_restart_command_runs_in_the_statement_folder_with_the_harness_python(tmp_path):
    from tests.httpkit import BackgroundHTTPServer

    (tmp_path / "k.toml").write_text('[keys]\n"650103002" = "abc"\n', "utf-8")
    cmd = '{python} -c "import os, sys; print(os.getcwd()); print(sys.executable)"'
    with BackgroundHTTPServer(_answering(200, b'{"status": "ok"}')) as srv:
        put = connect_external(srv.base_url, {"keys_file": "k.toml", "restart_command": cmd}, tmp_path)
        put.restart_log = tmp_path / "restart.log"
        put.restart()
    import sys

    assert put.restart_log.read_text("utf-8").split() == [str(tmp_path), sys.executable]


def test_serve_restart_without_a_running_platform_is_one_line_exit_3(tmp_path):
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "serve", "restart", "--pid-file", "none.pid", "--lang", "en"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 3 and len(p.stderr.strip().splitlines()) == 1 and "pid file" in p.stderr


def test_offline_after_is_validated():
    from simulators.platform.config import ConfigError, PlatformConfig

    with pytest.raises(ConfigError):
        PlatformConfig(db=":memory:", secret_file="x", offline_after_s=0).validate()
