"""``roucai device``: run, drive, receipt, faults; exit codes; zh/en; --json."""

from __future__ import annotations

import json
import threading
import time

import pytest

from roucai.cli import main
from simulators.devices import serve
from simulators.devices.faults import FaultSet
from simulators.devices.scale import ScaleModel
from simulators.serial import LineSettings, get_line, open_line


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def scale_line():
    scale = ScaleModel(None, seed=2)
    scale.bind_stall("650102001", "6501020010001", "A-12", "北园春农贸市场", "张建国")
    scale.load_batch("65010200200010000007", "21111002", "", 10_000, 2800)
    scale.sell("65010200200010000007", 1234)
    with open_line("cli-drive", settings=LineSettings(baudrate=9600)) as line, serve(scale, line.device):
        yield line.host_url, scale


def test_drive_identify_zh_and_json(scale_line, capsys):
    url, _ = scale_line
    code, out, _ = run(capsys, "device", "drive", url, "identify")
    assert code == 0 and "device_kind: scale" in out and "max_g" in out
    code, out, _ = run(capsys, "device", "drive", url, "read-records", "1", "5", "--json")
    d = json.loads(out)
    assert code == 0 and d["ok"] and d["result"]["records"][0]["weight_g"] > 0


def test_drive_nak_exit_1(scale_line, capsys):
    url, _ = scale_line
    code, out, _ = run(capsys, "device", "drive", url, "stop", "65010200200010009999", "--lang", "en")
    assert code == 1 and "UNKNOWN_BATCH" in out


def test_drive_timeout_exit_3(capsys):
    scale = ScaleModel(None, faults=FaultSet(["mute"]))
    with open_line("cli-mute") as line, serve(scale, line.device):
        t = time.monotonic()
        code, out, _ = run(
            capsys, "device", "drive", line.host_url, "status", "--timeout", "0.1", "--retries", "1", "--json"
        )
    assert code == 3 and json.loads(out)["error"]["kind"] == "timeout" and time.monotonic() - t < 2


def test_drive_usage_errors_and_unreachable_ports(capsys):
    code, _, err = run(capsys, "--lang", "en", "device", "drive", "sim://no-such-line", "identify")
    assert code == 2 and "exists only inside the process that made it" in err and "socket://" in err
    assert run(capsys, "device", "drive", "/dev/does-not-exist", "identify")[0] == 3  # nothing there: unreachable
    code, _, err = run(capsys, "--lang", "en", "device", "drive", "socket://127.0.0.1:1", "identify")
    assert code == 3 and err.count("\n") == 1 and "cannot open port" in err
    code, _, err = run(capsys, "device", "drive", "sim://x", "dance")
    assert code == 2 and "dance" in err


def drive_a_served_device(capsys, serve_argv: list[str], line: str, drive_argv: list[str]) -> tuple[int, int, dict]:
    """Run ``roucai device scale|reader --url sim://LINE …`` in a thread and ``roucai device drive sim://LINE …``
    against it; returns (device exit code, drive exit code, the drive's JSON answer)."""
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("code", main(serve_argv)))
    t.start()
    for _ in range(100):
        try:
            get_line(line)
            break
        except Exception:
            time.sleep(0.02)
    code = main(["device", "drive", f"sim://{line}", *drive_argv, "--json"])
    t.join(10)
    out = capsys.readouterr().out
    answer, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "ok"') :])
    return result["code"], code, answer


def test_run_scale_for_a_while_and_drive_it(capsys):
    served, code, status = drive_a_served_device(
        capsys,
        ["device", "scale", "--url", "sim://cli-run", "--for", "1.5", "--seed", "4", "--baud", "115200"],
        "cli-run",
        ["status", "--baud", "115200"],
    )
    assert code == 0 and served == 0
    assert status["result"]["bound"] and len(status["result"]["batches"]) == 2


def test_unknown_fault_is_usage_error(capsys):
    code, _, err = run(capsys, "device", "scale", "--fault", "gremlins", "--for", "0.1")
    assert code == 2 and "gremlins" in err
    code, _, err = run(capsys, "device", "reader", "--fault", "paper_out", "--for", "0.1", "--lang", "en")
    assert code == 2 and "does not apply" in err


def test_receipt_png(tmp_path, capsys):
    out = tmp_path / "r.png"
    code, text, _ = run(capsys, "device", "receipt", "--out", str(out), "--text", "--seed", "1")
    assert code == 0 and out.stat().st_size > 1000 and "追溯码" in text
    code, text, _ = run(capsys, "device", "receipt", "--out", str(tmp_path / "r.txt"))
    assert code == 2


