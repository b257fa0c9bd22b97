"""``roucai profile``: the profiles and their differences.

    roucai profile list                        # every profile: name, version, what it extends
    roucai profile diff reference guangzhou    # what a dialect changes, value by value, with evidence
    roucai profile diff changchun guangzhou --json

``diff A B`` compares every data file of the two profiles after the overlay merge
(:mod:`profiles.diff`); each difference carries the evidence and source the data gives
for it.  JSON (stable)::

    {"a": "reference@1.0.0", "b": "guangzhou@1.0.0",
     "changes": [{"file", "path", "kind": "added|removed|changed", "a", "b", "evidence", "source"}]}

Exit codes: 0 done (whether or not the profiles differ), 2 unknown profile.
"""

from __future__ import annotations

from profiles import available_profiles, load_profile
from profiles.diff import diff_profiles, short
from profiles.requirements import EVIDENCE

from ..console import EXIT_OK


def register(sub, common):
    p = sub.add_parser("profile", parents=[common], help="profiles and dialects / 配置与方言")
    s = p.add_subparsers(dest="profile_cmd", metavar="list|diff")
    s.add_parser("list", parents=[common], help="every profile / 全部配置").set_defaults(func=run_list)
    d = s.add_parser("diff", parents=[common], help="differences between two profiles / 比较两个配置")
    d.add_argument("a", help="profile name or folder")
    d.add_argument("b", help="profile name or folder")
    d.set_defaults(func=run_diff)
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
