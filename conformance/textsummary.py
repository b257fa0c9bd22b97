"""The terminal summary of a run: a plain-text table, in one language (zh or en).

:func:`summary_lines` renders the results JSON (``conformance/results.py``) as the lines a person
reads at the end of ``roucai certify`` or a plain pytest run: one row per requirement that was not
``not-applicable`` (all of them with ``verbose``), the counts per verdict, and the run's verdict
(CONFORMANT / NON-CONFORMANT, or INTERRUPTED with no verdict).  Every word is in ``lang``; ids and
numbers are the same in both.
"""

from __future__ import annotations

import unicodedata

from . import verdicts as V

_LEVEL = {
    "required": ("必须", "required"),
    "conditional": ("条件", "conditional"),
    "recommended": ("推荐", "recommended"),
}
_HEAD = {
    "id": ("需求", "requirement"),
    "level": ("级别", "level"),
    "verdict": ("判定", "verdict"),
    "reqs": ("需求", "requirements"),
    "tests": ("测试", "tests"),
}


def run_verdict(summary: dict, lang: str) -> str:
    """CONFORMANT / NON-CONFORMANT / INTERRUPTED in ``lang``."""
    i = 1 if lang == "en" else 0
    if summary.get("verdict") == "TARGET-DOWN":
        return ("被测对象未能启动（无结论）", "TARGET DOWN (no verdict)")[i]
    if summary.get("conformant") is None:
        return ("已中断（无结论）", "INTERRUPTED (no verdict)")[i]
    if summary.get("verdict") == V.INCOMPLETE:
        return V.RUN_VERDICTS[V.INCOMPLETE][i]
    return ("符合", "CONFORMANT")[i] if summary["conformant"] else ("不符合", "NON-CONFORMANT")[i]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def summary_lines(results: dict, lang: str = "zh", verbose: bool = False) -> list[str]:
    i = 1 if lang == "en" else 0
    rows = [
        (r["id"], _LEVEL.get(r["level"], (r["level"],) * 2)[i], V.label(r["verdict"], lang))
        for r in results["requirements"]
        if verbose or r["verdict"] != V.NOT_APPLICABLE
    ]
    head = (_HEAD["id"][i], _HEAD["level"][i], _HEAD["verdict"][i])
    widths = [max(_width(x) for x in col) for col in zip(head, *rows)]
    rule = "-+-".join("-" * w for w in widths)
    out = [" | ".join(_pad(c, w) for c, w in zip(head, widths)), rule]
    out += [" | ".join(_pad(c, w) for c, w in zip(row, widths)) for row in rows]
    s = results["summary"]
    for key in ("reqs", "tests"):
        counts = s["requirements" if key == "reqs" else "tests"]
        out.append(f"{_HEAD[key][i]}: " + ", ".join(f"{V.label(k, lang)} {n}" for k, n in counts.items()))
    out.append(("结论：", "verdict: ")[i] + run_verdict(s, lang))
    for a in s.get("actions_needed") or []:  # INCOMPLETE: what to declare in [actions]
        out.append(
            ("  需声明操作 ", "  declare action ")[i] + f"{a['action']}: {a['en' if i else 'zh']} "
            f"({', '.join(a['requirements'])})"
        )
    return out