def test_faults_list(capsys):
    code, out, _ = run(capsys, "device", "faults", "--json")
    names = {f["name"] for f in json.loads(out)}
    assert code == 0 and {"paper_out", "power_loss", "card_pulled", "bad_crc"} <= names
    # firmware bugs are no switch of the device models: proofs install them (conformance/proofs/device_firmware.py)
    assert not names & {"dup_seq", "no_limit", "missing_fields", "skip_auth", "drops_unacked"}
    code, _, err = run(capsys, "device", "scale", "--fault", "dup_seq", "--for", "0.1")
    assert code == 2 and "dup_seq" in err


def test_handheld_bad_url_and_node(capsys):
    assert run(capsys, "device", "handheld", "--url", "ftp://x", "--key", "k")[0] == 2
    assert run(capsys, "device", "handheld", "--url", "http://127.0.0.1:9/", "--key", "k", "--node", "123")[0] == 2
    code, out, _ = run(
        capsys,
        "device",
        "handheld",
        "--url",
        "http://127.0.0.1:9/",
        "--key",
        "k",
        "--entries",
        "1",
        "--timeout",
        "0.5",
        "--json",
    )
    assert code == 3 and json.loads(out)["pending"] == 2  # nothing answers: unreachable, not a verdict


def test_handheld_node_and_key_from_the_city_and_keys_files(capsys, tmp_path):
    """--city picks a node of --kind and its registered operators; --keys its key; bad files exit 2."""
    city, keys = str(tmp_path / "tiny.json"), tmp_path / "keys.json"
    assert run(capsys, "fixtures", "city", "--preset", "tiny", "--seed", "1", "--out", city)[0] == 0
    nodes = json.loads((tmp_path / "tiny.json").read_text("utf-8"))["nodes"]
    slaughter = next(n["code"] for n in nodes if n["type"].startswith("slaughter"))
    keys.write_text(json.dumps({"999999999": "k"}), "utf-8")
    code, _, err = run(
        capsys,
        "--lang",
        "en",
        "device",
        "handheld",
        "--url",
        "http://127.0.0.1:9",
        "--city",
        city,
        "--keys",
        str(keys),
        "--kind",
        "slaughterhouse",
    )
    assert code == 2 and f"no key for node {slaughter}" in err
    keys.write_text(json.dumps({slaughter: "k"}), "utf-8")
    code, out, _ = run(
        capsys,
        "device",
        "handheld",
        "--url",
        "http://127.0.0.1:9",
        "--city",
        city,
        "--keys",
        str(keys),
        "--kind",
        "slaughterhouse",
        "--entries",
        "1",
        "--timeout",
        "0.5",
        "--json",
    )
    assert code == 3 and json.loads(out)["pending"] == 1
    code, _, err = run(
        capsys, "--lang", "en", "device", "handheld", "--url", "http://127.0.0.1:9", "--city", str(keys), "--key", "k"
    )
    assert code == 2 and "not a city file" in err
    assert run(capsys, "device", "handheld", "--url", "http://127.0.0.1:9")[0] == 2  # no key at all


def test_drive_accepts_the_harness_serial_url_form(capsys):
    scale = ScaleModel(None, seed=2)
    with (
        open_line("cli-serial-url", backend="pty", settings=LineSettings(baudrate=9600)) as line,
        serve(scale, line.device),
    ):
        code, out, _ = run(capsys, "device", "drive", f"serial://{line.host_url}?baud=9600", "status", "--json")
        assert code == 0 and json.loads(out)["ok"]
        code, _, err = run(capsys, "device", "drive", f"serial://{line.host_url}?speed=9600", "status")
        assert code == 2 and "speed" in err


def test_read_card_prints_the_uid_in_upper_case(capsys):
    """CODE-CARD-01: the card UID as upper-case hex text (read-card printed it lower case)."""
    served, code, card = drive_a_served_device(
        capsys,
        ["device", "reader", "--url", "sim://cli-reader", "--for", "3", "--seed", "5", "--baud", "115200", "--json"],
        "cli-reader",
        ["read-card", "--baud", "115200"],
    )
    uid = card["result"]["uid"]
    assert code == 0 and served == 0 and len(uid) == 8 and uid == uid.upper() and not uid.isdigit()
