"""``roucai truth chain|totals|kpis|check``: questions answered from a simulation's ground truth.

    roucai truth chain 65010300200030000001 --ledger truth.jsonl
    roucai truth totals --ledger truth.jsonl [--day 0] [--node 650103002]
    roucai truth kpis --ledger truth.jsonl
    roucai truth check --ledger truth.jsonl    # every sale resolves to an origin; stock conserved
    roucai truth problems --ledger truth.jsonl --platform URL   # problem discovery: truth_problems.py
    roucai truth receipts --ledger truth.jsonl --platform URL   # consumer traces of receipts: truth_receipts.py

``chain`` prints the true chain of a trace code (a retail sale or any traded line),
from the code back to the slaughterhouse intake and the farm, or to the vegetable base.
Exit codes: 0 found / all hold; 1 unknown code, broken chain or a conservation failure;
2 missing or unreadable ledger, bad options.

JSON (``--json``): ``chain`` → ``{"code", "complete", "chain": [entry…]}`` (entries as in
the ledger, sale first); ``totals`` → ``{"days", "by_node_type", "by_commodity"}``;
``kpis`` → ``Ledger.kpis()``; ``check`` → ``{"ok", "sales", "incomplete", "conservation"}``.
"""

from __future__ import annotations

from pathlib import Path

from ..console import EXIT_NONCONFORMANT, EXIT_OK, UsageError

KIND_ZH = {
    "sale": "零售",
    "line": "交易",
    "carcass": "屠宰产品",
    "veg_batch": "蔬菜进场批次",
    "intake": "生猪/畜禽进厂",
    "origin": "产地",
}


def register(sub, common):
    p = sub.add_parser("truth", parents=[common], help="query a simulation's ground truth / 查询仿真真值")
    s = p.add_subparsers(dest="truth_cmd", metavar="chain|totals|kpis|check|problems|receipts")
    c = s.add_parser("chain", parents=[common], help="the true chain of a trace code / 追溯链真值")
    c.add_argument("code", metavar="TRACE_CODE")
    c.add_argument("--ledger", required=True, help="ledger file written by roucai simulate --ledger")
    c.set_defaults(func=run_chain)
    t = s.add_parser("totals", parents=[common], help="true kg per day, node and commodity / 真实流通量")
    t.add_argument("--ledger", required=True)
    t.add_argument("--day", type=int, help="only this simulated day (0 = the first)")
    t.add_argument("--node", help="only this node code")
    t.set_defaults(func=run_totals)
    k = s.add_parser("kpis", parents=[common], help="true 追溯秤使用率 and 追溯数据上报率 / 真实考核指标")
    k.add_argument("--ledger", required=True)
    k.set_defaults(func=run_kpis)
    h = s.add_parser("check", parents=[common], help="chains complete and stock conserved / 真值自检")
    h.add_argument("--ledger", required=True)
    h.set_defaults(func=run_check)
    from .truth_problems import add_parser as add_problems  # roucai truth problems (issue 14)

    add_problems(s, common)
    from .truth_receipts import add_parser as add_receipts  # roucai truth receipts (issue 14 item 7)

    add_receipts(s, common)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


def _load(path: str):
    from simulators.market.ledger import Ledger

    if not Path(path).is_file():
        raise UsageError(f"找不到真值台账文件：{path}", f"ledger file not found: {path}")
    try:
        return Ledger.load(path)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UsageError(f"不是有效的真值台账：{path}（{exc}）", f"not a valid ledger: {path} ({exc})") from None
    except OSError as exc:
        raise UsageError(f"无法读取 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}") from None


def _entry_kind(e: dict) -> str:
    return "sale" if e["k"] == "sale" else e.get("kind", "?")


def run_chain(args, con) -> int:
    led = _load(args.ledger)
    chain = led.chain(args.code.strip())
    if not chain:
        if con.as_json:
            con.json({"code": args.code, "complete": False, "chain": []})
        else:
            con.say(con.t(f"台账中没有追溯码 {args.code}", f"trace code {args.code} is not in the ledger"))
        return EXIT_NONCONFORMANT
    complete = chain[-1].get("kind") == "origin"
    if con.as_json:
        con.json({"code": args.code, "complete": complete, "chain": chain})
        return EXIT_OK if complete else EXIT_NONCONFORMANT
    for i, e in enumerate(chain):
        kind = _entry_kind(e)
        label = con.t(KIND_ZH.get(kind, kind), kind)
        if kind == "origin":
            base = f"  {con.t('基地编号', 'base id')} {e['base_id']}" if e.get("base_id") else ""
            con.say(f"{'  ' * i}{label}  {e.get('name', '')}  ({e.get('region', '')}){base}")
            continue
        node = led.nodes.get(e.get("node") or "", {})
        where = f"{node.get('name', e.get('node') or '')}"
        goods = e.get("goods_code") or ""
        extra = ""
        if kind == "intake":
            extra = con.t(
                f"{e.get('heads', '?')} 头  产地检疫证 {e['id']}",
                f"{e.get('heads', '?')} head  origin quarantine certificate {e['id']}",
            )
            if e.get("ear_tags"):
                first, last = e["ear_tags"]
                extra += con.t(f"  耳标 {first}–{last}", f"  ear tags {first}–{last}")
        elif kind == "veg_batch" and e.get("prov_id"):
            extra = con.t(
                f"产地证明 {e['prov_id']}  基地编号 {e.get('base_id') or '-'}",
                f"origin certificate {e['prov_id']}  base id {e.get('base_id') or '-'}",
            )
        elif kind == "sale" and not e.get("traced", True):
            extra = con.t("（非追溯秤，无记录）", "(second scale: no record)")
        con.say(f"{'  ' * i}{label}  {e['id']}  {where}  {goods}  {e['kg']:.3f} kg  {led_ts(led, e)}  {extra}".rstrip())
    if not complete:
        con.say(con.t("追溯链不完整：未到达产地", "incomplete chain: does not reach an origin"))
    return EXIT_OK if complete else EXIT_NONCONFORMANT


