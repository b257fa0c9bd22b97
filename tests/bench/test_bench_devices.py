"""Benchmark: 1,000 simulated scales in one process under SimPy virtual time, one market hour.

Each scale: its own paced 9600-baud SimClock line, a shopper selling ~40 lines
an hour, a host polling READ_RECORDS/ACK_RECORDS every 60 s (the deployed
firmware's cadence).  No thread per device.  Reported: wall seconds for the
simulated hour, sales, transactions, bytes on the wires.
"""

from __future__ import annotations

import pytest

from simulators.devices.fleet import run_fleet


@pytest.mark.bench
def test_bench_1000_scales_one_market_hour(benchmark, figure):
    stats = benchmark.pedantic(lambda: run_fleet(1000, 1.0, seed=1), rounds=1, iterations=1)
    figure("1,000 scales, one market hour (virtual time)", round(benchmark.stats.stats.max, 2), "s wall")
    benchmark.extra_info.update(
        {
            "scales": stats.scales,
            "sim_hours": 1,
            "sales": stats.sales,
            "uploaded": stats.uploaded,
            "transactions": stats.transactions,
            "bytes_on_wire": stats.bytes_on_wire,
            "duplicates": stats.duplicates,
        }
    )
    assert stats.duplicates == 0 and stats.host_errors == 0 and stats.uploaded + stats.pending == stats.sales
    print(
        f"\n1000 scales, 1 market hour: {stats.sales} sales, {stats.transactions} transactions, "
        f"{stats.bytes_on_wire} bytes on the wires"
    )
