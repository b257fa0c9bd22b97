"""`roucai serve`: admin commands, configuration errors (exit 2), JSON logs, graceful shutdown, OpenAPI."""

import json
import os
import re
import stat

import httpx
import pytest

from roucai.cli import main
from simulators.platform.launcher import PlatformProcess

CITY = None


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from simulators.city import generate_city
    from simulators.city.canonical import dumps

    path = tmp_path_factory.mktemp("city") / "tiny.json"
    path.write_text(dumps(generate_city("tiny", 1)), "utf-8")
    return path


def test_import_city_after_a_node_is_disabled_writes_a_usable_keys_file_and_says_why_one_is_missing(
    tmp_path, capsys, city
):
    """A disabled node has no active key: importing the city again leaves it out of the keys (the library's result
    holds no None, so no ``null`` reaches the keys file, which every reader would refuse as a whole) and says so on
    stderr, zh by default, en with --lang en; the other nodes' keys are written and readable."""
    from simulators.keysfile import read_keys
    from simulators.platform.admin import import_city, registry

    db, keys = str(tmp_path / "p.db"), tmp_path / "keys.json"
    assert run(capsys, "serve", "admin", "--db", db, "import-city", str(city), "--keys-out", str(keys))[0] == 0
    first = read_keys(keys)
    off = sorted(first)[1]
    assert run(capsys, "serve", "admin", "--db", db, "disable-node", off)[0] == 0
    for lang, word in (("zh", "已停用"), ("en", "disabled")):
        again = tmp_path / f"keys-{lang}.json"
        rc, out, err = run(capsys, "--lang", lang, "serve", "admin", "--db", db, "import-city", str(city),
                           "--keys-out", str(again))  # fmt: skip
        assert rc == 0, err
        assert word in err and off in err and "Traceback" not in err, err
        assert read_keys(again) == {n: k for n, k in first.items() if n != off}
    with registry(db) as reg:
        got = import_city(reg, json.loads(city.read_text("utf-8")))
    assert got.keys == {n: k for n, k in first.items() if n != off} and got.disabled == (off,)
    assert all(isinstance(v, str) and v for v in got.keys.values())


def test_register_regulator_key_out_writes_the_key_alone_0600_and_refuses_an_unwritable_path(tmp_path, capsys):
    db, key = str(tmp_path / "p.db"), tmp_path / "regulator.key"
    rc, out, _ = run(capsys, "serve", "admin", "--db", db, "register-regulator", "650100", "--name", "市商务局",
                     "--key-out", str(key), "--json")  # fmt: skip
    text = key.read_text("utf-8")
    assert rc == 0 and stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert re.fullmatch(r"\S{16,}\n", text) and text.strip() not in out and "key" not in json.loads(out), out
    from simulators.platform.admin import registry
    from simulators.platform.regulators import Regulators

    with registry(db) as reg:  # the key written is the one the platform verifies
        assert Regulators(reg.store, reg.secret, reg.profile).current_key("650100") == text.strip()
    for lang, word in (("zh", "无法写入密钥文件"), ("en", "cannot write the key file")):
        rc, _, err = run(capsys, "--lang", lang, "serve", "admin", "--db", db, "register-regulator", "650100",
                         "--name", "x", "--key-out", str(tmp_path / "no" / "such" / "k"))  # fmt: skip
        assert rc == 2 and word in err and "Traceback" not in err, err


