"""``roucai simulate --to``: the tiny day uploaded live to the reference platform (a subprocess on 127.0.0.1),
checked against the platform's own storage; a wrong key, an unreachable platform and bad options; the
uploader's pacing and its retries through a real HTTP proxy that fails on purpose.

Real processes, real HTTP, real SQLite; every wait is bounded.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hypothesis import given, strategies as st

from simulators.city import generate_city
from simulators.market.errors import MarketConfigError
from simulators.market.upload import INGEST_PATH, Uploader, ingest_url, load_keys
from tests.httpkit import BackgroundHTTPServer, QuietHandler
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


def test_a_day_uploaded_live_is_stored_exactly(platform, tmp_path):
    proc, db, _keys, keys_path = platform
    stream = tmp_path / "day.jsonl"
    r = simulate_cli("--to", proc.url, "--keys", str(keys_path), "--out", str(stream), "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    up = json.loads(r.stdout)["upload"]
    expected = expected_identities(stream)
    stored = stored_records(db)
    assert len(stored) == len(set(stored))  # each record once
    assert set(stored) == expected  # exactly the day's records
    assert up["accepted"] == len(expected) > 300
    assert up["rejected"] == up["lost"] == up["unsent"] == up["unexpected_duplicates"] == 0
    assert up["accepted"] + up["duplicate"] == up["records"]  # the model's duplicate uploads come back duplicate
    assert up["url"] == proc.url + INGEST_PATH
    # the same day again: all held already, nothing new stored, still a success (duplicates are not losses)
    again = simulate_cli("--to", proc.url, "--keys", str(keys_path), "--json", "--lang", "en")
    assert again.returncode == 0, again.stderr[-2000:]
    up2 = json.loads(again.stdout)["upload"]
    assert up2["accepted"] == 0 and up2["duplicate"] == up2["records"] == up["records"]
    assert up2["unexpected_duplicates"] > 0
    assert len(stored_records(db)) == len(stored)


def test_parallel_uploaders_store_the_day_exactly(platform, tmp_path):
    """--upload-workers 3: the day's records stored exactly once on a fresh platform, no loss, no unexpected
    duplicate (a node's envelopes stay with one uploader: in order, RequestTimes increasing)."""
    proc, db, _keys, keys_path = platform
    stream = tmp_path / "day.jsonl"
    r = simulate_cli(
        "--to", proc.url, "--keys", str(keys_path), "--out", str(stream), "--json", "--upload-workers", "3"
    )
    assert r.returncode == 0, r.stderr[-2000:]
    up = json.loads(r.stdout)["upload"]
    stored = stored_records(db)
    assert len(stored) == len(set(stored)) and set(stored) == expected_identities(stream)
    assert up["accepted"] == len(stored) > 300
    assert up["rejected"] == up["lost"] == up["unsent"] == up["unexpected_duplicates"] == 0
    assert up["accepted"] + up["duplicate"] == up["records"]


def test_a_wrong_key_gets_that_nodes_records_rejected_and_exit_1(platform, tmp_path):
    proc, db, keys, _ = platform
    stream = tmp_path / "day.jsonl"
    victim, bad = wrong_key_file(tmp_path, keys)
    r = simulate_cli("--to", proc.url, "--keys", str(bad), "--out", str(stream), "--json")
    assert r.returncode == 1, r.stderr[-2000:]
    up = json.loads(r.stdout)["upload"]
    expected = expected_identities(stream)
    victims = {i for i in expected if i[0] == victim}
    assert victims
    stored = set(stored_records(db))
    assert stored == expected - victims
    assert up["rejected"] >= len(victims) and up["lost"] == 0
    assert up["top_reasons"][0]["reason"].startswith("1105")
    text = simulate_cli("--to", proc.url, "--keys", str(bad), "--lang", "en")
    assert text.returncode == 1 and "rejected 1105" in text.stdout


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


def test_unreachable_platform_is_exit_3_before_the_run(tmp_path, capsys):
    keys = {n.code: "k" for n in generate_city("tiny", 1, P).nodes}
    (tmp_path / "k.json").write_text(json.dumps(keys))
    t = time.monotonic()
    rc, out, err = _main(
        capsys, "--to", "http://127.0.0.1:9", "--keys", tmp_path / "k.json", "--out", tmp_path / "s.jsonl"
    )
    assert rc == 3 and "cannot reach" in err
    assert time.monotonic() - t < 30
    assert not (tmp_path / "s.jsonl").exists() or (tmp_path / "s.jsonl").stat().st_size == 0  # refused before the run


@pytest.mark.parametrize(
    "args, words",
    [
        (["--to", "ftp://127.0.0.1/x", "--keys", "{keys}"], "http"),
        (["--to", "http://127.0.0.1:9"], "--keys"),
        (["--keys", "{keys}"], "--to"),
        (["--to", "http://127.0.0.1:9", "--keys", "{missing}"], "not found"),
        (["--to", "http://127.0.0.1:9", "--keys", "{notjson}"], "JSON"),
        (["--to", "http://127.0.0.1:9", "--keys", "{partial}"], "no key for 1 node"),
        (["--to", "http://127.0.0.1:9", "--keys", "{keys}", "--upload-limit", "0"], "--upload-limit"),
        (["--to", "http://127.0.0.1:9", "--keys", "{keys}", "--upload-workers", "17"], "--upload-workers"),
        (["--to", "http://127.0.0.1:9", "--keys", "{keys}", "--upload-workers", "2", "--speed", "x144"], "--speed max"),
        (["--upload-workers", "2"], "--to"),
    ],
)
def test_usage_errors_are_exit_2(tmp_path, capsys, args, words):
    nodes = sorted(n.code for n in generate_city("tiny", 1, P).nodes)
    files = {"keys": {n: "k" for n in nodes}, "partial": {n: "k" for n in nodes[1:]}}
    for name, obj in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(obj))
    (tmp_path / "notjson.json").write_text("{nope")
    subst = {k: str(tmp_path / f"{k}.json") for k in ("keys", "partial", "notjson", "missing")}
    rc, _out, err = _main(capsys, *[a.format(**subst) for a in args])
    assert rc == 2, err
    assert words in err and "Traceback" not in err


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    port=st.integers(1, 65535),
    scheme=st.sampled_from(["http", "https"]),
)
def test_ingest_url_adds_the_reference_path_to_a_bare_base(host, port, scheme):
    assert ingest_url(f"{scheme}://{host}:{port}") == f"{scheme}://{host}:{port}{INGEST_PATH}"
    assert ingest_url(f"{scheme}://{host}:{port}/") == f"{scheme}://{host}:{port}{INGEST_PATH}"
    assert ingest_url(f"{scheme}://{host}/up/load") == f"{scheme}://{host}/up/load"


