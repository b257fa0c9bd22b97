"""``roucai simulate --to URL --via-node``: the tiny day through reference-node outboxes and uploaders to a real
reference platform (a subprocess on 127.0.0.1), checked against the platform's storage and the outboxes' own
rows; a node whose key the platform refuses; pacing and the step-by-step order (in process); bad options.

Kill-safety of the outbox and uploader is the node's own test (tests/simulators/node/test_kill.py), not redone here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest

from roucai.commands.simulate import _report_via_node
from roucai.console import Console
from simulators.city import generate_city
from simulators.market import run_market
from simulators.market.errors import MarketConfigError
from simulators.market.upload import INGEST_PATH
from simulators.market.vianode import RUN_FILE, UploadLog, ViaNode, prepare_dir
from uploadkit import (
    DATE,
    P,
    city_file,  # noqa: F401 (fixture)
    expected_identities,
    platform,  # noqa: F401 (fixture)
    simulate_cli,  # noqa: F401 (fixtures)
    stored_records,
    wrong_key_file,
)

CITY = generate_city("tiny", 1, P)
NODES = [(n.code, n.name, n.type) for n in CITY.nodes]


def _outbox_rows(work: Path) -> dict[str, list[tuple]]:
    """node code -> [(source_key, state, created_ms, done_ms, verdict)] of its outbox file."""
    out = {}
    for f in sorted(work.glob("*.db")):
        with sqlite3.connect(f) as c:
            out[f.stem] = c.execute(
                "SELECT source_key, state, created_ms, done_ms, verdict FROM outbox ORDER BY id"
            ).fetchall()
    return out


def test_a_day_via_the_node_arrives_complete(platform, tmp_path):
    proc, db, _keys, keys_path = platform
    stream, work = tmp_path / "day.jsonl", tmp_path / "nodes"
    r = simulate_cli(
        "--to",
        proc.url,
        "--keys",
        str(keys_path),
        "--via-node",
        "--node-dir",
        str(work),
        "--out",
        str(stream),
        "--json",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    via = json.loads(r.stdout)["via_node"]
    expected = expected_identities(stream)
    stored = stored_records(db)
    assert len(stored) == len(set(stored)) and set(stored) == expected  # the platform holds exactly the day
    assert via["generated"] == via["entered"] == via["acknowledged"] == via["accepted"] == len(expected) > 300
    assert via["rejected"] == via["invalid"] == via["pending"] == via["not_entered"] == 0
    assert via["offered"] == via["generated"] + via["deduplicated"]  # the model's repeats stopped at the outbox
    assert via["url"] == proc.url + INGEST_PATH and via["work_dir"] == str(work)
    assert via["settled"] == via["acknowledged"] and 0 < via["envelopes"] < via["acknowledged"]  # batched
    rows = _outbox_rows(work)
    assert set(rows) == {n[0] for n in NODES}  # one outbox per node
    assert sum(len(v) for v in rows.values()) == len(expected)
    assert {row[1] for v in rows.values() for row in v} == {"acknowledged"}
    log = [json.loads(line) for line in (work / "node.log").read_text("utf-8").splitlines()]
    assert sum(e["count"] for e in log if e["event"] == "upload") == len(expected)
    # the same command again: the outboxes are resumed, nothing is entered or sent twice
    again = simulate_cli("--to", proc.url, "--keys", str(keys_path), "--via-node", "--node-dir", str(work), "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    via2 = json.loads(again.stdout)["via_node"]
    assert via2["envelopes"] == 0 and via2["deduplicated"] == via2["offered"]
    assert via2["acknowledged"] == len(expected) and len(stored_records(db)) == len(stored)


def test_a_refused_key_leaves_that_nodes_records_pending_and_exit_1(platform, tmp_path):
    proc, db, keys, _ = platform
    stream = tmp_path / "day.jsonl"
    victim, bad = wrong_key_file(tmp_path, keys)
    r = simulate_cli("--to", proc.url, "--keys", str(bad), "--via-node", "--out", str(stream), "--json")
    assert r.returncode == 1, r.stderr[-2000:]
    via = json.loads(r.stdout)["via_node"]
    expected = expected_identities(stream)
    victims = {i for i in expected if i[0] == victim}
    assert victims and set(stored_records(db)) == expected - victims
    assert via["refused"] == [
        {"node": victim, "code": "1105", "error": via["refused"][0]["error"], "records": len(victims)}
    ]
    assert via["pending"] == len(victims) and via["acknowledged"] == len(expected) - len(victims)
    assert via["entered"] == via["generated"] and via["work_dir"] is None
    for lang, words in (
        ("en", [f"node {victim}: envelopes refused whole", "1105", f"left pending {len(victims)}"]),
        ("zh", [f"节点 {victim} 的报文被平台整体拒收（1105）", f"滞留 {len(victims)}"]),
    ):
        out = io.StringIO()
        _report_via_node(Console(lang, stream=out), via, argparse.Namespace(node_dir=None))
        assert all(w in out.getvalue() for w in words), out.getvalue()


@pytest.fixture(scope="module")
def day_log():
    """The tiny model's uploads of one day, as --via-node takes them."""
    log = UploadLog(P)
    run_market("tiny", 1, dt.date.fromisoformat(DATE), profile=P, record_hooks=[log.add])
    return log


