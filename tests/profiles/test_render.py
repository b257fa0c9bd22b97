"""The profile rendered as Markdown: committed docs never drift, sections follow the data, tables are well-formed."""

import re
import shutil
from pathlib import Path

import pytest

from profiles import load_profile
from profiles.profile import Profile
from profiles.render import render_profile, stale_docs, write_docs
from profiles.requirements import EVIDENCE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def docs():
    p = load_profile()
    return {lang: render_profile(p, lang) for lang in ("zh", "en")}


def test_committed_docs_equal_a_fresh_render():
    """If this fails: run `roucai docs profile --out docs` and commit docs/profile.*.md."""
    stale = stale_docs(load_profile(), ROOT / "docs")
    assert not stale, f"stale docs {stale}: run `roucai docs profile --out docs`"


def test_render_is_deterministic(docs):
    p = load_profile()
    assert render_profile(p, "zh") == docs["zh"] and render_profile(p, "en") == docs["en"]


def test_every_requirement_appears_in_both_languages(docs):
    for r in load_profile().requirements:
        assert f"#### {r.id} {r.title_zh}" in docs["zh"]
        assert f"#### {r.id} {r.title_en}" in docs["en"]
        assert r.statement_zh in docs["zh"] and r.statement_en in docs["en"]


def test_summary_counts_match_catalogue(docs):
    cat = load_profile().requirements
    row = next(line for line in docs["en"].splitlines() if line.startswith("| **total**"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    per_evidence = [sum(1 for r in cat if r.evidence == e) for e in EVIDENCE]
    assert [int(c) for c in cells] == per_evidence + [len(cat)]


def test_sections_present(docs):
    for heading in (
        "## Evidence levels",
        "## Code structures",
        "## Commodity table",
        "## Region table",
        "## Requirement catalogue",
    ):
        assert heading in docs["en"]
    assert "## 证据等级" in docs["zh"] and "## 需求目录" in docs["zh"]
    assert "`证据: 实践`" in docs["zh"] and "`evidence: practice`" in docs["en"]


def _tables(text):
    block = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            yield block
            block = []


def test_markdown_tables_have_consistent_columns(docs):
    for text in docs.values():
        n = 0
        for table in _tables(text):
            widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
            assert len(widths) == 1, table[:3]
            assert set(table[1].replace("|", "")) == {"-"}
            n += 1
        assert n >= 4


def test_unknown_language_refused():
    with pytest.raises(ValueError):
        render_profile(load_profile(), "fr")


def _standalone(tmp_path: Path, keys: list[str]) -> Path:
    """A profile folder (no base) holding only the data files named by ``keys``."""
    ref = load_profile()
    files = {k: ref.path(k).name for k in keys}
    lines = ['name = "mini"', 'version = "0.1"', "[files]"] + [f'{k} = "{v}"' for k, v in files.items()]
    (tmp_path / "profile.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for k in keys:
        shutil.copy(ref.path(k), tmp_path / files[k])
    return tmp_path


def test_parts_without_data_are_skipped_then_rendered_once_present(tmp_path):
    root = _standalone(tmp_path, ["regions", "commodities", "codes"])
    text = render_profile(Profile(root), "en")
    assert "## Code structures" in text
    for absent in ("## Records", "## Upload envelope", "## Requirement catalogue", "## Identifiers"):
        assert absent not in text
    shutil.copy(load_profile().path("envelope"), root / "envelope.toml")
    (root / "profile.toml").write_text(
        (root / "profile.toml").read_text("utf-8") + 'envelope = "envelope.toml"\n', encoding="utf-8"
    )
    text = render_profile(Profile(root), "en")
    assert "## Upload envelope" in text and "DataExchangeReq" in text


def test_unknown_record_layout_falls_back_to_generic(tmp_path):
    root = _standalone(tmp_path, ["regions", "commodities", "codes"])
    (root / "records.toml").write_text('[widgets]\ncolour = "red|blue"\n', encoding="utf-8")
    (root / "profile.toml").write_text(
        (root / "profile.toml").read_text("utf-8") + 'records = "records.toml"\n', encoding="utf-8"
    )
    text = render_profile(Profile(root), "zh")
    assert "## 记录" in text and "- colour: red\\|blue" in text


def test_write_and_stale(tmp_path):
    p = load_profile()
    out = tmp_path / "d"
    assert len(stale_docs(p, out)) == 2
    paths = write_docs(p, out)
    assert [x.name for x in paths] == ["profile.zh.md", "profile.en.md"]
    assert stale_docs(p, out) == []
    paths[1].write_text(paths[1].read_text("utf-8") + "edit\n", encoding="utf-8")
    assert stale_docs(p, out) == [paths[1]]
