"""``roucai certify`` as a user meets it: setup problems are one line and an exit code, never a verdict;
``--json`` stdout is JSON only; ``--lang en`` is English throughout; Ctrl-C / SIGTERM give INTERRUPTED.

Every run is a real subprocess (as a user runs it); the built-in runs use the platform suite's two
quickest tests (``-k``), so the reference platform really starts and really answers.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.bundle import verify_bundle

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_EXAMPLE = ROOT / "fixtures" / "capabilities" / "platform-example.toml"
CJK = re.compile(r"[\u4e00-\u9fff]")
QUICK = ("--suite", "platform", "-k", "test_time or test_health")


def certify(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", "certify", "--report", str(tmp_path / "rep"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )


def dead_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screen(p) -> list[str]:
    return (p.stdout + p.stderr).strip().splitlines()


@pytest.mark.parametrize("port", [1, None], ids=["port-1", "free-port"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dead_port_exits_3_in_at_most_five_lines(tmp_path, port, lang):
    url = f"http://127.0.0.1:{port or dead_port()}"
    for extra in ((), ("--capabilities", str(PLATFORM_EXAMPLE)), ("--suite", "platform,transmission")):
        t0 = time.monotonic()
        p = certify(tmp_path, "--target", url, "--lang", lang, *extra, timeout=60)
        lines = screen(p)
        assert p.returncode == 3, (extra, p.returncode, lines[:20])
        assert 1 <= len(lines) <= 5 and "Traceback" not in p.stdout + p.stderr, lines[:20]
        assert url in lines[-1] and bool(CJK.search(lines[-1])) == (lang == "zh"), lines
        assert time.monotonic() - t0 < 20
        assert not (tmp_path / "rep" / "results.json").exists() and not (tmp_path / "rep" / "bundle.zip").exists()
        assert "Connection refused" in (tmp_path / "rep" / "certify.log").read_text("utf-8")


@pytest.mark.parametrize(
    "statement, code, word",
    [
        ("nope.toml", 2, "nope.toml"),  # a missing file
        ("[target\n", 2, "TOML"),  # malformed
        ('[target]\nkind = "teapot"\n', 2, "teapot"),  # unknown kind
        ('[target]\nkind = "city_platform"\n[capabilities]\n', 2, "keys_file"),
        ('[target]\nkind = "city_platform"\n[capabilities]\nkeys_file = "k.json"\n', 2, "k.json"),
    ],
)
def test_bad_statement_exits_2_in_one_line(tmp_path, statement, code, word):
    """Against a live platform-like port (the statement is judged before the platform is asked anything)."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        path = statement
        if statement != "nope.toml":
            (tmp_path / "st.toml").write_text(statement, "utf-8")
            path = "st.toml"
        p = certify(
            tmp_path,
            "--target",
            f"http://127.0.0.1:{srv.getsockname()[1]}",
            "--capabilities",
            path,
            "--lang",
            "en",
            "--json",
            timeout=60,
        )
    lines = p.stderr.strip().splitlines()
    assert p.returncode == code and len(lines) == 1 and word in lines[0], (p.returncode, lines)
    assert json.loads(p.stdout)["exit"] == code  # --json: still JSON on stdout


