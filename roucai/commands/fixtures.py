"""``roucai fixtures city|check|presets``: seeded city fixtures.

``city --preset NAME --seed N [--out FILE]`` writes the city's canonical JSON
(byte-identical for the same preset, seed, profile and Faker version) to FILE
(atomically), or to stdout; the summary then goes to stderr.  ``--json`` prints the
summary as JSON on stdout and needs ``--out`` (stdout cannot carry both)::

    {"preset", "seed", "out", "bytes", "sha256", "counts": {"nodes": …}, "nodes_by_type": {…}}

``check FILE`` validates every code and identifier in a city file (see
``simulators.city.check``); exit 0 if all are valid, 1 otherwise, 2 when the
file is missing, not UTF-8 JSON, too large or not a city.  JSON output::

    {"file", "ok", "counts": {"node": n, "operator": n, "uscc": n, …}, "findings": [Finding…]}

``presets`` lists the presets with their node mix (``--json``: a list of
``{"name", "zh", "en", "city", "districts", "nodes", "stalls", "node_mix"}``).
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from pathlib import Path

from simulators.atomic_file import atomic_write_bytes
from simulators.city import (
    NotACityError,
    PresetError,
    available_presets,
    check_city,
    dump_bytes,
    generate_city,
    load_preset,
)

from ..console import EXIT_NONCONFORMANT, EXIT_OK, UsageError
from ._profile import profile_of

MAX_CITY_FILE = 256 * 1024 * 1024  # bytes; a lanzhou city is about 1.4 MB
_SHOW_FINDINGS = 200  # human output lists at most this many findings

_COUNT_LABELS = {
    "nodes": "节点",
    "operators": "经营者",
    "stalls": "摊位",
    "cards": "服务卡",
    "scales": "电子秤",
    "handhelds": "手持终端",
    "vehicles": "车辆",
    "origins": "产地",
}
_KIND_LABELS = {
    "node": "节点编码",
    "operator": "经营者编码",
    "uscc": "统一社会信用代码",
    "resident_id": "身份证号",
    "plate": "车牌号",
    "certificate": "证明编号",
    "card_uid": "卡片UID",
    "stall": "摊位",
    "scale": "电子秤",
    "handheld": "手持终端",
    "origin": "产地",
}


def _width(text: str) -> int:
    """Display width in a terminal: wide (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _seed(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--seed 应为非负整数：{text!r}", f"--seed must be a non-negative integer: {text!r}")
    if n < 0:
        raise UsageError(f"--seed 应为非负整数：{text!r}", f"--seed must be a non-negative integer: {text!r}")
    return n


def register(sub, common):
    p = sub.add_parser("fixtures", parents=[common], help="seeded city fixtures / 城市测试数据")
    s = p.add_subparsers(dest="fixtures_cmd", metavar="city|check|presets")
    c = s.add_parser("city", parents=[common], help="generate a city / 生成城市数据")
    c.add_argument("--preset", required=True, help="preset name (see `fixtures presets`) or a .toml file")
    c.add_argument("--seed", default="1", help="random seed, a non-negative integer (default 1)")
    c.add_argument("--out", help="output file (default: stdout)")
    c.set_defaults(func=run_city)
    k = s.add_parser("check", parents=[common], help="validate every code in a city file / 校验城市数据")
    k.add_argument("file", metavar="FILE")
    k.set_defaults(func=run_check)
    pr = s.add_parser("presets", parents=[common], help="list presets / 列出预设")
    pr.set_defaults(func=run_presets)
    p.set_defaults(func=lambda a, con: (p.print_help(), 2)[1])


def run_city(args, con) -> int:
    seed = _seed(args.seed)
    if con.as_json and not args.out:
        raise UsageError(
            "--json 在标准输出打印摘要，城市数据需用 --out FILE 写入文件",
            "--json prints the summary on stdout: give --out FILE for the city itself",
        )
    prof = profile_of(args)
    city = generate_city(args.preset, seed, prof)
    data = dump_bytes(city)
    summary = {
        "preset": city.preset,
        "seed": seed,
        "out": args.out or "-",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "counts": city.counts(),
        "nodes_by_type": city.nodes_by_type(),
    }
    if args.out:
        out = Path(args.out)
        try:
            atomic_write_bytes(out, data)
        except OSError as exc:
            raise UsageError(f"无法写入 {out}：{exc.strerror}", f"cannot write {out}: {exc.strerror}") from None
        stream = sys.stdout
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        stream = sys.stderr
    if con.as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2), file=stream)
    else:
        counts = "，".join(f"{con.t(_COUNT_LABELS[k], k)} {v}" for k, v in summary["counts"].items())
        print(
            con.t(
                f"城市 {city.city_name}（预设 {city.preset}，种子 {seed}）：{counts}",
                f"city {city.city_name} (preset {city.preset}, seed {seed}): {counts}",
            ),
            file=stream,
        )
        print(f"sha256 {summary['sha256']}  {summary['bytes']} bytes  -> {summary['out']}", file=stream)
    return EXIT_OK


