"""tests/xdist_groups.py, the grouping for ``tasks.py test`` under pytest-xdist: whole files per worker, every doc example in
one group (fixed server ports), the heaviest groups queued first."""

from __future__ import annotations

from pathlib import Path

import xdist_groups as groups

ROOT = Path(__file__).resolve().parents[1]


def test_doc_examples_share_one_group_and_tests_group_by_file():
    assert groups.xdist_group_of("README.md::line:272,column:1") == groups.DOCS_GROUP
    assert groups.xdist_group_of("docs/platform.md::line:32,column:1") == groups.DOCS_GROUP
    assert groups.xdist_group_of("tests/x/test_a.py::test_b[1-2]") == "tests/x/test_a.py"
    assert groups.xdist_group_of("tests/x/test_a.py::Cls::test_b") == "tests/x/test_a.py"


def test_every_heavy_group_names_a_file_that_exists():
    """A renamed proof module would silently lose its place at the head of the queue."""
    files = [g for g in groups.HEAVY_FIRST if g != groups.DOCS_GROUP]
    assert files and all((ROOT / g).is_file() for g in files), files


def test_heavy_groups_are_queued_first_and_keep_their_order(pytester):
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\nfrom xdist_groups import *\n")
    pytester.makepyfile(test_light="def test_a(): pass\ndef test_b(): pass\n")
    heavy = Path(groups.HEAVY_FIRST[1])
    (pytester.path / heavy.parent).mkdir(parents=True, exist_ok=True)
    (pytester.path / heavy).write_text("def test_c(): pass\ndef test_d(): pass\n")
    r = pytester.runpytest_subprocess(
        "-n",
        "1",
        "--dist",
        "loadgroup",
        "-v",
        "-p",
        "no:randomly",
        f"--rootdir={pytester.path}",
        "test_light.py",
        str(heavy),
    )
    r.assert_outcomes(passed=4)
    order = [line.split()[-1] for line in r.outlines if " PASSED " in line]  # "[gw0] [ 25%] PASSED nodeid"
    names = [o.rsplit("::", 1)[-1].split("@")[0] for o in order]
    assert names == ["test_c", "test_d", "test_a", "test_b"], r.outlines