def led_ts(led, e: dict) -> str:
    import datetime as dt

    start = led.header.get("start")
    if not start:
        return ""
    t = dt.datetime.fromisoformat(start) + dt.timedelta(seconds=float(e.get("t", 0)))
    return t.strftime("%Y-%m-%d %H:%M:%S")


def run_totals(args, con) -> int:
    led = _load(args.ledger)
    tot = led.totals()
    days = tot["days"]
    if args.day is not None:
        days = {k: v for k, v in days.items() if k == str(args.day)}
    if args.node:
        days = {k: {n: g for n, g in v.items() if n == args.node} for k, v in days.items()}
    if con.as_json:
        con.json({"days": days, "by_node_type": tot["by_node_type"], "by_commodity": tot["by_commodity"]})
        return EXIT_OK
    names = {c.code: c for c in _commodities(led)}
    if args.day is None and not args.node:
        con.say(con.t("按节点类型（kg）：进 / 出 / 零售", "by node type (kg): in / out / sold at retail"))
        for role, c in tot["by_node_type"].items():
            con.say(f"  {role:<22} {c['in']:>14.3f} {c['out']:>14.3f} {c['sold']:>14.3f}")
        con.say(con.t("按商品（kg）：进 / 出 / 零售", "by commodity (kg): in / out / sold at retail"))
        for g, c in tot["by_commodity"].items():
            name = names[g].name(con.lang) if g in names else g
            con.say(f"  {g} {name:<16} {c['in']:>14.3f} {c['out']:>14.3f} {c['sold']:>14.3f}")
        return EXIT_OK
    for day, nodes in days.items():
        for node, goods in nodes.items():
            con.say(con.t(f"第{day}天 节点 {node}", f"day {day} node {node}"))
            for g, c in goods.items():
                name = names[g].name(con.lang) if g in names else g
                con.say(f"  {g} {name:<16} {c['in']:>12.3f} {c['out']:>12.3f} {c['sold']:>12.3f}")
    return EXIT_OK


def _commodities(led):
    from profiles import load_profile

    return list(load_profile().commodities)


def run_kpis(args, con) -> int:
    led = _load(args.ledger)
    k = led.kpis()
    if con.as_json:
        con.json(k)
        return EXIT_OK
    pct = lambda x: "—" if x is None else f"{100 * x:.2f}%"
    su, ur = k["scale_usage"], k["upload_rate"]
    con.say(
        con.t(
            f"追溯秤使用率：{pct(su['overall'])}（摊位平均 {pct(su['stall_mean'])}；{su['traced']}/{su['sales']} 笔）",
            f"traceability-scale usage: {pct(su['overall'])} (stall mean {pct(su['stall_mean'])}; {su['traced']}/{su['sales']} sales)",
        )
    )
    con.say(
        con.t(
            f"追溯数据上报率（菜市场、超市）：{pct(ur['overall'])}（节点平均 {pct(ur['node_mean'])}；{ur['on_time']}/{ur['records']} 条）",
            f"traceability data upload rate (markets, supermarkets): {pct(ur['overall'])} (node mean {pct(ur['node_mean'])}; {ur['on_time']}/{ur['records']} records)",
        )
    )
    for role, c in ur["by_node_type"].items():
        con.say(f"  {role:<22} {pct(c['rate']):>8}  {c['on_time']}/{c['records']}  dup {c['duplicated']}")
    return EXIT_OK


def run_check(args, con) -> int:
    led = _load(args.ledger)
    sales = 0
    incomplete = []
    for e in led.sales():
        sales += 1
        if led.chain_ends(e["id"]) != "origin":
            incomplete.append(e["id"])
    cons = led.conservation()
    ok = not incomplete and not cons
    if con.as_json:
        con.json({"ok": ok, "sales": sales, "incomplete": incomplete[:100], "conservation": cons[:100]})
        return EXIT_OK if ok else EXIT_NONCONFORMANT
    con.say(
        con.t(
            f"零售 {sales} 笔；追溯链不完整 {len(incomplete)} 笔；库存不守恒的批次 {len(cons)} 个",
            f"{sales} retail sales; {len(incomplete)} with an incomplete chain; {len(cons)} lots not conserved",
        )
    )
    for x in incomplete[:10] + cons[:10]:
        con.say(f"  {x}")
    return EXIT_OK if ok else EXIT_NONCONFORMANT
