"""The run's report: ``summary.json`` (our verdict and numbers) and ``load.png`` (time series).

The PNG has three panels over test seconds (the compressed model clock hours marked below):
throughput (envelopes answered per second and all requests per second, beside the model's
expected envelope rate), upload latency percentiles (p50/p95, Locust's rolling window from the
``--csv`` history; trace p95 too) and failures per second.  Drawn with pillow (matplotlib is not a
dependency); labels are English (pillow's built-in font has no CJK glyphs).  Same data, same bytes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, PANEL_H, M, LEFT = 1000, 210, 14, 64
UPLOAD = "POST /api/v1/exchange"
TRACE = "GET /api/v1/trace/{code}"


def per_second(
    locust_stats: list[dict], t0: float, key: str = "num_reqs_per_sec", names: list[str] | None = None
) -> dict[int, int]:
    """Requests (or failures) per test second, summed over ``names`` (all endpoints if ``None``)."""
    out: dict[int, int] = {}
    for e in locust_stats:
        if names is not None and e["name"] not in names:
            continue
        for ts, n in (e.get(key) or {}).items() if isinstance(e.get(key), dict) else e.get(key) or []:
            s = int(float(ts) - t0)
            out[s] = out.get(s, 0) + int(n)
    return out


def history(csv_path: Path, name: str, t0: float) -> list[tuple[float, float | None, float | None]]:
    """``(test s, p50, p95)`` rows of Locust's ``_stats_history.csv`` for ``name``."""
    rows = []
    if not csv_path.is_file():
        return rows
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r.get("Name") != name:
                continue
            f = lambda v: None if v in (None, "", "N/A") else float(v)
            rows.append((float(r["Timestamp"]) - t0, f(r.get("50%")), f(r.get("95%"))))
    return rows


def start_time(locust_stats: list[dict], csv_path: Path) -> float:
    if csv_path.is_file():
        with open(csv_path, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                return float(r["Timestamp"])
    starts = [e["start_time"] for e in locust_stats if e.get("start_time")]
    return min(starts) if starts else 0.0


def render(path: Path, locust_stats: list[dict], csv_path: Path, curve: list[int], duration: float, title: str) -> Path:
    t0 = start_time(locust_stats, csv_path)
    up = per_second(locust_stats, t0, names=[UPLOAD])
    allr = per_second(locust_stats, t0)
    fails = per_second(locust_stats, t0, key="num_fail_per_sec")
    hist = history(csv_path, UPLOAD, t0)
    thist = history(csv_path, TRACE, t0)
    end = max([duration] + list(allr) + [int(h[0]) for h in hist]) + 1
    hour_s = duration / 24.0
    expected = []
    for h, n in enumerate(curve):
        expected += [(h * hour_s, n / hour_s), ((h + 1) * hour_s, n / hour_s)]
    img = Image.new("RGB", (W, 40 + 3 * (PANEL_H + M) + 30), "white")
    dr = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    dr.text((M, 12), title, fill="black", font=font)
    y = 40
    _panel(
        dr,
        font,
        y,
        end,
        duration,
        "throughput (per second)",
        [
            ("expected envelopes/s (market model)", "#999999", expected, True),
            ("envelopes answered/s", "#2171b5", sorted(up.items()), False),
            ("all requests/s", "#41ab5d", sorted(allr.items()), False),
        ],
    )
    y += PANEL_H + M
    _panel(
        dr,
        font,
        y,
        end,
        duration,
        "latency (ms, rolling)",
        [
            ("upload p50", "#6baed6", [(t, a) for t, a, _ in hist if a is not None], False),
            ("upload p95", "#08519c", [(t, b) for t, _, b in hist if b is not None], False),
            ("trace p95", "#d94801", [(t, b) for t, _, b in thist if b is not None], False),
        ],
    )
    y += PANEL_H + M
    _panel(
        dr,
        font,
        y,
        end,
        duration,
        "failures per second",
        [("failures/s", "#cb181d", sorted(fails.items()) or [(0, 0), (end, 0)], False)],
    )
    out = Path(path)
    img.save(out, format="PNG", optimize=False)
    return out


def _panel(dr, font, y0: int, end: float, duration: float, label: str, series) -> None:
    x0, x1 = LEFT, W - M
    top, bottom = y0 + 18, y0 + PANEL_H - 20
    dr.rectangle([M, y0, W - M, y0 + PANEL_H], outline="#cccccc")
    dr.text((M + 6, y0 + 4), label, fill="black", font=font)
    peak = max([v for _, _, pts, _ in series for _, v in pts] + [1e-9])
    dr.line([x0, bottom, x1, bottom], fill="black")
    dr.line([x0, top, x0, bottom], fill="black")
    dr.text((M + 2, top - 4), f"{peak:.0f}" if peak >= 10 else f"{peak:.2f}", fill="#555555", font=font)
    dr.text((M + 2, bottom - 10), "0", fill="#555555", font=font)
    sx = lambda t: x0 + (x1 - x0) * min(max(t, 0.0), end) / end
    sy = lambda v: bottom - (bottom - top) * v / peak
    for h in range(0, 25, 3):
        x = sx(h * duration / 24.0)
        dr.line([x, bottom, x, bottom + 3], fill="black")
        dr.text((x - 6, bottom + 5), f"{h:02d}h", fill="#555555", font=font)
    lx = x0 + 180
    for name, colour, pts, dashed in series:
        pts = [(sx(t), sy(v)) for t, v in pts]
        if len(pts) > 1:
            if dashed:
                for i in range(0, len(pts) - 1, 2):
                    dr.line([pts[i], pts[i + 1]], fill=colour, width=2)
                for i in range(1, len(pts) - 1, 2):
                    dr.line([pts[i], pts[i + 1]], fill=colour, width=1)
            else:
                dr.line(pts, fill=colour, width=2)
        dr.line([lx, y0 + 10, lx + 16, y0 + 10], fill=colour, width=3)
        dr.text((lx + 20, y0 + 4), name, fill="black", font=font)
        lx += 30 + int(dr.textlength(name, font=font))


def write_summary(path: Path, summary: dict) -> Path:
    out = Path(path)
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    return out
