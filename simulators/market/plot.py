"""A PNG of the day's activity: records per clock hour, one small bar chart per node type.

Drawn with pillow (matplotlib is not a dependency).  Each panel has its own y scale
(farmers' markets make a hundred times more records than slaughterhouses), its peak
count written in the corner.  Labels are English: pillow's built-in font has no CJK
glyphs and no CJK font is shipped.  Deterministic: the same counts give the same bytes.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LABELS = {"slaughterhouse": "slaughterhouses", "meat_wholesale": "meat wholesale", "veg_wholesale":
          "vegetable wholesale", "distribution_centre": "distribution centres", "farmers_market": "farmers' markets",
          "shop": "shops / outlets", "supermarket": "supermarkets", "canteen": "canteens"}
ORDER = list(LABELS)
COLOURS = ["#8c2d04", "#d94801", "#238b45", "#41ab5d", "#2171b5", "#6baed6", "#6a51a3", "#737373"]
PANEL_W, PANEL_H, MARGIN = 460, 200, 16


def render(hourly: dict[str, list[int]], title: str, path: str | Path) -> Path:
    """Draw ``hourly`` (node type → 24 counts) to ``path`` (PNG); returns the path."""
    kinds = [k for k in ORDER if k in hourly] + sorted(k for k in hourly if k not in ORDER)
    cols = 2
    rows = max(1, (len(kinds) + cols - 1) // cols)
    w = cols * PANEL_W + (cols + 1) * MARGIN
    h = 40 + rows * PANEL_H + (rows + 1) * MARGIN
    img = Image.new("RGB", (w, h), "white")
    dr = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    dr.text((MARGIN, 12), title, fill="black", font=font)
    for i, kind in enumerate(kinds):
        x0 = MARGIN + (i % cols) * (PANEL_W + MARGIN)
        y0 = 40 + MARGIN + (i // cols) * (PANEL_H + MARGIN)
        _panel(dr, font, x0, y0, kind, hourly[kind], COLOURS[i % len(COLOURS)])
    out = Path(path)
    img.save(out, format="PNG", optimize=False)
    return out


def _panel(dr, font, x0: int, y0: int, kind: str, counts: list[int], colour: str) -> None:
    left, bottom = x0 + 34, y0 + PANEL_H - 18
    top, right = y0 + 18, x0 + PANEL_W - 8
    dr.rectangle([x0, y0, x0 + PANEL_W, y0 + PANEL_H], outline="#cccccc")
    peak = max(counts) if counts else 0
    dr.text((x0 + 6, y0 + 4), f"{LABELS.get(kind, kind)}  (records/hour, total {sum(counts)})", fill="black", font=font)
    dr.text((right - 70, y0 + 4), f"max {peak}", fill="#555555", font=font)
    dr.line([left, bottom, right, bottom], fill="black")
    dr.line([left, top, left, bottom], fill="black")
    bw = (right - left) / 24.0
    for hour, c in enumerate(counts):
        if peak and c:
            bh = (bottom - top) * c / peak
            dr.rectangle([left + hour * bw + 1, bottom - bh, left + (hour + 1) * bw - 2, bottom], fill=colour)
        if hour % 3 == 0:
            dr.text((left + hour * bw, bottom + 3), f"{hour:02d}", fill="black", font=font)
