"""Node configuration: the example loads; every mistake is a ConfigError naming the key (zh + en); CLI exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from simulators.node.config import ConfigError, device_port_url, load_config, parse_config

from nodekit import ROUCAI

EXAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "nodes" / "example-node.toml"


def base(tmp_path) -> dict:
    return {
        "node": {"code": "650103002", "name": "昊嘉农贸市场", "type": "farmers_market"},
        "operators": [{"code": "6501030020001", "name": "王杨"}],
        "platform": {"url": "http://127.0.0.1:8553", "key": "k-123"},
        "outbox": {"path": str(tmp_path / "o.db")},
    }


def test_example_config_is_valid_and_documented():
    cfg = load_config(EXAMPLE)
    assert cfg.node_code == "650103002" and len(cfg.devices) == 2
    assert cfg.devices[0].port_url == "/dev/ttyUSB0" and cfg.devices[0].baud == 9600
    assert cfg.devices[1].port_url == "socket://127.0.0.1:7003"
    assert cfg.host == "127.0.0.1" and cfg.upload_url.endswith("/api/v1/exchange")
    # defaults from the profile's requirement catalogue (TRAN-UPL-06/07)
    assert (cfg.backoff_first_s, cfg.backoff_max_s, cfg.timeout_s) == (1.0, 300.0, 7.0)
    assert cfg.operator_name("6501030020000") == cfg.node_name  # the node's own 0000 record


@pytest.mark.parametrize(
    "patch, key",
    [
        (lambda d: d["node"].update(code="65010300"), "[node] code"),
        (lambda d: d["node"].update(code="000000001"), "[node] code"),
        (lambda d: d["node"].pop("name"), "[node] name"),
        (lambda d: d["operators"][0].update(code="650103002001"), "[[operators]] #1"),  # 12 digits
        (lambda d: d["platform"].update(url="ftp://x"), "[platform] url"),
        (lambda d: d["platform"].pop("key"), "ROUCAI_NODE_KEY"),
        (lambda d: d["platform"].update(key="a b"), "key"),
        (lambda d: d["platform"].update(format="csv"), "[platform] format"),
        (lambda d: d.update(upload={"max_count": 501}), "[upload] max_count"),
        (lambda d: d.update(upload={"max_count": "10"}), "[upload] max_count"),
        (lambda d: d.update(upload={"batch_wait_s": 900}), "[upload] batch_wait_s"),
        (lambda d: d.update(upload={"backoff_first_s": 2, "backoff_max_s": 1}), "[upload] backoff_max_s"),
        (lambda d: d.update(stoptrade={"poll_s": 120}), "[stoptrade] poll_s"),
        (lambda d: d.update(server={"host": "example.org"}), "[server] host"),
        (lambda d: d.update(devices=[{"id": "a", "url": "http://x"}]), "[[devices]] #1"),
        (lambda d: d.update(devices=[{"id": "a", "url": "relative/path"}]), "[[devices]] #1"),
        (lambda d: d.update(devices=[{"id": "a", "url": "sim://x"}, {"id": "a", "url": "sim://y"}]), "[[devices]] #2"),
        (lambda d: d.update(devices=[{"id": "a", "url": "sim://x", "kind": "reader"}]), "[[devices]] #1"),
        (lambda d: d.update(devices=[{"id": "a", "url": "sim://x", "operator": "6501030020001"}]), "stall"),
        (
            lambda d: d.update(devices=[{"id": "a", "url": "sim://x", "operator": "6501030020009", "stall": "B1"}]),
            "[[devices]] #1",
        ),
        (
            lambda d: (d["node"].update(type="supermarket"), d.update(devices=[{"id": "a", "url": "sim://x"}])),
            "supermarket",
        ),
        (lambda d: d.update(surprise=1), "surprise"),
    ],
)
def test_mistakes_are_config_errors_naming_the_key(tmp_path, patch, key):
    d = base(tmp_path)
    patch(d)
    with pytest.raises(ConfigError) as exc:
        parse_config(d, tmp_path)
    assert key in exc.value.en and exc.value.zh and exc.value.zh != exc.value.en


def test_key_from_json_keys_file_and_environment(tmp_path, monkeypatch):
    d = base(tmp_path)
    d["platform"].pop("key")
    (tmp_path / "keys.json").write_text(json.dumps({"650103002": "from-file", "650103001": "other"}))
    d["platform"]["key_file"] = "keys.json"
    assert parse_config(d, tmp_path).key == "from-file"
    d["platform"]["key_file"] = "missing.json"
    with pytest.raises(ConfigError):
        parse_config(d, tmp_path)
    d["platform"].pop("key_file")
    monkeypatch.setenv("ROUCAI_NODE_KEY", "from-env")
    assert parse_config(d, tmp_path).key == "from-env"


def test_device_urls():
    assert device_port_url("serial:///dev/ttyUSB0?baud=19200", "d") == ("/dev/ttyUSB0", 19200)
    assert device_port_url("/tmp/roucai-serial-0/scale-01", "d") == ("/tmp/roucai-serial-0/scale-01", None)
    assert device_port_url("sim://scale-01", "d") == ("sim://scale-01", None)
    assert device_port_url("socket://127.0.0.1:7000", "d") == ("socket://127.0.0.1:7000", None)
    for bad in ("socket://127.0.0.1", "serial://ttyUSB0", "sim://", "serial:///dev/x?baud=fast"):
        with pytest.raises(ConfigError):
            device_port_url(bad, "d")


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "n.toml"
    p.write_text("[node\ncode=1")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "TOML" in exc.value.en
    with pytest.raises(ConfigError):
        load_config(tmp_path / "nope.toml")


def test_a_file_s_error_names_the_file_and_the_key(tmp_path):
    p = tmp_path / "n.toml"
    p.write_text(EXAMPLE.read_text("utf-8").replace("max_count = 100", "max_count = 501"), "utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert exc.value.en.startswith(f"{p}: [upload] max_count must be within 1..500 (got 501)")
    assert exc.value.zh.startswith(f"{p}：[upload] max_count 应在 1–500 之间（501）")


def test_cli_check_and_usage_errors(tmp_path):
    r = subprocess.run(
        [ROUCAI, "serve", "node", "--config", str(EXAMPLE), "--check", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["node"] == "650103002"
    bad = tmp_path / "bad.toml"
    bad.write_text('[node]\ncode = "123"\nname = "x"\ntype = "farmers_market"\n')
    r = subprocess.run(
        [ROUCAI, "serve", "node", "--config", str(bad), "--lang", "en"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "[node] code" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([ROUCAI, "serve", "node", "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "节点配置错误" in r.stderr


def test_operator_of_another_node_is_kept_and_not_registered_again(tmp_path):
    """NODE-WHOL-01: an operator code of another node is accepted as is; no manager_base_info is made for it,
    unless the defect registers-operators-again (installed from outside) registers it under a new local code."""
    import datetime as dt

    from conformance.proofs.node_faults import RegistersOperatorsAgain
    from simulators.node.operators import RTYPE, operator_records
    from simulators.node.runtime import NodeRuntime
    from nodekit import write_config

    path = write_config(
        tmp_path / "n.toml",
        "650104002",
        "北园批发市场",
        "vegetable_wholesale",
        "http://127.0.0.1:9",
        "k",
        operators=[("6501040020001", "王杨"), ("6501030010001", "天益公司")],
    )
    cfg = load_config(path)
    assert cfg.operator_name("6501030010001") == "天益公司"
    now = dt.datetime(2024, 5, 18, tzinfo=dt.timezone.utc)
    ids = {r["id"] for _, r in operator_records(cfg, now, {})}
    assert ids == {"6501040020001", "6501040020000"}
    for runtime_class, expected in [
        (NodeRuntime, {"6501040020001": "王杨", "6501040020000": "北园批发市场"}),
        (
            RegistersOperatorsAgain,
            {"6501040020001": "王杨", "6501040020000": "北园批发市场", "6501040029000": "天益公司"},
        ),
    ]:
        cfg.outbox_path = str(tmp_path / f"{runtime_class.__name__}.db")
        runtime = runtime_class(cfg)
        try:
            runtime.announce_operators()
            queued = {r["record"]["id"]: r["record"]["name"] for r in runtime.outbox.rows_of_type(RTYPE)}
        finally:
            runtime.stop()
        assert queued == expected, runtime_class.__name__


def test_the_node_speaks_the_commands_profile_unless_its_config_names_one(tmp_path, monkeypatch):
    """`roucai --profile guangzhou serve node` (the CLI sets $ROUCAI_PROFILE): the node speaks guangzhou, its
    record forms and envelope; a `profile` key in the configuration names the node's own."""
    from profiles.profile import ENV_PROFILE

    monkeypatch.setenv(ENV_PROFILE, "guangzhou")
    assert parse_config(base(tmp_path), tmp_path).profile == "guangzhou"
    assert parse_config({**base(tmp_path), "profile": "reference"}, tmp_path).profile == "reference"
    monkeypatch.delenv(ENV_PROFILE)
    assert parse_config(base(tmp_path), tmp_path).profile == "reference"
