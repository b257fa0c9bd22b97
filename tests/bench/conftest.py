"""The bench summary: every figure beside its goal, as a table on screen and as JSON on disk.

A benchmark reports each figure it measures through the ``figure`` fixture::

    figure("lanzhou fast day", wall_s, "s", goal=30, better="lower")

At the end of ``python3 tasks.py bench`` the figures are printed as one table (figure, value,
goal, met?, the 1-minute load average when the figure was recorded) and written to
``out/bench/bench-<commit>.json`` (atomically; the folder is set by ``ROUCAI_BENCH_OUT``), so runs of
different commits can be compared file by file.  A figure without a goal is reported for comparison
only.  The load average stands beside every figure because the machine may be shared: compare a
figure across runs only at similar load, or compare ratios measured within one run (the ingest
figures' ratio to a no-op endpoint).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import pytest

from simulators.atomic_file import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[2]
_FIGURES: list[dict] = []


@pytest.fixture
def figure(request):
    """``figure(name, value, unit, goal=None, better="higher")``: record one measured figure."""

    def record(name: str, value: float, unit: str, goal: float | None = None, better: str = "higher") -> None:
        if better not in ("higher", "lower"):
            raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
        met = None if goal is None else (value >= goal if better == "higher" else value <= goal)
        _FIGURES.append(
            {
                "test": request.node.nodeid,
                "name": name,
                "value": value,
                "unit": unit,
                "goal": goal,
                "better": better,
                "met": met,
                "load_1m": round(os.getloadavg()[0], 2),
            }
        )

    return record


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if isinstance(v, (int, float)) and abs(v) >= 100 else f"{v:g}"


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    tr = terminalreporter
    tr.section("bench figures / 基准数据")
    width = max(len(f["name"]) for f in _FIGURES)
    tr.write_line(f"{'figure':<{width}}  {'value':>12}  {'unit':<10} {'goal':>12}  met  {'load':>5}")
    for f in _FIGURES:
        sign = ">=" if f["better"] == "higher" else "<="
        goal = f"{sign} {_fmt(f['goal'])}" if f["goal"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[f["met"]]
        tr.write_line(
            f"{f['name']:<{width}}  {_fmt(f['value']):>12}  {f['unit']:<10} {goal:>12}  {met:<3}  {f['load_1m']:>5.2f}"
        )
    commit = _commit()
    out_dir = Path(os.environ.get("ROUCAI_BENCH_OUT", ROOT / "out" / "bench"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{commit}.json"
    doc = {
        "format": "roucai-bench/1",
        "commit": commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": round(os.getloadavg()[0], 2),
        },
        "figures": _FIGURES,
    }
    atomic_write_bytes(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
    tr.write_line(f"written to {path}")
