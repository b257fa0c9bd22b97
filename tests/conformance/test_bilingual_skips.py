"""Every not-applicable reason a conformance test can give is bilingual (zh default, en with --lang en).

The reports show ``reason_zh`` in report.zh.html and ``reason_en`` in report.en.html.  A bare ``pytest.skip(text)``
gives the same text to both (the plugin cannot split it), so inside ``conformance/`` a test that cannot judge its
requirement raises :class:`conformance.notjudgeable.NotJudgeable` (zh, en) instead; its ``zh`` must be Chinese and
its ``en`` English.  Scanned over the AST of every module of ``conformance/``, and seen failing on a planted file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "conformance"
#: ``pytest.skip`` calls that never become a verdict: (file, enclosing function)
NOT_A_VERDICT = {("plugin.py", "_session")}  # a fixture used outside a conformance run
CJK = re.compile(r"[\u4e00-\u9fff]")


def _text(node: ast.AST) -> str | None:
    """The literal text of a str constant, f-string or concatenation of them (None when not literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [_text(node.left), _text(node.right)]
        return "".join(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    return None


def findings(path: Path, rel: str) -> list[str]:
    """What in one module gives a not-applicable reason in one language only."""
    out = []
    tree = ast.parse(path.read_text("utf-8"))
    enclosing = {}  # call -> name of its innermost enclosing function
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for n in ast.walk(func):
                enclosing[n] = func.name  # inner functions are walked later and overwrite
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = enclosing.get(call, "<module>")
        f = call.func
        callee = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
        where = f"{rel}:{call.lineno}"
        if callee == "skip" and owner == "pytest" and (path.name, name) not in NOT_A_VERDICT:
            out.append(f"{where} pytest.skip: one text for both languages (raise NotJudgeable(zh, en))")
        elif callee == "NotJudgeable":
            args = list(call.args) + [k.value for k in call.keywords if k.arg in ("zh", "en")]
            if len(args) < 2:
                out.append(f"{where} NotJudgeable without both zh and en")
                continue
            zh, en = _text(args[0]), _text(args[1])
            if zh is not None and not CJK.search(zh):
                out.append(f"{where} NotJudgeable zh has no Chinese: {zh[:60]!r}")
            elif en is not None and CJK.search(en):
                out.append(f"{where} NotJudgeable en is not English: {en[:60]!r}")
    return sorted(set(out))


def _scan(root: Path) -> list[str]:
    return [x for p in sorted(root.rglob("*.py")) for x in findings(p, str(p.relative_to(root)))]


def test_no_conformance_module_gives_a_one_language_reason():
    bad = _scan(ROOT)
    assert not bad, f"{len(bad)} not-applicable reasons in one language only:\n" + "\n".join(bad)


def test_the_scan_finds_planted_one_language_reasons(tmp_path):
    (tmp_path / "test_planted.py").write_text(
        "import pytest\nfrom conformance.notjudgeable import NotJudgeable\n"
        "def test_a():\n    pytest.skip('not applicable: nothing declared')\n"
        "def test_b():\n    raise NotJudgeable('not applicable', 'not applicable')\n"
        "def test_c():\n    raise NotJudgeable(f'无法判定：{1}', f'cannot judge: {1}')\n",
        "utf-8",
    )
    bad = _scan(tmp_path)
    assert len(bad) == 2 and ":4 pytest.skip" in bad[0] and ":6 NotJudgeable zh" in bad[1], bad
