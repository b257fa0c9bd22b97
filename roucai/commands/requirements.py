"""``roucai requirements list|show``: the profile's requirement catalogue.

``list`` filters with ``--area``, ``--actor``, ``--level``, ``--evidence``
(all optional, combined with AND).  ``show ID`` prints one requirement; the id
is matched case-insensitively, and an unknown id exits 2 with close matches.

JSON output (stable)::

    list:  {"profile": "reference@1.0.0", "catalogue_version": "1.0.0",
            "filters": {"area": null|str, "actor": …, "level": …, "evidence": …},
            "count": N, "requirements": [REQ, ...]}
    show:  {"profile": "reference@1.0.0", "catalogue_version": "1.0.0", "requirement": REQ}

    REQ = {"id", "area", "level", "condition" (str|null), "actors" [str],
           "evidence", "source", "title_zh", "title_en", "statement_zh",
           "statement_en", "profile_values" {}, "testable_by" (str|null),
           "not_tested_reason" ({"zh","en"}|null)}

Exit codes: 0 listed/shown (an empty filtered list is still 0), 2 unknown id
or bad option.  ``requirements coverage`` belongs to the conformance package.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from profiles.requirements import ACTORS, AREAS, EVIDENCE, LEVELS

from ..console import EXIT_OK, UsageError
from ._profile import profile_of


def register(sub, common):
    p = sub.add_parser("requirements", parents=[common], help="the requirement catalogue / 需求目录")
    s = p.add_subparsers(dest="requirements_cmd", metavar="list|show|coverage")
    ls = s.add_parser("list", parents=[common], help="list requirements / 列出需求")
    ls.add_argument("--area", choices=list(AREAS))
    ls.add_argument("--actor", choices=list(ACTORS))
    ls.add_argument("--level", choices=list(LEVELS))
    ls.add_argument("--evidence", choices=list(EVIDENCE))
    ls.set_defaults(func=run_list)
    sh = s.add_parser("show", parents=[common], help="show one requirement / 显示一条需求")
    sh.add_argument("id", metavar="ID")
    sh.set_defaults(func=run_show)
    cv = s.add_parser(
        "coverage", parents=[common], help="which tests check each requirement, both directions / 需求覆盖"
    )
    cv.add_argument("--missing", action="store_true", help="only requirements with no test and no reason")
    cv.set_defaults(func=run_coverage)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


def _pad(text: str, width: int) -> str:
    """Pad to a display width (CJK characters count 2 columns)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


def _close_ids(rid: str, ids: list[str]) -> list[str]:
    """Likely meant ids: the zero-padded form (PERC-SCALE-6 → PERC-SCALE-06) first, then close spellings."""
    padded = re.sub(r"-(\d)$", r"-0\1", rid)
    near = [padded] if padded != rid and padded in ids else []
    return near + [i for i in difflib.get_close_matches(rid, ids, n=3, cutoff=0.6) if i not in near][: 3 - len(near)]


def _label(table: dict, key: str, lang: str) -> str:
    zh, en = table[key][0], table[key][1]
    return en if lang == "en" else zh


def run_list(args, con) -> int:
    prof = profile_of(args)
    cat = prof.requirements
    filters = {k: getattr(args, k, None) for k in ("area", "actor", "level", "evidence")}
    rows = cat.select(**filters)
    if con.as_json:
        con.json(
            {
                "profile": prof.lineage[0],
                "catalogue_version": cat.version,
                "filters": filters,
                "count": len(rows),
                "requirements": [r.to_dict() for r in rows],
            }
        )
        return EXIT_OK
    for r in rows:
        lvl = _label(LEVELS, r.level, con.lang)
        ev = _label(EVIDENCE, r.evidence, con.lang)
        con.say(f"{r.id:<15} {_pad(lvl, 12)} {_pad(ev, 12)} {r.title(con.lang)}")
    con.say(f"共 {len(rows)} 条（目录共 {len(cat)} 条）", f"{len(rows)} of {len(cat)} requirements")
    return EXIT_OK


