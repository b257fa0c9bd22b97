"""``roucai records validate|types|example``: check record files and envelopes; list and show record types.

``validate FILE...`` reads XML or JSON holding one record, a list of records
(``<records>`` / ``{"records": [...]}``) or a ``DataExchangeReq`` envelope
(auto-detected).  ``--type`` reads bare records as that type.  For envelopes,
``--key`` checks the VerifyCode (else its format only) and ``--now`` checks
the clock window (``now`` or yyyyMMddHHmmss, Beijing time).

Exit codes: 0 every file conformant, 1 some finding of severity error,
2 usage (missing/unreadable file, unknown --type).

JSON output of ``validate`` (stable)::

    {"profile": "reference@1.0.0", "ok": bool,
     "files": [{"file": PATH, "kind": "envelope"|"record"|"list"|null, "format": "xml"|"json",
                "ok": bool, "header": {"NodeId": ...} (envelopes only),
                "findings": [FINDING...],                       # file / envelope level
                "records": [{"position": 1, "type": NAME, "ok": bool, "findings": [FINDING...]}]}]}
    FINDING = {"rule", "field", "severity", "zh", "en", "value"?}
"""

from __future__ import annotations

import datetime as _dt
import difflib
import random
from pathlib import Path

from profiles.record_examples import example_record

from ..console import EXIT_NONCONFORMANT, EXIT_OK, UsageError
from ._profile import profile_of

_BEIJING = _dt.timezone(_dt.timedelta(hours=8))
_MAX_READ = 64 * 1024 * 1024  # never read more than this from a file (the profile's limit is lower)


def register(sub, common):
    p = sub.add_parser("records", parents=[common], help="validate records and envelopes / 校验数据记录与报文")
    s = p.add_subparsers(dest="records_cmd", metavar="validate|types|example")
    v = s.add_parser("validate", parents=[common], help="validate XML/JSON records or envelopes / 校验记录或报文")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--type", dest="rtype", metavar="NAME", help="read bare records as this record type")
    v.add_argument("--key", help="node secret: verify the envelope's VerifyCode / 节点密钥")
    v.add_argument("--now", help="check RequestTime against this clock: 'now' or yyyyMMddHHmmss (Beijing time)")
    v.set_defaults(func=run_validate)
    t = s.add_parser("types", parents=[common], help="list record types, or one type's fields / 记录类型")
    t.add_argument("name", nargs="?", metavar="TYPE")
    t.set_defaults(func=run_types)
    e = s.add_parser("example", parents=[common], help="print a valid example / 输出合规示例")
    e.add_argument("name", metavar="TYPE")
    e.add_argument("--format", choices=["xml", "json"], default="xml")
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--count", type=int, default=1, help="records (default 1; >1 gives a list)")
    e.add_argument("--envelope", action="store_true", help="wrap in a DataExchangeReq signed with --key")
    e.add_argument("--key", default="demo-secret", help="node secret for --envelope (default demo-secret)")
    e.add_argument(
        "--request-time",
        default="20240518203000",
        metavar="now|yyyyMMddHHmmss",
        help="RequestTime of --envelope, Beijing time (default a fixed 20240518203000, so the same seed "
        "gives the same bytes; 'now' for an envelope a platform accepts now)",
    )
    e.set_defaults(func=run_example)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


def _type_or_usage(cat, name: str | None):
    if name is None or name in cat.types:
        return name
    close = difflib.get_close_matches(name, list(cat.types), n=3)
    hint_zh = f"；相近的有：{'、'.join(close)}" if close else ""
    hint_en = f"; did you mean: {', '.join(close)}" if close else ""
    raise UsageError(
        f"未知的记录类型「{name}」{hint_zh}（roucai records types 可列出全部）",
        f"unknown record type {name!r}{hint_en} (roucai records types lists them)",
    )


def _read(path: str) -> bytes:
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            return fh.read(_MAX_READ + 1)
    except FileNotFoundError:
        raise UsageError(f"找不到文件：{path}", f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"是目录而不是文件：{path}", f"is a directory, not a file: {path}") from None
    except OSError as exc:
        raise UsageError(f"无法读取 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}") from None


