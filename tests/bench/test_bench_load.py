"""Generator capacity: our node uploader beside a plain Locust FastHttpUser on a trivial endpoint.

The endpoint is :mod:`loadtests.trivial` (plain ASGI under uvicorn on 127.0.0.1, canned answers),
so the figures are the load generator's.  Two measurements, both printed:

* **same run** (what issue 7 asks): both user classes, equal weights, one Locust process; the ratio
  of their requests per second (goal >= 0.8: realism must not cost the generator its capacity);
* **solo runs**: each class alone, alternated A/B three times (median), which shows the
  per-request cost difference a shared run hides (in a shared run each user waits its turn).

Locust runs as a subprocess (never imported here).  Run with ``python3 tasks.py bench``.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadtests.plan import prepare

ROOT = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).with_name("locust"))
BENCHFILE = str(ROOT / "loadtests" / "benchfile.py")
OURS, PLAIN = "POST /api/v1/exchange", "plain POST /api/v1/exchange"
USERS, SECONDS = 20, 8


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def trivial():
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "loadtests.trivial:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the trivial endpoint did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def _locust(tmp: Path, host: str, plan: Path, keys: Path, name: str, classes: list[str]) -> dict[str, float]:
    out = tmp / name
    subprocess.run(
        [
            LOCUST,
            "-f",
            BENCHFILE,
            "--headless",
            "--host",
            host,
            "-u",
            str(USERS),
            "-r",
            str(USERS),
            "-t",
            f"{SECONDS}s",
            "--roucai-plan",
            str(plan),
            "--roucai-keys",
            str(keys),
            "--roucai-mode",
            "bench",
            "--json-file",
            str(out),
            "--stop-timeout",
            "2",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
            *classes,
        ],
        cwd=ROOT,
        timeout=SECONDS + 60,
        check=True,
        capture_output=True,
    )
    rows = json.loads(out.with_suffix(".json").read_text())
    return {
        e["name"]: e["num_requests"] / max(1e-9, e["last_request_timestamp"] - e["start_time"])
        for e in rows
        if e["num_requests"] and not e["num_failures"]
    }


@pytest.mark.bench
@pytest.mark.load
def test_bench_uploader_vs_plain_fasthttpuser(benchmark, trivial, tmp_path, figure):
    plan = prepare("tiny", 1, 1.0, tmp_path / "cache")
    nodes = {json.loads(l)["node"] for l in (plan / "batches.jsonl").open()}
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({n: "0" * 32 for n in nodes}))
    solo_ours, solo_plain = [], []

    def measure():
        for k in range(3):
            solo_ours.append(_locust(tmp_path, trivial, plan, keys, f"ours{k}", ["NodeUploader"])[OURS])
            solo_plain.append(_locust(tmp_path, trivial, plan, keys, f"plain{k}", ["PlainUploader"])[PLAIN])
        return _locust(tmp_path, trivial, plan, keys, "same", [])

    same = benchmark.pedantic(measure, rounds=1, iterations=1)
    ratio = same[OURS] / same[PLAIN]
    solo = statistics.median(solo_ours) / statistics.median(solo_plain)
    print(
        f"\nsame run: uploader {same[OURS]:.0f} req/s, plain FastHttpUser {same[PLAIN]:.0f} req/s, ratio {ratio:.2f}"
        f"\nsolo runs (median of 3): uploader {statistics.median(solo_ours):.0f} req/s, plain "
        f"{statistics.median(solo_plain):.0f} req/s, ratio {solo:.2f}"
    )
    benchmark.extra_info.update(
        {
            "same_run_uploader_rps": round(same[OURS]),
            "same_run_plain_rps": round(same[PLAIN]),
            "same_run_ratio": round(ratio, 3),
            "solo_ratio": round(solo, 3),
        }
    )
    figure("load generator: uploader / plain FastHttpUser (same run)", round(ratio, 3), "ratio", goal=0.8)
    assert ratio >= 0.8
