"""追溯小票 (traceability receipt): content, 32-column text, 384-px PNG with QR.

Content (devices.md §1.2 c, the deployed firmware's receipt, plus the trace
code per line that 肉菜 receipts carry): market name, stall, vendor, time,
order number, one block per line (name, weight kg, unit price 元/kg, amount
元, 追溯码), total, and a QR code whose content the profile defines
(``[receipt] qr_template``: the query URL + the trace code).

Text: 32 display columns (CJK characters count 2), as the 2-inch head prints.

PNG: 384 px wide (2-inch, 384-dot head).  Chinese glyphs need a CJK font:
:func:`find_cjk_font` asks fontconfig (``fc-list :lang=zh``) or takes
``$ROUCAI_CJK_FONT``.  Without one the PNG uses DejaVu Sans Mono with English
labels and shows Chinese values by their English/ASCII alternative (commodity
English name, codes) -- the text receipt keeps the Chinese.  ``Receipt.png``
reports which of the two it did (``font_mode``: ``cjk`` or ``latin-fallback``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    weight_g: int
    unit_price_fen: int
    amount_fen: int
    trace_code: str
    name_en: str = ""


@dataclass
class Receipt:
    market_name: str
    stall: str
    vendor_name: str
    time: datetime
    order_no: str
    lines: list[ReceiptLine] = field(default_factory=list)
    qr_content: str = ""
    blank: bool = False  # ink/head fault: the paper comes out empty

    @property
    def total_fen(self) -> int:
        return sum(ln.amount_fen for ln in self.lines)

    def text(self, width: int = 32, qr_text: bool = True) -> str:
        """The receipt as printed, ``width`` display columns per line.

        ``qr_text``: end with the QR content as text (the PNG draws the QR instead).
        """
        if self.blank:
            return "\n" * 12
        rule = "-" * width
        out = [
            _center(self.market_name, width),
            _center("追溯小票", width),
            rule,
            f"市场名称：{self.market_name}",
            f"摊位号：{self.stall}",
            f"商户：{self.vendor_name}",
            f"交易时间：{self.time:%Y-%m-%d %H:%M:%S}",
            f"订单编号：{self.order_no}",
            rule,
            _cols(["名称", "重量/kg", "单价/元", "金额/元"], width),
        ]
        for ln in self.lines:
            out.append(ln.name + "(计重Kg)")
            out.append(
                _cols(
                    ["", f"{ln.weight_g / 1000:.3f}", f"{ln.unit_price_fen / 100:.2f}", f"{ln.amount_fen / 100:.2f}"],
                    width,
                )
            )
            out.append(f"追溯码：{ln.trace_code}")
        out += [rule, f"合计: {len(self.lines)}笔 {self.total_fen / 100:.2f}元", "扫码查询追溯信息："]
        if qr_text:
            out.append(self.qr_content)
        wrapped = []
        for line in out:
            wrapped += _wrap(line, width)
        return "\n".join(wrapped) + "\n"

    def png(self, path: str | Path, font_path: str | None = None) -> dict:
        """Render to a PNG file; returns ``{"path", "width", "height", "font_mode", "font"}``."""
        return render_png(self, Path(path), font_path)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _center(s: str, width: int) -> str:
    pad = max(0, (width - _width(s)) // 2)
    return " " * pad + s


def _cols(cells: list[str], width: int) -> str:
    w = width // len(cells)
    out = ""
    for c in cells:
        out += " " * max(0, w - _width(c)) + c
    return out


def _wrap(s: str, width: int) -> list[str]:
    lines, cur, cw = [], "", 0
    for ch in s:
        w = _width(ch)
        if cw + w > width:
            lines.append(cur)
            cur, cw = "", 0
        cur += ch
        cw += w
    lines.append(cur)
    return lines


@lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """Path of a font with Chinese glyphs, or ``None`` (``$ROUCAI_CJK_FONT`` first)."""
    env = os.environ.get("ROUCAI_CJK_FONT")
    if env and Path(env).is_file():
        return env
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            p = line.split(":")[0].strip()
            if p and Path(p).is_file():
                return p
    return None


def _latin_font() -> str | None:
    for p in ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "/usr/share/fonts/TTF/DejaVuSansMono.ttf"):
        if Path(p).is_file():
            return p
    return None


def _ascii(s: str, alt: str = "") -> str:
    if s.isascii():
        return s
    return alt if alt and alt.isascii() else "".join(ch if ch.isascii() else "?" for ch in s)


def render_png(r: Receipt, path: Path, font_path: str | None = None, width_px: int = 384) -> dict:
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    cjk = font_path or find_cjk_font()
    mode = "cjk" if cjk else "latin-fallback"
    fpath = cjk or _latin_font()
    size = 20
    font = ImageFont.truetype(fpath, size) if fpath else ImageFont.load_default()
    if r.blank:
        rows: list[str] = []
    elif mode == "cjk":
        rows = r.text(32, qr_text=False).rstrip("\n").split("\n")
    else:
        rows = [
            _ascii(r.market_name, "market"),
            "TRACEABILITY RECEIPT",
            "-" * 30,
            f"Stall: {_ascii(r.stall)}",
            f"Vendor: {_ascii(r.vendor_name, '(vendor)')}",
            f"Time: {r.time:%Y-%m-%d %H:%M:%S}",
            f"Order: {_ascii(r.order_no)}",
            "-" * 30,
        ]
        for ln in r.lines:
            rows += [
                _ascii(ln.name, ln.name_en or "goods"),
                f"  {ln.weight_g / 1000:.3f}kg x {ln.unit_price_fen / 100:.2f} = {ln.amount_fen / 100:.2f}",
                f"  Trace: {ln.trace_code}",
            ]
        rows += ["-" * 30, f"Total: {len(r.lines)} line(s) {r.total_fen / 100:.2f} CNY", "Scan to trace:"]
    rows = _fit(rows, font, width_px - 12)
    line_h = size + 6
    qr_img = None
    if r.qr_content and not r.blank:
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=2)
        qr.add_data(r.qr_content)
        qr.make(fit=True)
        qr_img = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
        if qr_img.width > width_px - 16:
            qr_img = qr_img.resize((width_px - 16, width_px - 16), Image.NEAREST)
    height = 16 + line_h * len(rows) + (qr_img.height + 16 if qr_img else 0) + 16
    img = Image.new("L", (width_px, max(height, 120)), 255)
    draw = ImageDraw.Draw(img)
    y = 8
    for row in rows:
        draw.text((6, y), row, fill=0, font=font)
        y += line_h
    if qr_img is not None:
        img.paste(qr_img, ((width_px - qr_img.width) // 2, y + 8))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return {"path": str(path), "width": img.width, "height": img.height, "font_mode": mode, "font": fpath, "rows": rows}


def _fit(rows: list[str], font, max_px: int) -> list[str]:
    """Rows broken (by character) so that none is wider than ``max_px`` in ``font``: nothing printed is cut off."""
    out: list[str] = []
    for row in rows:
        while row and font.getlength(row) > max_px:
            n = len(row) - 1
            while n > 1 and font.getlength(row[:n]) > max_px:
                n -= 1
            out.append(row[:n])
            row = row[n:]
        out.append(row)
    return out