def _parse_now(text: str | None):
    if text is None:
        return None
    if text == "now":
        return _dt.datetime.now(_dt.timezone.utc)
    try:
        return _dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise UsageError("--now 应为 now 或 yyyyMMddHHmmss", "--now must be 'now' or yyyyMMddHHmmss") from None


def _fd(findings) -> list[dict]:
    return [f.to_dict() for f in findings]


def _errors(findings) -> bool:
    return any(f.severity == "error" for f in findings)


def check_file(prof, data: bytes, path: str, rtype: str | None, key, now) -> dict:
    """The JSON-able result for one file (see the module docstring)."""
    env, cat = prof.envelope, prof.records
    head, root = data[:1024], env.root.encode()
    if b"<" + root in head or b'"' + root + b'"' in head:
        res = env.parse(data, key=key, now=now)
        recs = [
            {"position": r.position, "type": r.type, "ok": not _errors(rf), "findings": _fd(rf)}
            for r, rf in zip(res.records, res.record_findings)
        ]
        return {
            "file": path,
            "kind": "envelope",
            "format": res.format,
            "ok": res.ok,
            "header": res.header,
            "findings": _fd(res.findings),
            "records": recs,
        }
    dec = cat.decode(data, rtype)
    recs = []
    for item in dec.items:
        fs = list(item.findings) + ([] if item.type == "?" else cat.validate(item.type, item.record))
        recs.append({"position": item.position, "type": item.type, "ok": not _errors(fs), "findings": _fd(fs)})
    ok = not _errors(dec.findings) and all(r["ok"] for r in recs) and dec.shape is not None
    if dec.shape == "list" and not dec.items and not dec.findings:
        ok = True
    return {
        "file": path,
        "kind": dec.shape,
        "format": dec.format,
        "ok": ok,
        "findings": _fd(dec.findings),
        "records": recs,
    }


def run_validate(args, con) -> int:
    prof = profile_of(args)
    rtype = _type_or_usage(prof.records, args.rtype)
    now = _parse_now(args.now)
    blobs = [(f, _read(f)) for f in args.files]  # every file readable before any output
    results = [check_file(prof, data, f, rtype, args.key, now) for f, data in blobs]
    ok = all(r["ok"] for r in results)
    if con.as_json:
        con.json({"profile": prof.lineage[0], "ok": ok, "files": results})
        return EXIT_OK if ok else EXIT_NONCONFORMANT
    kinds = {
        "envelope": ("报文", "envelope"),
        "record": ("单条记录", "one record"),
        "list": ("记录列表", "record list"),
        None: ("无法读取", "unreadable"),
    }
    for r in results:
        verdict = con.t("符合", "conformant") if r["ok"] else con.t("不符合", "NOT conformant")
        if r["ok"] and r["kind"] == "envelope" and args.key is None:
            verdict = con.t("符合（签名未核验：未给出 --key）", "conformant, signature NOT verified (no --key)")
        nbad = sum(1 for x in r["records"] if not x["ok"])
        con.say(
            f"{r['file']}: {con.t(*kinds[r['kind']])} ({r['format'].upper()}), "
            + con.t(f"{len(r['records'])} 条记录，{nbad} 条有误", f"{len(r['records'])} records, {nbad} with errors")
            + f" — {verdict}"
        )
        if r["kind"] == "envelope" and r["header"]:
            con.say("    " + "  ".join(f"{k}={v}" for k, v in r["header"].items() if k != "VerifyCode"))
            if args.key is None:
                con.say(
                    "    "
                    + con.t("（未给出 --key：只检查 VerifyCode 格式）", "(no --key: VerifyCode format checked only)")
                )
        for f in r["findings"]:
            con.say("    " + _render(f, con.lang))
        for x in r["records"]:
            if x["findings"]:
                con.say(f"  #{x['position']} {x['type']}")
                for f in x["findings"]:
                    con.say("      " + _render(f, con.lang))
    return EXIT_OK if ok else EXIT_NONCONFORMANT


def _render(f: dict, lang: str) -> str:
    sev = (
        {"error": "错误", "warning": "警告", "info": "提示"}.get(f["severity"], f["severity"])
        if lang != "en"
        else f["severity"]
    )
    return f"[{f['rule']}] {sev} {f['field']}: {f['en'] if lang == 'en' else f['zh']}"