def test_admin_import_city_registers_everything_and_writes_keys_0600(tmp_path, capsys, city):
    db, keys = str(tmp_path / "p.db"), str(tmp_path / "keys.json")
    rc, out, _ = run(capsys, "serve", "admin", "--db", db, "import-city", str(city), "--keys-out", keys)
    assert rc == 0 and "已导入 6 个节点" in out
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db + ".secret").st_mode) == 0o600
    k = json.loads(open(keys).read())
    rc, out, _ = run(capsys, "serve", "admin", "--db", db, "list-nodes", "--json")
    nodes = json.loads(out)["nodes"]
    assert rc == 0 and {n["node_id"] for n in nodes} == set(k) and all(n["key_version"] == 1 for n in nodes)
    # the database holds no key
    raw = open(db, "rb").read() + (open(db + "-wal", "rb").read() if os.path.exists(db + "-wal") else b"")
    assert not any(v.encode() in raw for v in k.values())
    # importing again keeps the keys
    rc, out, _ = run(capsys, "serve", "admin", "--db", db, "import-city", str(city), "--json")
    assert json.loads(out)["keys"] == k
    node = sorted(k)[0]
    rc, out, _ = run(capsys, "--lang", "en", "serve", "admin", "--db", db, "issue-key", node, "--json")
    assert rc == 0 and json.loads(out)["key"] != k[node]
    from simulators.platform.storage import open_store

    want = json.loads(city.read_text("utf-8"))
    store = open_store(db)
    try:
        with store.read() as tx:
            scales = {r[0]: r[1:] for r in tx.all("SELECT scale_id, node_id, operator_id, stall FROM scales")}
            operators = tx.scalar("SELECT COUNT(*) FROM operators")
    finally:
        store.close()
    assert scales == {s["id"]: (s["node_code"], s["operator_code"], s["stall"] or "") for s in want["scales"]}
    assert scales and operators == len(want["operators"])
    rc, out, _ = run(
        capsys, "serve", "admin", "--db", db, "set-enterprises", "2025Q1", "farmers_market", "12", "--json"
    )
    assert rc == 0 and json.loads(out) == {"quarter": "2025Q1", "node_type": "farmers_market", "enterprises": 12}
    rc, _, err = run(capsys, "serve", "admin", "--db", db, "set-enterprises", "2025Q5", "farmers_market", "12")
    assert rc == 2 and "YYYYQn" in err


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["serve", "admin", "register-node", "12345", "--name", "x", "--type", "shop"], "流通节点编码"),
        (["serve", "admin", "register-node", "650102001", "--name", "x", "--type", "Bad Type"], "节点类型"),
        (["serve", "admin", "register-operator", "6501020019999", "--name", "x"], "节点未登记"),
        (["serve", "admin", "issue-key", "650102001"], "节点未登记"),
        (["serve", "admin", "import-city", "/nonexistent.json"], "找不到城市文件"),
        (["serve", "platform", "--db", "/nonexistent/dir/p.db"], "目录不存在"),
        (["serve", "platform", "--host", "not-an-ip"], "IP"),
        (["serve", "platform", "--upstream", "http://127.0.0.1:1"], "--platform-id"),
        (["serve", "platform", "--role", "central", "--upstream", "http://127.0.0.1:1"], "--upstream"),
        (["serve", "platform", "--db", "postgresql://nobody@127.0.0.1:1/none"], "--secret-file"),
        (
            ["serve", "platform", "--db", "postgresql://nobody@127.0.0.1:1/none", "--secret-file", "SECRET"],
            "数据库错误",
        ),
        (["serve", "platform", "--max-body", "10"], "--max-body"),
    ],
)
def test_configuration_errors_exit_2_with_a_clear_message(tmp_path, capsys, argv, needle):
    argv = [a.replace("SECRET", str(tmp_path / "s")) for a in argv]
    if "--db" not in argv:
        argv[2:2] = ["--db", str(tmp_path / "p.db")]
    rc, out, err = run(capsys, *argv)
    assert rc == 2, (out, err)
    assert needle in err and "Traceback" not in err


def test_secret_file_readable_by_others_is_refused(tmp_path, capsys):
    s = tmp_path / "s"
    s.write_text("ab" * 32)
    os.chmod(s, 0o644)
    rc, _, err = run(capsys, "serve", "admin", "--db", str(tmp_path / "p.db"), "--secret-file", str(s), "init")
    assert rc == 2 and "权限过宽" in err


def test_server_logs_json_lines_binds_loopback_and_stops_gracefully(tmp_path):
    proc = PlatformProcess(str(tmp_path / "p.db")).start()
    try:
        assert proc.url.startswith("http://127.0.0.1:")
        h = httpx.get(proc.url + "/healthz", timeout=5).json()
        assert h["status"] == "ok" and h["db"] == "sqlite" and h["schema_version"] >= 2
    finally:
        rc = proc.stop()
    assert rc == 3  # README's exit-code table: stopped by a signal = interrupted = 3
    events = [json.loads(line)["event"] for line in proc.log_lines if line.startswith("{")]
    assert {"starting", "listening", "http", "shutdown_requested", "store_closed"} <= set(events)
    assert events.index("shutdown_requested") < events.index("store_closed")
    assert all(line.startswith("{") for line in proc.log_lines[:-1]), proc.log_lines[:3]
    assert proc.log_lines[-1] == "已停止（SIGTERM）"  # then one plain line says why it ended


def test_a_port_in_use_is_one_line_before_any_log_and_exit_3(tmp_path):
    import subprocess
    import sys

    with PlatformProcess(str(tmp_path / "a.db")) as first:
        port = first.url.rsplit(":", 1)[1]
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
                str(tmp_path / "b.db"),
                "--port",
                port,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_ctrl_c_stops_the_platform_with_exit_3(tmp_path):
    import signal

    proc = PlatformProcess(str(tmp_path / "c.db")).start()
    proc.proc.send_signal(signal.SIGINT)
    assert proc.proc.wait(30) == 3
    proc.stop()
    assert proc.log_lines[-1] == "已停止（SIGINT）"


def test_openapi_documents_every_route_and_xml_bodies(platform):
    spec = platform.client.get("/openapi.json").json()
    paths = spec["paths"]
    routes = {r.path for r in platform.tp.app.routes if getattr(r, "include_in_schema", False)}
    assert routes <= set(paths), routes - set(paths)
    up = paths["/api/v1/exchange"]["post"]
    assert "application/xml" in up["requestBody"]["content"] and "application/json" in up["requestBody"]["content"]
    assert {"200", "400", "401", "409", "413", "503"} <= set(up["responses"])
    assert "application/xml" in up["responses"]["200"]["content"]
    assert "/dts_if/servlet/IfRevSubServlet" in paths


def test_admin_help_lists_every_action(capsys):
    """`serve admin --help` names every action the docs use (issue-key was missing)."""
    with pytest.raises(SystemExit):
        main(["serve", "admin", "--help"])
    out = capsys.readouterr().out
    for action in (
        "init",
        "register-node",
        "register-operator",
        "issue-key",
        "disable-node",
        "enable-node",
        "list-nodes",
        "import-city",
        "set-enterprises",
        "register-city",
    ):
        assert f"    {action} " in out, action
