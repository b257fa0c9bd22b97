"""The HTML report as a reader sees it: rendered by a real headless Chromium (Debian's package).

Checks the rendered DOM (every section, the verdict, per-requirement rows, links to evidence) and that Chinese
text really renders: a screenshot of the report differs from a screenshot of the same report with every CJK
character replaced by a private-use code point (which renders as a missing-glyph box).  Without a CJK font both
screenshots are identical boxes, and the test fails.

Skipped only when no Chromium is installed; `.ci/run` installs it (and a CJK font) from Debian's packages.
"""

import hashlib
import re
import shutil
import subprocess
import sys

import pytest
from PIL import Image, ImageChops

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")

SUITE = """
import pytest
@pytest.mark.requirement("CODE-TRACE-01")
def test_trace_code_structure(evidence):
    evidence.attach_json("codes.json", ["65010200100120000345"])
@pytest.mark.requirement("CODE-TRACE-04")
def test_trace_codes_unique():
    assert False, "追溯码 65010200100120000345 被重复使用"
@pytest.mark.requirement("PERC-SCALE-06")
@pytest.mark.applies(kinds=("scale",), needs=("card_reader",))
def test_needs_reader():
    pass
"""


def chromium(tmp_path, *args):
    profile = tmp_path / "chrome-profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, timeout=60, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytester_dir = tmp_path_factory.mktemp("run")
    (pytester_dir / "test_suite.py").write_text(SUITE, "utf-8")
    (pytester_dir / "caps.toml").write_text('[target]\nkind = "scale"\n[capabilities]\nprinter = true\n', "utf-8")
    rep = pytester_dir / "rep"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "test_suite.py",
            "-p",
            "conformance.plugin",  # loaded by name: the package registers no pytest11 entry point
            "--target",
            "sim://scale-01",
            "--capabilities",
            "caps.toml",
            "--report",
            str(rep),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=pytester_dir,
        capture_output=True,
        timeout=120,
    )
    assert (rep / "report.zh.html").is_file(), "the conformance run wrote no report"
    return rep


@pytest.mark.parametrize(
    "lang,verdict_word,heading", [("zh", "不符合", "需求判定"), ("en", "NON-CONFORMANT", "Verdict per requirement")]
)
def test_rendered_dom_has_every_section(report, tmp_path, lang, verdict_word, heading):
    page = report / f"report.{lang}.html"
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    for sec in ("summary", "requirements", "failures", "tests", "capabilities", "environment"):
        assert re.search(rf'<section id="{sec}">\s*<h2>[^<]+</h2>', dom), f"section {sec} missing or untitled"
    assert verdict_word in dom and heading in dom
    for rid in ("CODE-TRACE-01", "CODE-TRACE-04", "PERC-SCALE-06"):
        assert f'id="req-{rid}"' in dom
    assert "codes.json" in dom  # evidence link of the passing test
    if lang == "zh":
        assert "被重复使用" in dom  # the failure message, in Chinese, under what to fix


def _shot(tmp_path, html_path, name):
    out = tmp_path / name
    chromium(tmp_path, f"--screenshot={out}", "--window-size=1200,900", html_path.as_uri())
    return Image.open(out).convert("RGB")


def test_chinese_text_renders_with_real_glyphs(report, tmp_path):
    page = report / "report.zh.html"
    html = page.read_text("utf-8")
    tofu = tmp_path / "tofu.html"
    tofu.write_text(re.sub(r"[\u4e00-\u9fff]", "\ue000", html), "utf-8")
    real, boxes = _shot(tmp_path, page, "real.png"), _shot(tmp_path, tofu, "tofu.png")
    assert real.size == (1200, 900)
    assert len(set(real.resize((60, 45)).tobytes()[i : i + 3] for i in range(0, 60 * 45 * 3, 3))) > 4, (
        "the screenshot is blank"
    )
    diff = ImageChops.difference(real, boxes).getbbox()
    assert diff is not None, "Chinese characters render exactly like missing-glyph boxes: no CJK font"
    assert hashlib.sha256(real.tobytes()).hexdigest() != hashlib.sha256(boxes.tobytes()).hexdigest()
