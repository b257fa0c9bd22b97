"""scripts/mutation_select.py and the pure parts of scripts/mutation.py (issue 11: the mutation score)."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import mutation  # noqa: E402
import mutation_certify  # noqa: E402
from mutation_select import annotation_spans, choose, inside  # noqa: E402

SOURCE = """from __future__ import annotations
X: int | None = 3 + 4
def f(a: str | None, /, b: list[int] = [1 - 2], *c: tuple[int, ...], d: "x" = 0, **e: dict[str, int]) -> float | int:
    y: set[int] = {a + b}
    return y - 1
名 = 1; z: bytes | None = None
"""


def test_every_kind_of_annotation_is_found_and_nothing_else():
    spans = annotation_spans(SOURCE)
    lines = SOURCE.splitlines()
    texts = [lines[s[0] - 1][s[1] : e[1]] for s, e in spans]
    assert all(s[0] == e[0] for s, e in spans)
    assert texts == [
        "int | None",
        "str | None",
        "list[int]",
        "tuple[int, ...]",
        '"x"',
        "dict[str, int]",
        "float | int",
        "set[int]",
        "bytes | None",
    ]


def test_columns_are_characters_not_utf8_bytes():
    ((start, end),) = [sp for sp in annotation_spans(SOURCE) if sp[0][0] == 6]
    assert (start, end) == ((6, 10), (6, 22))  # "名" is one character but three UTF-8 bytes


def test_without_future_annotations_nothing_is_filtered():
    assert annotation_spans(SOURCE.split("\n", 1)[1]) == []
    assert annotation_spans("import __future__\nx: int | None = 1\n") == []


def test_inside_needs_the_whole_node_within_one_span():
    spans = [((2, 3), (2, 13))]
    assert inside((2, 3), (2, 13), spans) and inside((2, 4), (2, 5), spans)
    assert not inside((2, 2), (2, 5), spans) and not inside((2, 12), (2, 14), spans)
    assert not inside((1, 3), (2, 5), spans) and not inside((2, 5), (3, 0), spans)
    assert not inside((2, 4), (2, 5), [])


def test_the_sample_is_seeded_sized_and_drawn_from_sorted_keys():
    keys = [("op", i) for i in range(50)]
    a = choose(keys, 10, 1, "m.py")
    assert len(a) == 10 == len(set(a)) and set(a) <= set(keys) and a == sorted(a)
    assert choose(list(reversed(keys)), 10, 1, "m.py") == a
    assert choose(keys, 10, 2, "m.py") != a and choose(keys, 10, 1, "n.py") != a
    assert choose(keys, None, 1, "m.py") == keys == choose(keys, 50, 1, "m.py") == choose(keys, 99, 1, "m.py")


def _strip_annotations(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return ast.dump(tree)


def test_filtered_mutants_of_cosmic_ray_are_exactly_those_that_change_only_annotations(tmp_path):
    """Every mutant cosmic-ray makes of SOURCE: filtered iff the mutated module differs only in annotations."""
    pytest.importorskip("cosmic_ray")
    from cosmic_ray.commands.init import _all_work_items
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    path = tmp_path / "m.py"
    path.write_text(SOURCE, encoding="utf-8")
    spans = annotation_spans(SOURCE)
    base = _strip_annotations(SOURCE)
    seen = {True: 0, False: 0}
    for item in _all_work_items([path], {}):
        m = item.mutations[0]
        mutated = mutate_code(SOURCE, get_operator(m.operator_name)(**m.operator_args), m.occurrence)
        if mutated is None or mutated == SOURCE:
            continue
        try:
            only_annotations = _strip_annotations(mutated) == base
        except SyntaxError:
            only_annotations = False
        filtered = inside(m.start_pos, m.end_pos, spans)
        assert filtered == only_annotations, (m.operator_name, m.occurrence, m.start_pos, m.end_pos)
        seen[filtered] += 1
    assert seen[True] >= 5 and seen[False] >= 5, seen


def test_certify_exit_code_is_read_from_the_last_marker_line():
    mark = mutation_certify.MARK
    assert mutation_certify.exit_code(f"noise\n{mark} 0\n") == 0
    assert mutation_certify.exit_code(f"{mark} 0\n{mark} 3\n") == 3
    assert mutation_certify.exit_code(f"{mark} -9") == -9
    assert mutation_certify.exit_code("timeout") is None and mutation_certify.exit_code(None) is None
    assert mutation_certify.exit_code(f"{mark} x") is None


def test_the_certify_command_names_the_builtin_target_suite_seed_and_keyword():
    cmd = mutation_certify.command("platform", "rep", "not slow")
    assert cmd[1:] == [
        "-m",
        "roucai.cli",
        "certify",
        "--target",
        "builtin",
        "--suite",
        "platform",
        "--seed",
        "1",
        "--report",
        "rep",
        "-k",
        "not slow",
    ]
    assert "-k" not in mutation_certify.command("perception", "rep", None)


def test_every_listed_module_and_unit_test_exists():
    for oracle, modules in mutation.ORACLES.items():
        for module in modules:
            assert (ROOT / module).is_file(), module
            if oracle == "unit":
                assert all((ROOT / t).is_file() for t in modules[module]), module
    assert mutation.CERTIFY["simulators/node/outbox.py"][0] == "transmission"
    assert {s for s, _ in mutation.CERTIFY.values()} == {"platform", "transmission", "perception"}


def test_row_counts_crashes_as_killed_and_lists_them_apart():
    r = {
        "module": "m.py",
        "mutants": 50,
        "filtered": 12,
        "killed": 7,
        "crashed": [{"line": 3}],
        "survived": [{"line": 1}, {"line": 2}],
        "not_run": 0,
    }
    assert mutation.row(r) == "| m.py | 50 | 12 | 10 | 7 | 1 | 2 | 0 | 80.0 % |"
    assert mutation.row({**r, "killed": 0, "crashed": [], "survived": []}).endswith("| 0 | 0 | 0 | 0 | - |")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--sample", "0"], "--sample"),
        (["--oracle", "certify", "--module", "profiles/codes.py"], "profiles/codes.py"),
        (["--oracle", "nope"], "--oracle"),
    ],
)
def test_usage_errors_exit_2_with_a_bilingual_message(argv, words, capsys):
    with pytest.raises(SystemExit) as e:
        mutation.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_recommended_failures_are_read_from_the_report_and_from_the_oracles_output(tmp_path):
    """A recommended requirement's failure does not change certify's exit code: the survivor is marked."""
    import json

    (tmp_path / "results.json").write_text(
        json.dumps({"summary": {"failed_recommended": ["PLAT-KPI-03", "PLAT-KPI-04"], "failed_required": []}})
    )
    assert mutation_certify._recommended_failures(tmp_path) == ["PLAT-KPI-03", "PLAT-KPI-04"]
    assert mutation_certify._recommended_failures(tmp_path / "absent") == []
    (tmp_path / "results.json").write_text("{not json")
    assert mutation_certify._recommended_failures(tmp_path) == []
    out = f"{mutation_certify.RECOMMENDED} PLAT-KPI-03 PLAT-KPI-04\n{mutation_certify.MARK} 0\n"
    assert mutation_certify.failed_recommended(out) == ["PLAT-KPI-03", "PLAT-KPI-04"]
    assert mutation_certify.failed_recommended(f"{mutation_certify.RECOMMENDED}\n{mutation_certify.MARK} 0") == []
    assert mutation_certify.failed_recommended(None) == [] and mutation_certify.exit_code(out) == 0


def test_select_skips_every_annotation_mutant_and_all_but_the_sample_in_a_cosmic_ray_session(tmp_path):
    """scripts/mutation.py's _select on a real cosmic-ray session of SOURCE: what is left to run is exactly the
    seeded sample of the mutants outside annotations."""
    pytest.importorskip("cosmic_ray")
    from cosmic_ray.work_db import WorkDB, use_db

    (tmp_path / "m.py").write_text(SOURCE, encoding="utf-8")
    (tmp_path / "c.toml").write_text(
        '[cosmic-ray]\nmodule-path = "m.py"\ntimeout = 10\nexcluded-modules = []\n'
        'test-command = "true"\n[cosmic-ray.distributor]\nname = "local"\n'
    )
    assert mutation._cosmic(["init", "c.toml", "s.sqlite"], tmp_path) == 0
    total, filtered = mutation._select(tmp_path / "s.sqlite", SOURCE, 5, 1, "m.py")
    spans = annotation_spans(SOURCE)
    with use_db(str(tmp_path / "s.sqlite"), WorkDB.Mode.open) as db:
        items = list(db.work_items)
        done = {item.job_id for item, _ in db.completed_work_items}
    outside = [w for w in items if not inside(w.mutations[0].start_pos, w.mutations[0].end_pos, spans)]
    left = [w for w in items if w.job_id not in done]
    assert total == len(items) and filtered == len(items) - len(outside) and filtered >= 5
    assert len(left) == 5 and all(w in outside for w in left)
    keys = [(w.mutations[0].operator_name, w.mutations[0].occurrence) for w in left]
    assert sorted(keys) == choose(
        [(w.mutations[0].operator_name, w.mutations[0].occurrence) for w in outside], 5, 1, "m.py"
    )
