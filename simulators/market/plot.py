"""A PNG of the day's activity: records per clock hour, one small bar chart per node type.

Drawn with pillow (matplotlib is not a dependency).  Each panel has its own y scale
(farmers' markets make a hundred times more records than slaughterhouses), its peak
count written in the corner.  Labels are Chinese when a CJK font is found
(:func:`cjk_font`: ``$ROUCAI_CJK_FONT``, else the first file ``fc-list :lang=zh file`` lists,
sorted) and ``lang`` is ``zh``; otherwise English in pillow's built-in font (it has no CJK
glyphs and no CJK font is shipped).  Deterministic: the same counts and the same font give the
same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LABELS = {
    "slaughterhouse": "slaughterhouses",
    "meat_wholesale": "meat wholesale",
    "veg_wholesale": "vegetable wholesale",
    "distribution_centre": "distribution centres",
    "farmers_market": "farmers' markets",
    "shop": "shops / outlets",
    "supermarket": "supermarkets",
    "canteen": "canteens",
}
LABELS_ZH = {
    "slaughterhouse": "屠宰厂",
    "meat_wholesale": "肉品批发市场",
    "veg_wholesale": "蔬菜批发市场",
    "distribution_centre": "蔬菜配送中心",
    "farmers_market": "农贸市场",
    "shop": "社区直销店",
    "supermarket": "超市",
    "canteen": "团体消费单位",
}
ORDER = list(LABELS)
COLOURS = ["#8c2d04", "#d94801", "#238b45", "#41ab5d", "#2171b5", "#6baed6", "#6a51a3", "#737373"]
PANEL_W, PANEL_H, MARGIN = 460, 200, 16


@lru_cache(maxsize=4)
def _fc_list_zh() -> str | None:
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.strip().rstrip(":").strip() for line in out.splitlines() if line.strip())
    return next((f for f in files if Path(f).is_file()), None)


def cjk_font() -> str | None:
    """Path of a font with Chinese glyphs: ``$ROUCAI_CJK_FONT`` if set (``None`` if that file does not
    exist or is empty: set it to an empty string to force English), else fontconfig's first ``zh`` font."""
    env = os.environ.get("ROUCAI_CJK_FONT")
    if env is not None:
        return env if env and Path(env).is_file() else None
    return _fc_list_zh()


def _font(lang: str):
    """``(font, zh?)``: a CJK TrueType font for ``lang == "zh"`` when one loads, else pillow's default."""
    path = cjk_font() if lang == "zh" else None
    if path:
        try:
            return ImageFont.truetype(path, 13), True
        except OSError:
            pass
    return ImageFont.load_default(), False


def render(
    hourly: dict[str, list[int]], title: str, path: str | Path, *, lang: str = "zh", title_zh: str | None = None
) -> Path:
    """Draw ``hourly`` (node type → 24 counts) to ``path`` (PNG); returns the path.

    ``lang`` "zh" uses Chinese labels (and ``title_zh`` if given) when a CJK font is found, else
    English labels and ``title``."""
    kinds = [k for k in ORDER if k in hourly] + sorted(k for k in hourly if k not in ORDER)
    cols = 2
    rows = max(1, (len(kinds) + cols - 1) // cols)
    w = cols * PANEL_W + (cols + 1) * MARGIN
    h = 40 + rows * PANEL_H + (rows + 1) * MARGIN
    img = Image.new("RGB", (w, h), "white")
    dr = ImageDraw.Draw(img)
    font, zh = _font(lang)
    dr.text((MARGIN, 12), (title_zh or title) if zh else title, fill="black", font=font)
    for i, kind in enumerate(kinds):
        x0 = MARGIN + (i % cols) * (PANEL_W + MARGIN)
        y0 = 40 + MARGIN + (i // cols) * (PANEL_H + MARGIN)
        _panel(dr, font, zh, x0, y0, kind, hourly[kind], COLOURS[i % len(COLOURS)])
    out = Path(path)
    img.save(out, format="PNG", optimize=False)
    return out


def _panel(dr, font, zh: bool, x0: int, y0: int, kind: str, counts: list[int], colour: str) -> None:
    left, bottom = x0 + 34, y0 + PANEL_H - 18
    top, right = y0 + 18, x0 + PANEL_W - 8
    dr.rectangle([x0, y0, x0 + PANEL_W, y0 + PANEL_H], outline="#cccccc")
    peak = max(counts) if counts else 0
    if zh:
        head, most = f"{LABELS_ZH.get(kind, kind)}（每小时记录数，合计 {sum(counts)}）", f"最高 {peak}"
    else:
        head, most = f"{LABELS.get(kind, kind)}  (records/hour, total {sum(counts)})", f"max {peak}"
    dr.text((x0 + 6, y0 + 4), head, fill="black", font=font)
    dr.text((right - 70, y0 + 4), most, fill="#555555", font=font)
    dr.line([left, bottom, right, bottom], fill="black")
    dr.line([left, top, left, bottom], fill="black")
    bw = (right - left) / 24.0
    for hour, c in enumerate(counts):
        if peak and c:
            bh = (bottom - top) * c / peak
            dr.rectangle([left + hour * bw + 1, bottom - bh, left + (hour + 1) * bw - 2, bottom], fill=colour)
        if hour % 3 == 0:
            dr.text((left + hour * bw, bottom + 3), f"{hour:02d}", fill="black", font=font)
