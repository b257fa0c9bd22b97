"""``roucai profile``: the profiles and their differences.

    roucai profile list                        # every profile: name, version, what it extends
    roucai profile diff reference guangzhou    # what a dialect changes, value by value, with evidence
    roucai profile diff changchun guangzhou --json
    roucai profile checks --profile changchun  # the envelope checks the profile runs, in order

``diff A B`` compares every data file of the two profiles after the overlay merge
(:mod:`profiles.diff`); each difference carries the evidence and source the data gives
for it.  JSON (stable)::

    {"a": "reference@1.0.0", "b": "guangzhou@1.0.0",
     "changes": [{"file", "path", "kind": "added|removed|changed", "a", "b", "evidence", "source"}]}

``checks`` lists the envelope checks of ``--profile`` in the order they run
(:mod:`profiles.envelope_checks`; a dialect drops or replaces them by name in
``envelope.toml [checks]``); ``--markdown`` prints them as the table of docs/dialects.md.
JSON: ``{"profile", "checks": [{"name", "kind", "reports", "zh", "en"}], "dropped", "replaced"}``.

Exit codes: 0 done (whether or not the profiles differ), 2 unknown or malformed profile.
"""

from __future__ import annotations

from profiles import available_profiles, load_profile
from profiles.diff import diff_profiles, short
from profiles.envelope_checks import RULES, CheckTable
from profiles.requirements import EVIDENCE

from ..console import EXIT_OK
from ._profile import profile_of


def register(sub, common):
    p = sub.add_parser("profile", parents=[common], help="profiles and dialects / 配置与方言")
    s = p.add_subparsers(dest="profile_cmd", metavar="list|diff|checks")
    s.add_parser("list", parents=[common], help="every profile / 全部配置").set_defaults(func=run_list)
    d = s.add_parser("diff", parents=[common], help="differences between two profiles / 比较两个配置")
    d.add_argument("a", help="profile name or folder")
    d.add_argument("b", help="profile name or folder")
    d.set_defaults(func=run_diff)
    c = s.add_parser("checks", parents=[common], help="the envelope checks, in order / 信封检查（按顺序）")
    c.add_argument("--markdown", action="store_true", help="as a Markdown table / 输出 Markdown 表格")
    c.set_defaults(func=run_checks)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


def run_list(args, con) -> int:
    rows = []
    for name in available_profiles():
        p = load_profile(name)
        rows.append(
            {
                "name": name,
                "version": p.version,
                "extends": p.base.name if p.base else None,
                "title_zh": p.manifest.get("title_zh", ""),
                "title_en": p.manifest.get("title_en", ""),
                "changes": len(p.dialect.get("changes", [])),
            }
        )
    if con.as_json:
        con.json({"profiles": rows})
        return EXIT_OK
    for r in rows:
        ext = f"（扩展 {r['extends']}，{r['changes']} 项变更）" if r["extends"] else ""
        ext_en = f" (extends {r['extends']}, {r['changes']} changes)" if r["extends"] else ""
        con.say(
            f"{r['name']}@{r['version']}  {r['title_zh']}{ext}", f"{r['name']}@{r['version']}  {r['title_en']}{ext_en}"
        )
    return EXIT_OK


def run_diff(args, con) -> int:
    a, b = load_profile(args.a), load_profile(args.b)
    changes = diff_profiles(a, b)
    if con.as_json:
        con.json({"a": a.lineage[0], "b": b.lineage[0], "changes": [c.to_dict() for c in changes]})
        return EXIT_OK
    con.say(
        f"配置差异：{a.lineage[0]} → {b.lineage[0]}（{len(changes)} 处）",
        f"profile differences: {a.lineage[0]} -> {b.lineage[0]} ({len(changes)})",
    )
    kinds = {"added": ("新增", "added"), "removed": ("删除", "removed"), "changed": ("改变", "changed")}
    for c in changes:
        k = kinds[c.kind]
        con.say(f"[{c.file}] {c.path}  {k[0]}", f"[{c.file}] {c.path}  {k[1]}")
        con.say(f"    {a.name}: {short(c.a, 100)}", f"    {a.name}: {short(c.a, 100)}")
        con.say(f"    {b.name}: {short(c.b, 100)}", f"    {b.name}: {short(c.b, 100)}")
        if c.evidence or c.source:
            ev = EVIDENCE.get(c.evidence or "", (c.evidence or "?",) * 2)
            con.say(
                f"    证据：{ev[0]}（{c.evidence}）；来源：{c.source or '—'}",
                f"    evidence: {c.evidence}; source: {c.source or '—'}",
            )
    return EXIT_OK


def run_checks(args, con) -> int:
    p = profile_of(args)
    table, data = p.envelope.checks, p.data("envelope").get("checks") or {}
    dropped, replaced = list(data.get("drop", [])), dict(data.get("replace", {}))
    if con.as_json:
        con.json(
            {
                "profile": p.lineage[0],
                "checks": [r.to_dict() for r in table.rules],
                "dropped": dropped,
                "replaced": replaced,
            }
        )
        return EXIT_OK
    if args.markdown:
        for line in checks_markdown(table):
            con.say(line, line)
        return EXIT_OK
    con.say(
        f"信封检查：{p.lineage[0]}（{len(table.rules)} 条，按运行顺序）",
        f"envelope checks: {p.lineage[0]} ({len(table.rules)}, in the order they run)",
    )
    for i, r in enumerate(table.rules, 1):
        kind = {"envelope": "报文", "record": "每条记录"}[r.kind]
        con.say(
            f"{i:2d}. {r.name}  [{kind}]  {' '.join(r.reports)}  {r.zh}",
            f"{i:2d}. {r.name}  [{r.kind}]  {' '.join(r.reports)}  {r.en}",
        )
    for a, b in replaced.items():
        con.say(f"    {a} 由 {b} 替换", f"    {a} replaced by {b}")
    if dropped:
        con.say(f"    已删除：{'、'.join(dropped)}", f"    dropped: {', '.join(dropped)}")
    return EXIT_OK


def checks_markdown(table: CheckTable) -> list[str]:
    """The table of docs/dialects.md: one row per rule, in order, then the registered rules the table does not run
    (``#`` –); both languages (tests/profiles/test_envelope_checks.py compares the doc with it)."""
    rows = ["| # | rule | kind | reports | 检查内容 | what it checks |", "|---|---|---|---|---|---|"]
    for i, r in enumerate(table.rules, 1):
        rows.append(f"| {i} | `{r.name}` | {r.kind} | {' '.join(r.reports)} | {r.zh} | {r.en} |")
    for r in RULES.values():  # the registered rules this table does not run: what [checks] replace may name
        if r.name not in table.names():
            rows.append(f"| – | `{r.name}` | {r.kind} | {' '.join(r.reports)} | {r.zh} | {r.en} |")
    return rows