def run_show(args, con) -> int:
    prof = profile_of(args)
    cat = prof.requirements
    rid = args.id.strip().upper()
    req = cat.get(rid)
    if req is None:
        near = _close_ids(rid, cat.ids)
        hint_zh = f"；相近的有：{', '.join(near)}" if near else "；用 roucai requirements list 查看全部"
        hint_en = f"; did you mean: {', '.join(near)}" if near else "; see roucai requirements list"
        raise UsageError(f"未知的需求编号 {args.id}{hint_zh}", f"unknown requirement id {args.id}{hint_en}")
    if con.as_json:
        con.json({"profile": prof.lineage[0], "catalogue_version": cat.version, "requirement": req.to_dict()})
        return EXIT_OK
    lang = con.lang
    con.say(f"{req.id}  {req.title(lang)}")
    con.say(con.t("  领域：", "  area: ") + (AREAS[req.area][1] if lang == "zh" else AREAS[req.area][2]))
    level = _label(LEVELS, req.level, lang)
    if req.condition:
        level += con.t(f"（条件：{req.condition}）", f" (condition: {req.condition})")
    con.say(con.t("  级别：", "  level: ") + level)
    con.say(con.t("  适用对象：", "  actors: ") + ", ".join(_label(ACTORS, a, lang) for a in req.actors))
    con.say(con.t("  证据：", "  evidence: ") + _label(EVIDENCE, req.evidence, lang))
    con.say(con.t("  来源：", "  source: ") + req.source)
    con.say(con.t("  要求：", "  statement: ") + req.statement(lang))
    for k, v in req.profile_values.items():
        con.say(con.t("  配置值 ", "  profile value ") + f"{k} = {v}")
    if req.testable_by:
        con.say(con.t("  测试套件：", "  tested by: ") + req.testable_by)
    if req.not_tested_reason:
        con.say(con.t("  不测原因：", "  not tested because: ") + req.not_tested_reason[lang])
    if req.justification:
        con.say(con.t("  仍为必须的理由：", "  why required: ") + req.justification[lang])
    return EXIT_OK


def run_coverage(args, con) -> int:
    """Exit 0 when every requirement has a test or a stated reason and every test names a requirement."""
    from conformance.coverage import collect_tests, coverage

    tests, errors = collect_tests()
    if errors:
        for e in errors:
            con.err(f"收集测试出错：{e}", f"collection error: {e}")
        return 3
    cov = coverage(profile_of(args).requirements, tests)
    if con.as_json:
        con.json(cov)
        return 0 if cov["ok"] else 1
    status = {
        "tested": ("已测", "tested"),
        "reasoned": ("不测（有理由）", "not tested (reason)"),
        "missing": ("缺失", "MISSING"),
    }
    for row in cov["requirements"]:
        if args.missing and row["status"] != "missing":
            continue
        zh, en = status[row["status"]]
        detail = ", ".join(t.split("::")[-1] for t in row["tests"]) or (row["not_tested_reason"] or "")
        if isinstance(detail, dict):
            detail = detail.get(con.lang, "")
        con.say(f"{row['id']:<16} {con.t(zh, en):<10} {detail}")
    for n in cov["orphan_tests"]:
        con.say(con.t(f"未声明需求的测试：{n}", f"test checking no requirement: {n}"))
    for n in cov["unknown_ids"]:
        con.say(con.t(f"未知需求编号：{n}", f"unknown requirement id: {n}"))
    tested = sum(r["status"] == "tested" for r in cov["requirements"])
    reasoned = sum(r["status"] == "reasoned" for r in cov["requirements"])
    con.say(
        con.t(
            f"共 {len(cov['requirements'])} 条需求：已测 {tested}，有理由不测 {reasoned}，缺失 {len(cov['missing'])}；"
            f"测试 {cov['tests']} 个",
            f"{len(cov['requirements'])} requirements: {tested} tested, {reasoned} not tested with a reason, "
            f"{len(cov['missing'])} missing; {cov['tests']} tests",
        )
    )
    return 0 if cov["ok"] else 1