def run_types(args, con) -> int:
    prof = profile_of(args)
    cat = prof.records
    name = _type_or_usage(cat, args.name)
    if name is None:
        rows = [
            {
                "name": t.name,
                "index": t.index,
                "zh": t.zh,
                "en": t.en,
                "node_type": t.node_type,
                "evidence": t.evidence,
                "fields": len(t.fields),
            }
            for t in cat.types.values()
        ]
        if con.as_json:
            con.json({"profile": prof.lineage[0], "types": rows})
            return EXIT_OK
        for r in rows:
            con.say(f"{r['index']}  {r['name']:<32} {con.t(r['zh'], r['en'])}  [{r['evidence']}]")
        con.say(
            con.t(
                "（Index 编码表为本配置自定义；仅 A01002 见于实践）",
                "(the Index table is the profile's own; only A01002 was seen in practice)",
            )
        )
        return EXIT_OK
    t = cat.types[name]
    fields = [
        {
            "name": f.name,
            "zh": f.zh,
            "en": f.en,
            "type": f.describe(),
            "required": f.name in t.required,
            "evidence": "profile" if f.name in t.profile_fields else t.evidence,
        }
        for f in t.fields
    ]
    forms = [
        {"name": n, "evidence": ev, "source": src, "fields": list(names), "required": sorted(req)}
        for n, ev, src, names, req in t.forms[1:]
    ]
    if con.as_json:
        con.json(
            {
                "profile": prof.lineage[0],
                "name": t.name,
                "index": t.index,
                "zh": t.zh,
                "en": t.en,
                "evidence": t.evidence,
                "source": t.source,
                "date_field": t.date_field,
                "node_field": t.node_field,
                "fields": fields,
                "aliases": t.aliases,
                "forms": forms,
            }
        )
        return EXIT_OK
    con.say(f"{t.index} {t.name}  {con.t(t.zh, t.en)}  [{t.evidence}]  {t.source}")
    for f in fields:
        req = con.t("必填", "required") if f["required"] else con.t("可选", "optional")
        con.say(f"  {f['name']:<32} {con.t(f['zh'], f['en'])}  {f['type']}  {req}")
    if t.aliases:
        con.say(con.t("  别名：", "  aliases: ") + ", ".join(f"{a} → {b}" for a, b in t.aliases.items()))
    for fm in forms:
        con.say(
            con.t(f"  实践形式 {fm['name']} [{fm['evidence']}]：", f"  practice form {fm['name']} [{fm['evidence']}]: ")
            + ", ".join(n + ("*" if n in fm["required"] else "") for n in fm["fields"])
            + f"  ({fm['source']})"
        )
    return EXIT_OK


def _request_time(text: str) -> _dt.datetime:
    """--request-time as a naive Beijing clock time ('now', or yyyyMMddHHmmss)."""
    if text == "now":
        return _dt.datetime.now(_BEIJING).replace(tzinfo=None, microsecond=0)
    try:
        return _dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise UsageError(
            "--request-time 应为 now 或 yyyyMMddHHmmss（北京时间）",
            "--request-time must be 'now' or yyyyMMddHHmmss (Beijing time)",
        ) from None


def run_example(args, con) -> int:
    prof = profile_of(args)
    cat = prof.records
    name = _type_or_usage(cat, args.name)
    if not 1 <= args.count <= prof.envelope.max_count:
        raise UsageError(
            f"--count 须在1到{prof.envelope.max_count}之间", f"--count must be 1..{prof.envelope.max_count}"
        )
    rng = random.Random(args.seed)
    rt = cat.types[name]
    node = prof.codes.node_code("650102", 1 + rng.randrange(60)) if rt.node_field or args.envelope else None
    recs = [example_record(cat, name, rng, node=node) for _ in range(args.count)]
    if args.envelope:
        when = _request_time(args.request_time)
        out = prof.envelope.build(node, name, recs, args.key, request_time=when, fmt=args.format)
    elif args.count == 1:
        out = (cat.encode_json if args.format == "json" else cat.encode_xml)(name, recs[0])
    else:
        items = [(name, r) for r in recs]
        out = (cat.encode_json_list if args.format == "json" else cat.encode_xml_list)(items)
    con.stream.write(out.decode("utf-8") + "\n")
    return EXIT_OK
