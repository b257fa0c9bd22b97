"""The district report as a reader sees it: written by ``roucai report districts`` from a running platform, rendered
by a real headless Chromium (Debian's package), as tests/conformance/test_report_browser.py does for the certify
report.  Checks the rendered DOM: every district's name, the score column with a score per district, and the charts
laid out with a non-zero size (a copy of the page gets a script that writes the layout boxes into the DOM; the
report itself has none).  Skipped only when no Chromium is installed; `.ci/run` installs it.
"""

import json
import re
import shutil
import subprocess

import pytest
from platformkit import P, S, meat_chain, today, upload_all, veg_chain

from roucai.cli import main
from simulators.platform.regulators import Regulators

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")

MEASURE = """<script>
const box = id => { const e = document.getElementById(id); if (!e) return null;
  const r = e.getBoundingClientRect(); return [r.width, r.height]; };
const bars = [...document.querySelectorAll('#chart-score rect.bar')].map(b => b.getBoundingClientRect().width);
document.body.setAttribute('data-layout', JSON.stringify({score: box('chart-score'), volume: box('chart-volume'),
  bars: bars, table: box('districts')}));
</script></body>"""


def _dom(tmp_path, page):
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text("utf-8").replace("</body>", MEASURE), "utf-8")
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome'}",
        "--window-size=1200,900",
        "--dump-dom",
        probe.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout.decode("utf-8")


@pytest.mark.parametrize("lang,score_head", [("zh", "综合得分"), ("en", "Score")])
def test_rendered_report_shows_every_district_its_score_and_charts(platform, tmp_path, capsys, lang, score_head):
    upload_all(platform, meat_chain())
    upload_all(platform, veg_chain())
    out, key = tmp_path / "rep", tmp_path / "regulator.key"
    key.write_text(Regulators(platform.svc.store, platform.svc.secret, P).register("650100", "乌鲁木齐市商务局"))
    cmd = ["report", "districts", "--platform", platform.url, "--period", today(), "--out", str(out), "--lang", lang]
    assert main([*cmd, "--regulator", "650100", "--key-file", str(key)]) == 0
    capsys.readouterr()
    doc = json.loads((out / "districts.json").read_text("utf-8"))
    names = [d["name"] for d in doc["assessment"]["districts"]]
    assert names == ["沙依巴克区", "新市区", "米东区"]
    dom = _dom(tmp_path, out / "districts.html")
    heads = re.findall(r"<th[^>]*>([^<]+)</th>", dom)
    assert score_head in heads
    col = heads.index(score_head)
    rows = re.findall(r"<tr>(.*?)</tr>", dom.split("<tbody>")[1].split("</tbody>")[0])
    assert len(rows) == 3
    for row, want in zip(rows, doc["assessment"]["districts"]):
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        assert cells[1] == want["name"] and cells[col] == f"{want['score']:.2f}"
    layout = json.loads(re.search(r'data-layout="([^"]+)"', dom).group(1).replace("&quot;", '"'))
    assert layout["score"][0] > 100 and layout["score"][1] > 50, layout
    assert layout["volume"][0] > 100 and layout["volume"][1] > 50, layout
    assert len(layout["bars"]) == 3 and max(layout["bars"]) > 10, layout  # the best district's bar is drawn


def test_report_command_needs_a_regulators_key(platform, tmp_path, capsys):
    upload_all(platform, meat_chain())
    key = tmp_path / "regulator.key"
    key.write_text(Regulators(platform.svc.store, platform.svc.secret, P).register("650103", "沙依巴克区商务局"))
    out = tmp_path / "rep"
    cmd = ["report", "districts", "--platform", platform.url, "--period", today(), "--out", str(out)]
    assert main(cmd) == 2 and "--regulator" in capsys.readouterr().err and not out.exists()
    assert main([*cmd, "--regulator", "650103", "--key-file", str(tmp_path / "none")]) == 2
    capsys.readouterr()
    (tmp_path / "node.key").write_text(platform.keys[S])
    assert main([*cmd, "--regulator", "650103", "--key-file", str(tmp_path / "node.key")]) == 2
    assert "HTTP 401" in capsys.readouterr().err and not out.exists()
    assert main([*cmd, "--regulator", "650103", "--key-file", str(key), "--district", "650104"]) == 2
    assert "HTTP 403" in capsys.readouterr().err and not out.exists()
    assert main([*cmd, "--regulator", "650103", "--key-file", str(key)]) == 0
    capsys.readouterr()
    doc = json.loads((out / "districts.json").read_text("utf-8"))
    assert [d["code"] for d in doc["assessment"]["districts"]] == ["650103"]
    assert [g["key"] for g in doc["volumes"]["groups"]] == ["650103"]


def test_report_command_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ROUCAI_REGULATOR_KEY", "k" * 32)
    assert (
        main(
            [
                "report",
                "districts",
                "--platform",
                "http://127.0.0.1:9",
                "--period",
                "2026-W49",
                "--out",
                str(tmp_path / "r"),
                "--regulator",
                "650100",
            ]
        )
        == 3
    )
    assert "平台不可达" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert (
        main(
            [
                "--lang",
                "en",
                "report",
                "districts",
                "--platform",
                "http://127.0.0.1:9",
                "--period",
                "2026-W60",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "ISO week" in capsys.readouterr().err
