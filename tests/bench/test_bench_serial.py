"""Benchmarks of the serial lines (run: python3 tasks.py bench, or pytest tests/bench --benchmark-only).

* unpaced in-process line: 64-byte frames written by the device and read by the host
  end, frames/s (target >= 100k), beside raw ``os.openpty()`` (write master, read
  slave) on the same machine, as a ratio in ``extra_info``;
* the same through pyserial's ``sim://`` handler (what a host program pays).
"""

from __future__ import annotations

import os
import time
import tty

import serial

from simulators.serial import open_line

FRAME = bytes(range(64))
BATCH = 20_000


def raw_openpty_frames_per_s(n: int = BATCH) -> float:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(master, FRAME)
            got = os.read(slave, 64)
            while len(got) < 64:
                got += os.read(slave, 64 - len(got))
        return n / (time.perf_counter() - t0)
    finally:
        os.close(master)
        os.close(slave)


def _report(benchmark, what: str, figure=None) -> float:
    fps = BATCH / benchmark.stats.stats.median
    raw = max(raw_openpty_frames_per_s() for _ in range(3))
    benchmark.extra_info.update(
        {"frames_per_s": round(fps), "raw_openpty_frames_per_s": round(raw), "ratio_to_openpty": round(fps / raw, 3)}
    )
    print(f"\n{what}: {fps:,.0f} frames/s (64 B); raw os.openpty(): {raw:,.0f} frames/s; ratio {fps / raw:.2f}")
    if figure is not None:
        figure(f"{what}", round(fps), "frames/s", goal=100_000)
        figure(f"{what}, ratio to raw os.openpty()", round(fps / raw, 3), "ratio")
    return fps


def test_bench_unpaced_in_process_line(benchmark, figure):
    with open_line("bench-end", paced=False) as line:
        dev, host = line.device, line.host
        host.timeout = 0

        def run():
            for _ in range(BATCH):
                dev.write(FRAME)
                host.read(64)

        benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert _report(benchmark, "in-process line (End API)", figure) >= 100_000


def test_bench_unpaced_sim_url(benchmark):
    with open_line("bench-url", paced=False) as line:
        with serial.serial_for_url(line.host_url, timeout=0) as h:
            dev = line.device

            def run():
                for _ in range(BATCH):
                    dev.write(FRAME)
                    h.read(64)

            benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    _report(benchmark, "in-process line via pyserial sim://")