def _load_city_file(path: str):
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise UsageError(f"找不到文件：{path}", f"no such file: {path}") from None
    if not p.is_file():
        raise UsageError(f"不是文件：{path}", f"not a file: {path}")
    if size > MAX_CITY_FILE:
        raise UsageError(
            f"文件过大（{size} 字节，上限 {MAX_CITY_FILE}）", f"file too large ({size} bytes, limit {MAX_CITY_FILE})"
        )
    try:
        return json.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path} 不是 UTF-8 文本", f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} 不是有效的 JSON：第{exc.lineno}行第{exc.colno}列 {exc.msg}",
            f"{path} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}",
        ) from None
    except OSError as exc:
        raise UsageError(f"无法读取 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}") from None


def run_check(args, con) -> int:
    data = _load_city_file(args.file)
    try:
        res = check_city(data, profile_of(args))
    except NotACityError as exc:
        raise UsageError(f"{args.file}：{exc.zh}", f"{args.file}: {exc.en}") from None
    if con.as_json:
        con.json({"file": args.file, **res.to_dict()})
        return EXIT_OK if res.ok else EXIT_NONCONFORMANT
    errors = sum(1 for f in res.findings if f.severity == "error")
    warnings = len(res.findings) - errors
    order = list(_KIND_LABELS) + sorted(set(res.counts) - set(_KIND_LABELS))
    for kind in (k for k in order if k in res.counts):
        label = con.t(_KIND_LABELS.get(kind, kind), kind)
        con.say(f"  {label}{' ' * max(1, 18 - _width(label))}{res.counts[kind]:>7}")
    for f in res.findings[:_SHOW_FINDINGS]:
        con.say("  " + f.render(con.lang))
    if len(res.findings) > _SHOW_FINDINGS:
        more = len(res.findings) - _SHOW_FINDINGS
        con.say(con.t(f"  ……另有 {more} 条（用 --json 查看全部）", f"  … {more} more (use --json for all)"))
    total = sum(res.counts.values())
    if res.ok:
        con.say(
            con.t(
                f"{args.file}：全部 {total} 项有效（警告 {warnings}）",
                f"{args.file}: all {total} values valid ({warnings} warnings)",
            )
        )
    else:
        con.say(
            con.t(
                f"{args.file}：不符合，错误 {errors}，警告 {warnings}（共检查 {total} 项）",
                f"{args.file}: NON-CONFORMANT, {errors} errors, {warnings} warnings ({total} values checked)",
            )
        )
    return EXIT_OK if res.ok else EXIT_NONCONFORMANT


def run_presets(args, con) -> int:
    prof = profile_of(args)
    rows, broken = [], []
    for name in available_presets():
        try:
            p = load_preset(name, prof)
        except PresetError as exc:
            broken.append((name, exc))
            continue
        rows.append(
            {
                "name": p.name,
                "zh": p.zh,
                "en": p.en,
                "city": p.city,
                "districts": list(p.districts),
                "nodes": p.node_count,
                "stalls": p.stall_count,
                "node_mix": {t: s.count for t, s in p.nodes.items() if s.count},
            }
        )
    if con.as_json:
        con.json(rows)
    else:
        from simulators.city.catalogue import load_catalogue

        types = load_catalogue()["node_types"]
        for r in rows:
            con.say(
                f"{r['name']}: {con.t(r['zh'], r['en'])} ({r['city']}) "
                + con.t(f"节点 {r['nodes']}，摊位 {r['stalls']}", f"{r['nodes']} nodes, {r['stalls']} stalls")
            )
            con.say(
                "    "
                + con.t("，", ", ").join(
                    f"{con.t(types[t]['zh'], types[t]['en'])} {n}" for t, n in r["node_mix"].items()
                )
            )
    for name, exc in broken:
        con.err(f"预设 {name} 无效：{exc.zh}", f"preset {name} is invalid: {exc.en}")
    return EXIT_OK if not broken else EXIT_NONCONFORMANT
