"""Reading an external platform's keys and capabilities; refusals are bilingual PlatformErrors."""
from __future__ import annotations

import pytest

from conformance.platform_under_test import PlatformError, connect_external


def test_keys_file_relative_to_the_statement(tmp_path):
    (tmp_path / "keys.toml").write_text('[keys]\n"650103002" = "abc"\n', "utf-8")
    put = connect_external("http://127.0.0.1:9/", {"keys_file": "keys.toml", "upload_path": "/up"}, tmp_path)
    assert put.keys == {"650103002": "abc"} and put.url == "http://127.0.0.1:9" and put.upload_path == "/up"
    assert not put.can_restart and put.age_contact("650103002", 60) is False and put.log_lines is None


@pytest.mark.parametrize("caps, text", [({}, None), ({"keys_file": "k.toml"}, None),
                                        ({"keys_file": "k.toml"}, "[keys\n"), ({"keys_file": "k.toml"}, "x = 1\n")])
def test_missing_or_bad_keys_file_is_refused(tmp_path, caps, text):
    if text is not None:
        (tmp_path / "k.toml").write_text(text, "utf-8")
    with pytest.raises(PlatformError) as exc:
        connect_external("http://127.0.0.1:9", caps, tmp_path)
    assert exc.value.zh and exc.value.en


def test_restart_without_command_is_refused(tmp_path):
    (tmp_path / "k.toml").write_text('[keys]\n', "utf-8")
    put = connect_external("http://127.0.0.1:9", {"keys_file": "k.toml"}, tmp_path)
    with pytest.raises(PlatformError):
        put.restart()


def test_restart_command_failure_is_bounded(tmp_path):
    (tmp_path / "k.toml").write_text('[keys]\n', "utf-8")
    put = connect_external("http://127.0.0.1:9", {"keys_file": "k.toml", "restart_command": "false",
                                                  "restart_timeout_s": 2}, tmp_path)
    assert put.can_restart
    with pytest.raises(PlatformError):
        put.restart()