def _first_hours(log: UploadLog, hours: float) -> UploadLog:
    """The records whose first upload is within ``hours`` of the day's first upload."""
    t0 = min(e[0] for e in log.entries)
    keep = {e[1] for e in log.entries if e[0] <= t0 + hours * 3600}
    part = UploadLog(P)
    part.entries = [e for e in log.entries if e[1] in keep]
    part.generated = len(keep)
    return part


def test_entries_are_paced_to_the_simulated_clock(platform, day_log, tmp_path):
    proc, _db, keys, _ = platform
    part = _first_hours(day_log, 4)
    t_first = min(e[0] for e in part.entries)
    span = max(e[0] for e in part.entries) - t_first
    factor = 1.5 / span  # the span in 1.5 wall seconds
    work = prepare_dir(tmp_path / "w", {"test": "paced"})
    via = ViaNode(P, proc.url + INGEST_PATH, keys, NODES, work, dt.date.fromisoformat(DATE), factor=factor)
    start_ms = time.time() * 1000
    res = via.run(part)
    assert res.ok and res.acknowledged == part.generated
    first_up = {}
    for t_up, n, *_ in part.entries:
        first_up.setdefault(n, t_up)
    for node_rows in _outbox_rows(work).values():
        for key, _state, created_ms, _done, _v in node_rows:
            due_ms = start_ms + (first_up[int(key[4:])] - t_first) * factor * 1000
            assert created_ms >= due_ms - 5  # never entered before it is due
    assert res.wall_s >= 1.4


def test_as_fast_as_possible_keeps_the_step_order_across_nodes(platform, day_log, tmp_path):
    proc, _db, keys, _ = platform
    part = _first_hours(day_log, 6)
    tick = 600.0
    work = prepare_dir(tmp_path / "w", {"test": "max"})
    res = ViaNode(P, proc.url + INGEST_PATH, keys, NODES, work, dt.date.fromisoformat(DATE), tick_s=tick).run(part)
    assert res.ok and res.acknowledged == part.generated
    step = {}
    for t_up, n, *_ in part.entries:
        step.setdefault(n, int(t_up // tick))
    by_step: dict[int, list[tuple[int, int]]] = {}
    for node_rows in _outbox_rows(work).values():
        for key, _state, created_ms, done_ms, _v in node_rows:
            by_step.setdefault(step[int(key[4:])], []).append((created_ms, done_ms))
    steps = sorted(by_step)
    assert len(steps) > 5
    for a, b in zip(steps, steps[1:]):  # every record of a step was acknowledged before the next step entered
        assert max(d for _, d in by_step[a]) <= min(c for c, _ in by_step[b])


def _main(capsys, *argv):
    from roucai.cli import main

    rc = main(
        [
            "simulate",
            "--preset",
            "tiny",
            "--seed",
            "1",
            "--date",
            DATE,
            "--quiet",
            "--lang",
            "en",
            *[str(a) for a in argv],
        ]
    )
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--via-node"], "--to only"),
        (["--to", "{url}", "--keys", "{keys}", "--node-dir", "{dir}"], "--via-node only"),
        (["--to", "{url}", "--keys", "{keys}", "--via-node", "--node-dir", "{file}"], "must be a directory"),
        (["--to", "{url}", "--keys", "{keys}", "--via-node", "--node-dir", "{other}"], "another run"),
        (["--to", "{url}", "--keys", "{keys}", "--via-node", "--node-dir", "{stray}"], "unknown origin"),
        (["--to", "{url}", "--keys", "{keys}", "--via-node", "--speed", "x0"], "--speed"),
    ],
)
def test_usage_errors_are_exit_2_before_anything_is_sent(tmp_path, capsys, args, words):
    (tmp_path / "keys.json").write_text(json.dumps({n[0]: "k" for n in NODES}))
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / RUN_FILE).write_text(json.dumps({"preset": "lanzhou"}))
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "650102001.db").write_bytes(b"")
    subst = {
        "url": "http://127.0.0.1:9",
        "keys": tmp_path / "keys.json",
        "dir": tmp_path / "d",
        "file": tmp_path / "file",
        "other": tmp_path / "other",
        "stray": tmp_path / "stray",
    }
    rc, _out, err = _main(capsys, *[a.format(**subst) for a in args])
    assert rc == 2, err
    assert words in err and "Traceback" not in err
    assert json.loads((tmp_path / "other" / RUN_FILE).read_text()) == {"preset": "lanzhou"}  # left alone


