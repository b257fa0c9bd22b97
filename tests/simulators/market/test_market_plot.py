"""The activity plot's labels: Chinese with a CJK font (``$ROUCAI_CJK_FONT`` or fontconfig), English otherwise."""

from __future__ import annotations

import pytest

from simulators.market import plot

HOURLY = {"farmers_market": [0] * 6 + [40, 90, 70] + [20] * 15, "slaughterhouse": [3, 8, 2] + [0] * 21}


def _render(tmp_path, name, **kw):
    return plot.render(HOURLY, "tiny seed 1", tmp_path / name, title_zh="tiny，种子 1", **kw).read_bytes()


def test_no_font_means_english_in_the_builtin_font(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUCAI_CJK_FONT", "")
    assert plot.cjk_font() is None
    assert _render(tmp_path, "zh.png") == _render(tmp_path, "en.png", lang="en")
    monkeypatch.setenv("ROUCAI_CJK_FONT", str(tmp_path / "no-such-font.ttf"))
    assert plot.cjk_font() is None
    assert _render(tmp_path, "zh2.png") == _render(tmp_path, "en.png", lang="en")


def test_a_cjk_font_gives_chinese_labels_deterministically(tmp_path, monkeypatch):
    monkeypatch.delenv("ROUCAI_CJK_FONT", raising=False)
    font = plot.cjk_font()
    if font is None:
        pytest.skip("no CJK font on this machine (fc-list :lang=zh finds none)")
    monkeypatch.setenv("ROUCAI_CJK_FONT", font)
    zh = _render(tmp_path, "zh.png")
    assert zh == _render(tmp_path, "zh-again.png")
    assert zh != _render(tmp_path, "en.png", lang="en")
    # the Chinese label is drawn: the panel header area of the zh image has ink where the English one differs
    from PIL import Image

    a = Image.open(tmp_path / "zh.png").convert("L").crop((16, 56, 300, 75))
    b = Image.open(tmp_path / "en.png").convert("L").crop((16, 56, 300, 75))
    assert a.tobytes() != b.tobytes() and a.getextrema()[0] < 128
