"""`roucai fixtures city|check|presets`: exit codes, zh/en output, JSON, byte-identical files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from roucai.cli import main

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "fixtures" / "cities" / "tiny-seed1.json"


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_city_to_file_then_check(capsys, tmp_path):
    out = tmp_path / "tiny.json"
    rc, so, _ = run(capsys, "fixtures", "city", "--preset", "tiny", "--seed", "1", "--out", out)
    assert rc == 0 and "节点 6" in so and "sha256" in so
    rc, so, _ = run(capsys, "fixtures", "check", out)
    assert rc == 0 and "全部" in so and "统一社会信用代码" in so


def test_city_to_stdout_with_summary_on_stderr(capsys):
    rc, so, se = run(capsys, "fixtures", "city", "--preset", "tiny", "--seed", "1")
    assert rc == 0
    assert json.loads(so)["format"] == "roucai-city"
    assert "节点 6" in se and "-> -" in se


def test_json_summary_on_stdout_needs_out(capsys, tmp_path):
    rc, so, se = run(capsys, "--lang", "en", "fixtures", "city", "--preset", "tiny", "--seed", "1", "--json")
    assert rc == 2 and so == "" and "--out" in se
    out = tmp_path / "t.json"
    rc, so, _ = run(capsys, "fixtures", "city", "--preset", "tiny", "--seed", "1", "--json", "--out", out)
    summary = json.loads(so)
    assert rc == 0 and summary["counts"]["nodes"] == 6 and summary["out"] == str(out)
    assert json.loads(out.read_text(encoding="utf-8"))["format"] == "roucai-city"
    assert not (tmp_path / "t.json.partial").exists()


def test_urumqi_twice_gives_identical_bytes_via_the_console_script(tmp_path):
    files = []
    for i in (1, 2):
        f = tmp_path / f"u{i}.json"
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "roucai.cli",
                "fixtures",
                "city",
                "--preset",
                "urumqi",
                "--seed",
                "1",
                "--out",
                str(f),
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr.decode()
        files.append(f.read_bytes())
    assert files[0] == files[1] and len(files[0]) > 100_000
    r = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "fixtures", "check", str(tmp_path / "u1.json"), "--json"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["ok"] and doc["counts"]["node"] == 149


def test_check_json_and_nonconformant_exit_1(capsys, tmp_path):
    d = json.loads(GOLDEN.read_text("utf-8"))
    d["vehicles"][0]["plate"] = "冀H-16475"
    d["operators"][0]["uscc"] = d["operators"][0]["uscc"][:17] + "0"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(d, ensure_ascii=False), "utf-8")
    rc, so, _ = run(capsys, "fixtures", "check", f, "--json")
    doc = json.loads(so)
    assert rc == 1 and doc["ok"] is False
    assert {x["rule"] for x in doc["findings"]} >= {"CODE-PLATE-01", "CODE-USCC-02"}
    assert set(doc["findings"][0]) >= {"rule", "field", "severity", "zh", "en"}
    rc, so, _ = run(capsys, "--lang", "en", "fixtures", "check", f)
    assert rc == 1 and "NON-CONFORMANT" in so and "vehicles[0].plate" in so


@pytest.mark.parametrize("content", [None, b"{", b"\xff\xfe{}", b"[]", b'{"format": "x"}'])
def test_check_bad_files_exit_2(capsys, tmp_path, content):
    f = tmp_path / "x.json"
    if content is not None:
        f.write_bytes(content)
    rc, so, se = run(capsys, "fixtures", "check", f)
    assert rc == 2 and "错误" in se and "Traceback" not in se + so


@pytest.mark.parametrize(
    "argv",
    [
        ["--preset", "atlantis"],
        ["--preset", "tiny", "--seed", "-1"],
        ["--preset", "tiny", "--seed", "x"],
        ["--preset", "tiny", "--out", "/nonexistent-dir/x.json"],
    ],
)
def test_city_usage_errors_exit_2(capsys, argv):
    rc, so, se = run(capsys, "fixtures", "city", *argv)
    assert rc == 2 and se and "Traceback" not in se


def test_bad_preset_file_exit_2(capsys, tmp_path):
    f = tmp_path / "neg.toml"
    f.write_text('city = "650100"\nreference_date = "2025-01-01"\n[nodes.canteen]\ncount = -4\n', "utf-8")
    rc, _, se = run(capsys, "--lang", "en", "fixtures", "city", "--preset", f)
    assert rc == 2 and "count" in se


def test_presets_list(capsys):
    rc, so, _ = run(capsys, "fixtures", "presets")
    assert rc == 0 and "lanzhou" in so and "节点 428" in so and "农贸市场" in so
    rc, so, _ = run(capsys, "fixtures", "presets", "--json", "--lang", "en")
    rows = {r["name"]: r for r in json.loads(so)}
    assert rows["lanzhou"]["nodes"] == 428 and rows["lanzhou"]["stalls"] == 1046
    assert rows["urumqi"]["districts"][0] == "650102"