def test_json_stdout_is_one_json_document(tmp_path):
    p = certify(tmp_path, *QUICK, "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and doc["verdict"] == "CONFORMANT" and doc["conformant"] is True, (doc, p.stderr[-2000:])
    assert doc["status"] == "finished" and verify_bundle(Path(doc["bundle"])) == []
    assert "[2/2]" in p.stderr  # progress went to stderr


def test_english_summary_is_a_table_with_no_chinese(tmp_path):
    p = certify(tmp_path, *QUICK, "--lang", "en")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    everything = p.stdout + p.stderr
    assert not CJK.findall(everything), everything[:3000]
    for label in ("通过", "不通过", "符合", "不符合", "部分通过", "不适用"):
        assert label not in everything
    rows = [line for line in p.stdout.splitlines() if " | " in line]
    assert rows[0].split(" | ")[0].strip() == "requirement" and any(r.startswith("PLAT-TIME-01 ") for r in rows)
    assert "verdict: CONFORMANT" in p.stdout and "{'" not in p.stdout  # a table, not a Python dict
    zh = certify(tmp_path, *QUICK)
    assert "结论：符合" in zh.stdout and "PLAT-TIME-01" in zh.stdout and "通过" in zh.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_mid_run_is_interrupted_exit_3_without_a_verifying_bundle(tmp_path, sig):
    """The signal arrives after the third test finished (read from the progress lines on stderr)."""
    rep = tmp_path / "rep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "roucai.cli", "certify", "--suite", "platform", "--report", str(rep), "--lang", "en"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    seen = []
    end = time.monotonic() + 240
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("[3/"):
            break
    assert any(x.startswith("[3/") for x in seen), "".join(seen)[-2000:]
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 3, (proc.returncode, out[-1500:], err[-1500:])
    assert "INTERRUPTED" in out + err and "CONFORMANT" not in out.replace("INTERRUPTED", "")
    assert "Traceback" not in out + err
    res = json.loads((rep / "results.json").read_text("utf-8"))
    assert res["status"] == "interrupted" and res["summary"]["conformant"] is None
    assert res["summary"]["verdict"] == "INTERRUPTED" and res["interrupted_by"] == (
        "SIGTERM" if sig == signal.SIGTERM else res["interrupted_by"]
    )
    assert not (rep / "bundle.zip").exists()
    assert not list(rep.glob("*.partial"))
    assert "INTERRUPTED" in (rep / "report.en.html").read_text("utf-8")


def test_verify_bundle_refuses_an_interrupted_runs_bundle(tmp_path):
    """Even a hash-consistent bundle is refused when its results say the run was interrupted."""
    from conformance.bundle import write_bundle

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"status": "interrupted"}), "utf-8")
    write_bundle(folder, tmp_path / "b.zip")
    assert verify_bundle(tmp_path / "b.zip") == ["results.json says the run was interrupted: not a finished run"]
    (folder / "results.json").write_text(json.dumps({"status": "finished"}), "utf-8")
    write_bundle(folder, tmp_path / "b.zip")
    assert verify_bundle(tmp_path / "b.zip") == []
    p = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "certify", "--verify-bundle", str(tmp_path / "b.zip")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0


SCALE_EXAMPLE = ROOT / "fixtures" / "capabilities" / "scale-example.toml"


def test_device_that_is_not_there_or_silent_exits_3_in_one_line(tmp_path):
    """A socket:// device: nothing listening -> cannot open; a listener that never answers -> no IDENTIFY."""
    import threading

    p = certify(
        tmp_path,
        "--target",
        f"socket://127.0.0.1:{dead_port()}",
        "--capabilities",
        str(SCALE_EXAMPLE),
        "--suite",
        "perception",
        "--lang",
        "en",
        timeout=60,
    )
    assert p.returncode == 3 and len(screen(p)) == 1 and "cannot open the device port" in p.stderr, screen(p)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        held = []
        threading.Thread(target=lambda: held.append(srv.accept()), daemon=True).start()
        t0 = time.monotonic()
        p = certify(
            tmp_path,
            "--target",
            f"socket://127.0.0.1:{srv.getsockname()[1]}",
            "--capabilities",
            str(SCALE_EXAMPLE),
            "--suite",
            "perception",
            timeout=60,
        )
        assert time.monotonic() - t0 < 30
    lines = screen(p)
    assert p.returncode == 3 and len(lines) == 1 and "IDENTIFY" in lines[0] and CJK.search(lines[0]), lines
    assert not (tmp_path / "rep" / "results.json").exists()


def test_live_simulated_scale_passes_the_preflight(tmp_path):
    """The simulated scale in its own process: the pre-flight's IDENTIFY leaves it ready for the suite."""
    port, control = dead_port(), dead_port()
    dev = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "device",
            "scale",
            "--url",
            f"socket://127.0.0.1:{port}",
            "--control",
            f"socket://127.0.0.1:{control}",
            "--blank",
            "--load-g",
            "1000",
            "--db",
            str(tmp_path / "scale.db"),
            "--storage-records",
            "10000",
            "--for",
            "120",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.3)  # the device takes one host at a time
        statement = SCALE_EXAMPLE.read_text("utf-8").replace("socket://127.0.0.1:7302", f"socket://127.0.0.1:{control}")
        (tmp_path / "scale.toml").write_text(statement, "utf-8")
        p = certify(
            tmp_path,
            "--target",
            f"socket://127.0.0.1:{port}",
            "--capabilities",
            "scale.toml",
            "--suite",
            "perception",
            "-k",
            "test_identify_matches",
            "--json",
            timeout=120,
        )
        doc = json.loads(p.stdout)
        assert p.returncode == 0 and doc["verdict"] == "CONFORMANT", (doc, p.stderr[-1500:])
        assert "IDENTIFY" in (tmp_path / "rep" / "certify.log").read_text("utf-8")
    finally:
        dev.terminate()
        dev.wait(10)
