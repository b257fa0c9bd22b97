"""追溯小票: text layout and the PNG with its QR code."""

from __future__ import annotations

from datetime import datetime

import qrcode
from PIL import Image

from simulators.devices.receipt import Receipt, ReceiptLine, _width, find_cjk_font

TRACE = "65010200100010000042"


def receipt(**kw) -> Receipt:
    return Receipt(
        "北园春农贸市场",
        "A-12",
        "张建国",
        datetime(2024, 5, 18, 7, 31, 5),
        "RS00000000012405180731050042",
        [ReceiptLine("猪前腿肉", 1234, 2800, 3455, TRACE, "pork shoulder")],
        f"https://trace.example.invalid/q?code={TRACE}",
        **kw,
    )


def test_text_has_every_field_within_32_columns():
    t = receipt().text()
    for needle in (
        "市场名称：北园春农贸市场",
        "摊位号：A-12",
        "商户：张建国",
        "2024-05-18 07:31:05",
        "1.234",
        "28.00",
        "34.55",
        "追溯码：" + TRACE,
        "合计: 1笔 34.55元",
        "code=" + TRACE,
    ):
        assert needle in t.replace("\n", "") or needle in t
    assert all(_width(line) <= 32 for line in t.splitlines())


def test_png_is_384_wide_and_carries_the_qr(tmp_path):
    r = receipt()
    info = r.png(tmp_path / "r.png")
    img = Image.open(info["path"]).convert("L")
    assert img.width == 384 and info["font_mode"] == ("cjk" if find_cjk_font() else "latin-fallback")
    # find the QR: the same matrix qrcode computes for the content must be drawn, module by module
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=2)
    qr.add_data(r.qr_content)
    qr.make(fit=True)
    mat = qr.get_matrix()
    size = len(mat) * 4
    x0 = (384 - size) // 2
    px = img.load()
    ys = [y for y in range(img.height - size) if all(px[x0 + 4 * 2 + dx, y + 4 * 2 + 1] < 128 for dx in range(1, 27))]
    assert ys, "QR finder pattern not found"
    y0 = ys[0]
    drawn = [[px[x0 + 4 * c + 2, y0 + 4 * rr + 2] < 128 for c in range(len(mat))] for rr in range(len(mat))]
    assert drawn == mat


def test_blank_receipt(tmp_path):
    r = receipt(blank=True)
    assert r.text().strip() == ""
    img = Image.open(r.png(tmp_path / "b.png")["path"]).convert("L")
    assert img.getextrema() == (255, 255)


def test_png_prints_every_character_of_a_long_order_number(tmp_path):
    """The 28-character order number did not fit one row at 384 px and was cut off: every row fits now,
    and the rows joined still hold the whole order number."""
    from PIL import ImageFont

    info = receipt().png(tmp_path / "r.png")
    font = ImageFont.truetype(info["font"], 20) if info["font"] else ImageFont.load_default()
    assert all(font.getlength(row) <= 384 - 12 for row in info["rows"])
    assert "RS00000000012405180731050042" in "".join(info["rows"])