@given(st.sampled_from(["ftp", "file", "ws", "", "httpx"]), st.from_regex(r"[a-z]{1,10}", fullmatch=True))
def test_ingest_url_refuses_other_schemes(scheme, host):
    with pytest.raises(MarketConfigError):
        ingest_url(f"{scheme}://{host}" if scheme else host)


def test_load_keys_refuses_non_string_values(tmp_path):
    f = tmp_path / "k.json"
    f.write_text(json.dumps({"650103001": 5}))
    with pytest.raises(MarketConfigError):
        load_keys(f)
    f.write_text(json.dumps({"650103001": "abc"}))
    assert load_keys(f) == {"650103001": "abc"}


class _FlakyProxy(BackgroundHTTPServer):
    """A real HTTP proxy to ``target`` that answers 503 to the first ``fail`` requests and, for the next
    ``drop`` ones, forwards the request but closes the connection without the answer."""

    def __init__(self, target: str, fail: int, drop: int = 0):
        self.seen = 0
        outer = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.seen += 1
                if outer.seen <= fail:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                r = httpx.post(
                    target + self.path, content=body, headers={"Content-Type": "application/xml"}, timeout=10
                )
                if outer.seen <= fail + drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "application/xml"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        super().__init__(Handler)
        self.url = self.base_url


@pytest.fixture(scope="module")
def day_batches():
    """The tiny model's uploads of one day, as the uploader takes them."""
    import datetime as dt
    from simulators.market import run_market
    from simulators.market.output import EnvelopeBatcher

    b = EnvelopeBatcher(P, dt.date.fromisoformat(DATE), 600)
    run_market("tiny", 1, dt.date.fromisoformat(DATE), profile=P, record_hooks=[b.add])
    return list(b.batches())


def test_retries_after_503_and_a_lost_answer_count_the_records_once(platform, day_batches):
    proc, db, keys, _ = platform
    batches = day_batches[:3]
    n = sum(len(x[4]) for x in batches)
    with _FlakyProxy(proc.url, fail=2, drop=1) as px:
        res = Uploader(P.envelope, px.url + INGEST_PATH, keys, backoff_s=0.01, timeout_s=10).run(batches)
    assert res.ok and res.answered
    assert res.accepted == n and res.duplicate == 0 and res.rejected == 0
    assert res.attempts == len(batches) + 3
    assert len(stored_records(db)) == n


def test_retries_are_bounded_then_the_records_are_lost(platform, day_batches):
    proc, _db, keys, _ = platform
    batches = day_batches[:1]
    with _FlakyProxy(proc.url, fail=100) as px:
        res = Uploader(P.envelope, px.url + INGEST_PATH, keys, retries=3, backoff_s=0.01).run(batches)
    assert px.seen == 4 and res.attempts == 4
    assert res.lost == len(batches[0][4]) and not res.ok


def test_uploads_are_paced_to_the_simulated_clock(platform, day_batches):
    proc, _db, keys, _ = platform
    batches = day_batches[:6]
    span = max(x[0] for x in batches) - min(x[0] for x in batches)
    assert span > 0
    factor = 1.0 / span  # the whole span in one wall second
    sent_at = []
    start = time.monotonic()
    res = Uploader(
        P.envelope,
        proc.url + INGEST_PATH,
        keys,
        factor=factor,
        progress=lambda r, done, total: sent_at.append(time.monotonic()),
    ).run(batches)
    assert res.ok and len(sent_at) == len(batches)
    t0 = min(x[0] for x in batches)
    for (t_up, *_), at in zip(sorted(batches, key=lambda b: b[:4]), sent_at):
        assert at - start >= (t_up - t0) * factor - 0.01  # never before it is due
    assert res.wall_s >= 0.99
    fast = Uploader(P.envelope, proc.url + INGEST_PATH, keys).run(batches)  # all duplicates now, no pacing
    assert fast.wall_s < res.wall_s and fast.duplicate == fast.records
