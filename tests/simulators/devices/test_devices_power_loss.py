"""Power cut (SIGKILL of the scale's process) in the middle of 1,000 sales.

The scale runs in a child process and reports each sale after it is
committed.  The parent kills it (SIGKILL: no cleanup, no flush of anything
uncommitted) three times at seeded points, restarts it on the same store each
time, and lets it finish.  Then every sale reported committed is in the store
exactly once, indices run 1..1000 with no gap, trace codes are 1..1000 of the
operator with none reused, and the batch's sold quantity is the sum of the
stored sales.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from profiles import load_profile

TOTAL = 1000
ROOT = Path(__file__).resolve().parents[3]

CHILD = r"""
import sys
from simulators.devices.scale import ScaleModel
db, total = sys.argv[1], int(sys.argv[2])
s = ScaleModel(db, seed=1, paper_receipts=10 ** 6)
if s.store.stall() is None:
    s.bind_stall("650102001", "6501020010001", "A-12", "北园春农贸市场", "张建国")
    s.load_batch("65010200200010000007", "21111002", "", 10_000_000, 2800)
print("READY", flush=True)
while s.store.next_index <= total:
    i = s.store.next_index
    r = s.sell("65010200200010000007", 100 + (i * 37) % 900)
    print("C", r.index, r.trace_code, r.weight_g, flush=True)
print("DONE", flush=True)
"""


def _run(db: Path, kill_after: int | None) -> tuple[list[tuple[int, str, int]], bool]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(TOTAL)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    committed, done = [], False
    deadline = time.monotonic() + 60
    try:
        for line in p.stdout:
            if line.startswith("C "):
                _, idx, trace, w = line.split()
                committed.append((int(idx), trace, int(w)))
                if kill_after is not None and len(committed) >= kill_after:
                    os.kill(p.pid, signal.SIGKILL)
                    kill_after = None
            elif line.startswith("DONE"):
                done = True
            assert time.monotonic() < deadline, "child took too long"
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(10)
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    if not done:
        assert p.returncode == -signal.SIGKILL, err
    return committed, done


def test_power_cut_mid_sales_loses_nothing_committed_and_duplicates_nothing(tmp_path):
    db = tmp_path / "scale.db"
    rng = random.Random(20240518)
    reported: list[tuple[int, str, int]] = []
    for _ in range(3):
        got, done = _run(db, kill_after=rng.randint(50, 250))
        assert not done
        reported += got
    got, done = _run(db, kill_after=None)
    assert done
    reported += got

    con = sqlite3.connect(db)
    rows = con.execute("SELECT idx, trace_code, weight_g FROM sales ORDER BY idx").fetchall()
    sold = con.execute("SELECT sold_g FROM batches").fetchone()[0]
    con.close()
    codes = load_profile().codes
    assert [r[0] for r in rows] == list(range(1, TOTAL + 1))  # no gap, no duplicate index
    assert [r[1] for r in rows] == [codes.trace_code("6501020010001", i) for i in range(1, TOTAL + 1)]
    stored = {r[0]: r for r in rows}
    assert len({r[0] for r in reported}) == len(reported)  # never committed twice
    for idx, trace, w in reported:  # every reported sale is there
        assert stored[idx] == (idx, trace, w)
    assert sold == sum(r[2] for r in rows)  # quantity committed with the sale
    assert len(reported) <= TOTAL
