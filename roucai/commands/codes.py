"""``roucai codes check|new``: explain, validate and generate codes.

``check --kind ear_tag|base_id`` reads the farming side's identifiers (畜禽标识 ear tags, a range
``FIRST..LAST`` of them, production base ids) with ``profiles/identifiers.py``.

JSON output of ``check`` (stable)::

    {"profile": "reference@1.0.0", "ok": false,
     "results": [{"subject": CODE, "ok": bool,
                  "details": {"kind": "trace", "parts": {...}},
                  "findings": [{"rule", "field", "severity", "zh", "en", "value"?}]}]}
"""

from __future__ import annotations

from profiles.codes import KINDS, CodeError

from ..console import EXIT_NONCONFORMANT, EXIT_OK, UsageError
from ._profile import profile_of

_PART_LABELS = [
    ("region_code", "区域码", "region"),
    ("region_name", "行政区", "region name"),
    ("node_code", "节点编码", "node code"),
    ("node_seq", "节点流水号", "node sequence"),
    ("operator_code", "经营者编码", "operator code"),
    ("operator_seq", "经营者流水号", "operator sequence"),
    ("trace_seq", "追溯流水号", "trace sequence"),
    ("batch_seq", "批次流水号", "batch sequence"),
    ("commodity_name", "商品名称", "commodity"),
    ("species", "畜种", "species"),
    ("serial", "标识顺序号", "serial"),
    ("head_count", "头数", "head count"),
    ("base_seq", "基地顺序号", "base serial"),
]
#: identifiers of the farming side (源头衔接) this command also reads: profiles/identifiers.py
SOURCE_KINDS = ("ear_tag", "base_id")
_KIND = {
    "node": ("流通节点编码", "node code"),
    "operator": ("经营者编码", "operator code"),
    "trace": ("追溯码", "trace code"),
    "commodity": ("商品编码", "commodity code"),
    "batch": ("批次码", "batch code"),
    "ear_tag": ("畜禽标识编码（耳标号）", "ear tag number"),
    "ear_tag_range": ("耳标号段", "ear tag range"),
    "base_id": ("生产基地编号", "production base id"),
}


def register(sub, common):
    p = sub.add_parser("codes", parents=[common], help="check and generate codes / 编码校验与生成")
    s = p.add_subparsers(dest="codes_cmd", metavar="check|new")
    c = s.add_parser("check", parents=[common], help="explain and validate codes / 解析并校验编码")
    c.add_argument("codes", nargs="+", metavar="CODE")
    c.add_argument(
        "--kind",
        choices=(*KINDS, *SOURCE_KINDS),
        help="read every CODE as this kind (default: by length); ear_tag takes FIRST..LAST for a range",
    )
    c.set_defaults(func=run_check)
    n = s.add_parser("new", parents=[common], help="build a code from its parts / 生成编码")
    n.add_argument("kind", choices=["node", "operator", "trace", "batch"])
    n.add_argument("--region", help="6-digit GB/T 2260 code (node)")
    n.add_argument("--node", help="9-digit node code (operator, batch)")
    n.add_argument("--operator", help="13-digit operator code (trace)")
    n.add_argument("--seq", type=int, required=True, help="sequence number")
    n.add_argument("--count", type=int, default=1, help="how many consecutive codes (default 1)")
    n.set_defaults(func=run_new)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


def run_check(args, con) -> int:
    prof = profile_of(args)
    book = prof.codes
    reports = [
        _source_check(prof.identifiers, code, args.kind) if args.kind in SOURCE_KINDS else book.check(code, args.kind)
        for code in args.codes
    ]
    ok = all(r.ok for r in reports)
    if con.as_json:
        con.json({"profile": prof.lineage[0], "ok": ok, "results": [r.to_dict() for r in reports]})
        return EXIT_OK if ok else EXIT_NONCONFORMANT
    for r in reports:
        kz, ke = _KIND[r.details["kind"]]
        verdict = con.t("符合", "valid") if r.ok else con.t("不符合", "INVALID")
        con.say(f"{r.subject}  {con.t(kz, ke)}  {verdict}")
        for key, zh, en in _PART_LABELS:
            val = r.details.get("parts", {}).get(key)
            if val:
                con.say(f"    {con.t(zh, en)}: {val}")
        if r.details.get("node_self"):
            con.say(
                "    "
                + con.t("（节点自身的经营者记录，流水号0000）", "(the node's own operator record, sequence 0000)")
            )
        for f in r.findings:
            con.say("    " + f.render(con.lang))
    return EXIT_OK if ok else EXIT_NONCONFORMANT


def _source_check(ids, value: str, kind: str):
    """An ear tag, a range of ear tags (``FIRST..LAST``) or a production base id, as the profile reads it."""
    if kind == "ear_tag" and ".." in value:
        return ids.check_ear_tag_range(*value.split("..", 1))
    return ids.check(value, kind)


def run_new(args, con) -> int:
    book = profile_of(args).codes
    if not 1 <= args.count <= 100000:
        raise UsageError("--count 须在1到100000之间", "--count must be 1..100000")
    need = {"node": "region", "operator": "node", "trace": "operator", "batch": "node"}[args.kind]
    base = getattr(args, need)
    if not base:
        raise UsageError(f"生成{_KIND[args.kind][0]}需要 --{need}", f"a new {args.kind} code needs --{need}")
    make = {"node": book.node_code, "operator": book.operator_code, "trace": book.trace_code, "batch": book.batch_code}[
        args.kind
    ]
    out = []
    try:
        for i in range(args.count):
            out.append(make(base, args.seq + i))
    except CodeError as exc:
        if con.as_json:
            con.json({"ok": False, "codes": out, "findings": [f.to_dict() for f in exc.findings]})
        else:
            for f in exc.findings:
                con.say(f.render(con.lang))
        return EXIT_NONCONFORMANT
    if con.as_json:
        con.json({"ok": True, "codes": out})
    else:
        for c in out:
            con.say(c)
    return EXIT_OK
