"""The whole `roucai certify` run against the built-in target (issue 6: ≤ 120 s on a 2-core machine).

A benchmark, not a timed test: it reports the wall time (one round; the run is long) and the machine.
Run with `python3 tasks.py bench -k certify`.
"""

import json
import os
import platform
import subprocess
import sys
import time


def test_bench_certify_builtin(benchmark, tmp_path, figure):
    def run():
        rep = tmp_path / f"rep-{time.monotonic_ns()}"
        p = subprocess.run(
            [sys.executable, "-m", "roucai.cli", "certify", "--report", str(rep)], capture_output=True, timeout=900
        )
        return p.returncode, rep

    t0 = time.monotonic()
    rc, rep = benchmark.pedantic(run, rounds=1, iterations=1)
    wall = time.monotonic() - t0
    summary = json.loads((rep / "results.json").read_text("utf-8"))["summary"]
    benchmark.extra_info.update(
        {
            "wall_s": round(wall, 1),
            "goal_s": 120,
            "cpus": os.cpu_count(),
            "machine": platform.platform(),
            "tests": summary["tests"],
        }
    )
    figure("certify --target builtin (every suite)", round(wall, 1), "s", goal=120, better="lower")
    print(
        f"\ncertify --target builtin: {wall:.1f} s wall (goal ≤ 120 s), {summary['tests']}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    assert rc == 0 and summary["conformant"]