def test_a_key_the_node_refuses_is_a_configuration_error(tmp_path):
    keys = {n[0]: "k" for n in NODES}
    keys[NODES[0][0]] = "has space"
    with pytest.raises(MarketConfigError) as exc:
        ViaNode(
            P,
            "http://127.0.0.1:9" + INGEST_PATH,
            keys,
            NODES,
            prepare_dir(tmp_path / "w", {}),
            dt.date.fromisoformat(DATE),
        )
    assert NODES[0][0] in exc.value.en and "whitespace" in exc.value.en


def test_a_relative_node_dir_holds_the_outboxes_once(tmp_path, monkeypatch):
    """--node-dir nodes/ (relative): each outbox is nodes/CODE.db, not nodes/nodes/CODE.db."""
    monkeypatch.chdir(tmp_path)
    via = ViaNode(
        P,
        "http://127.0.0.1:9" + INGEST_PATH,
        {n[0]: "k" for n in NODES},
        NODES,
        prepare_dir("nodes/", {}),
        dt.date.fromisoformat(DATE),
    )
    assert {Path(s.cfg.outbox_path) for s in via.slots.values()} == {tmp_path / "nodes" / f"{n[0]}.db" for n in NODES}


def test_unreachable_platform_is_exit_3_and_the_temporary_dir_is_removed(tmp_path, capsys, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "keys.json").write_text(json.dumps({n[0]: "k" for n in NODES}))
    rc, _out, err = _main(capsys, "--to", "http://127.0.0.1:9", "--keys", tmp_path / "keys.json", "--via-node")
    assert rc == 3 and "cannot reach" in err
    assert not list(tmp_path.glob("roucai-vianode-*"))


def test_a_foreign_record_is_rejected_and_a_malformed_one_kept_invalid(platform, day_log, tmp_path):
    proc, db, keys, _ = platform
    part = _first_hours(day_log, 2)
    t_up, _n, node, rtype, data = part.entries[0]
    other = next(code for code, *_ in NODES if code != node)
    bad = dict(data)
    bad[P.records.types[rtype].fields[0].name] = "x"  # a code field that is not a code
    part.entries += [
        (t_up, part.generated, other, rtype, data),  # node A's record sent by node B: 2008
        (t_up, part.generated + 1, node, rtype, bad),
    ]  # fails the profile: never sent
    part.generated += 2
    work = prepare_dir(tmp_path / "w", {"test": "bad"})
    res = ViaNode(P, proc.url + INGEST_PATH, keys, NODES, work, dt.date.fromisoformat(DATE)).run(part)
    assert not res.ok and not res.timed_out
    assert res.entered == res.generated == res.acknowledged + res.rejected + res.invalid + res.pending
    assert (res.rejected, res.invalid, res.pending) == (1, 1, 0)
    assert list(res.reasons)[0].startswith("2008") and sum(res.findings.values()) == 1
    assert len(stored_records(db)) == res.acknowledged
