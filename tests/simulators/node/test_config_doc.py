"""docs/node-config.md holds the key table as rendered from the node's config spec, one row per key."""

from __future__ import annotations

from pathlib import Path

from simulators.node.config_doc import markdown
from simulators.node.config_spec import SECTIONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "node-config.md"


def test_node_config_md_holds_the_table_as_rendered_from_the_spec():
    assert "\n".join(markdown()) + "\n" in DOC.read_text("utf-8")


def test_the_table_has_one_row_per_key_of_every_section():
    rows = [line for line in markdown() if line.startswith("| `")]
    want = [f"| `{sec.title} {f.key}` |" for sec in SECTIONS for f in sec.fields]
    assert [r[: len(w)] for r, w in zip(rows, want, strict=True)] == want
    assert len(want) == len(set(want)) >= 35
