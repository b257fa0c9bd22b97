"""A reference platform with the tiny city imported, and what it stored: shared by the ``simulate --to`` tests
(direct and ``--via-node``).  A uniquely named module (see conftest.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from profiles import load_profile
from simulators.city import dump_bytes, generate_city
from simulators.platform.launcher import PlatformProcess
from simulators.platform.recordmap import RecordMap

ROOT = Path(__file__).resolve().parents[3]
P = load_profile()
DATE = "2025-03-10"


def simulate_cli(*args, timeout=120):
    """``roucai simulate --preset tiny --seed 1 --date DATE --quiet ARGS`` as a subprocess."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "simulate",
            "--preset",
            "tiny",
            "--seed",
            "1",
            "--date",
            DATE,
            "--quiet",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def city_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("upcity")
    (d / "city.json").write_bytes(dump_bytes(generate_city("tiny", 1, P)))
    return d / "city.json"


@pytest.fixture
def platform(tmp_path, city_file):
    """A fresh reference platform with the tiny city imported: ``(process, db path, keys dict, keys path)``."""
    db = tmp_path / "p.db"
    keys_path = tmp_path / "keys.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "serve",
            "admin",
            "--db",
            str(db),
            "import-city",
            str(city_file),
            "--keys-out",
            str(keys_path),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    with PlatformProcess(str(db), cwd=str(ROOT), timeout=30) as proc:
        yield proc, db, json.loads(keys_path.read_text()), keys_path


def expected_identities(stream: Path) -> set[tuple]:
    """(node, type, rkey) of every catalogue record in the model's stream (the platform's identity)."""
    rmap = RecordMap(P)
    out = set()
    for line in stream.read_text("utf-8").splitlines():
        obj = json.loads(line)
        if obj.get("k") == "record" and obj["type"] in P.records.types:
            out.add((obj["node"], obj["type"], rmap.facts(obj["type"], obj["data"], obj["node"]).rkey))
    return out


def stored_records(db: Path) -> list[tuple]:
    """(node, type, rkey) of every record the platform stored."""
    with sqlite3.connect(db) as c:
        return c.execute("SELECT node_id, rtype, rkey FROM records").fetchall()


def wrong_key_file(tmp_path: Path, keys: dict[str, str]) -> tuple[str, Path]:
    """A keys file in which the second node's key is wrong: ``(that node, the file)``."""
    victim = sorted(keys)[1]
    bad = tmp_path / "bad-keys.json"
    bad.write_text(json.dumps({**keys, victim: "not-the-key"}))
    return victim, bad
