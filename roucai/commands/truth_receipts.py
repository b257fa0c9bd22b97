"""``roucai truth receipts``: a platform's consumer trace of every meat receipt judged against a simulation's ledger.

    roucai truth receipts --ledger truth.jsonl --platform http://127.0.0.1:8553 [--category 猪肉] [--json]

Judged: every traced retail sale line (a receipt line) of the ledger at a farmers' market or shop whose true chain
passes a slaughterhouse intake (``--category``: only that commodity category, e.g. 猪肉) and whose record the run
uploaded under the receipt's own code (``roucai simulate --retail-upload lines``; a receipt a silent node or scale
never uploaded, or whose code a fault replaced, is counted apart, not judged).  For each, ``GET
/api/v1/trace/<code>`` must answer ``found``, ``complete``, and its origin hop must name the ledger's farm with the
intake's 动物检疫合格证明 and ear-tag range (``sources``: place, certificate, ear_tag_start, ear_tag_end; docs/platform.md).

Exit codes: 0 every judged receipt reaches its farm; 1 one does not; 2 bad options, a missing or invalid ledger, or
nothing to judge (no receipt uploaded under its code: a ``summary`` run); 3 the platform cannot be reached or does
not answer the trace API.

JSON (``--json``): ``{"platform", "category", "receipts", "not_uploaded", "judged", "ok", "unknown", "incomplete",
"other_source", "examples": [{"code", "outcome", "want"}…] (up to 20)}``.
"""

from __future__ import annotations

from ..console import EXIT_NONCONFORMANT, EXIT_OK, UsageError
from .truth_problems import _Unreachable

RETAIL_TYPES = ("farmers_market", "shop")
SUMMARY = "retail_market_tran_info_summ"
OUTCOMES = ("ok", "unknown", "incomplete", "other_source")


def add_parser(s, common) -> None:
    x = s.add_parser(
        "receipts",
        parents=[common],
        help="the platform's trace of every meat receipt against the ledger's farm / 小票追溯对真值",
    )
    x.add_argument("--ledger", required=True, help="ledger file written by roucai simulate --ledger")
    x.add_argument("--platform", required=True, metavar="URL", help="the platform, e.g. http://127.0.0.1:8553")
    x.add_argument("--category", help="only receipts of this commodity category, e.g. 猪肉")
    x.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    x.set_defaults(func=run_receipts)


def uploaded_codes(path: str) -> set[str]:
    """The sale codes of the retail records the run uploaded (a ledger line ``k = record`` with upload times)."""
    import json

    out = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if SUMMARY in line:
                o = json.loads(line)
                if o.get("k") == "record" and o.get("type") == SUMMARY and o.get("upload"):
                    out.add(o["data"].get("sale_tran_id"))
    return out


def farm_of(led, code: str) -> tuple | None:
    """``(farm name, certificate, first ear tag, last ear tag)`` of a receipt's true chain; ``None`` without an
    intake (vegetables)."""
    chain = led.chain(code) or []
    intake = next((e for e in chain if e.get("kind") == "intake"), None)
    if intake is None or not chain or chain[-1].get("kind") != "origin":
        return None
    tags = intake.get("ear_tags") or [None, None]
    return (chain[-1].get("name"), intake["id"], tags[0], tags[-1])


def judge(answer: dict, want: tuple) -> str:
    """One of :data:`OUTCOMES` for a trace answer and the receipt's true farm."""
    if answer.get("status") != "found":
        return "unknown"
    if answer.get("complete") is not True:
        return "incomplete"
    chain = answer.get("chain") or [{}]
    last = chain[-1] if isinstance(chain[-1], dict) else {}
    sources = last.get("sources") if isinstance(last.get("sources"), list) else []
    got = {
        (x.get("place"), x.get("certificate"), x.get("ear_tag_start"), x.get("ear_tag_end"))
        for x in sources
        if isinstance(x, dict)
    }
    return "ok" if want in got else "other_source"


def _trace(client, base: str, code: str) -> dict:
    import httpx

    try:
        r = client.get(f"{base}/api/v1/trace/{code}")
    except httpx.HTTPError as exc:
        raise _Unreachable(
            f"平台不可达：{base}（{type(exc).__name__}）", f"platform unreachable: {base} ({type(exc).__name__})"
        )
    try:
        doc = r.json()
    except ValueError:
        doc = None
    if r.status_code not in (200, 404) or not isinstance(doc, dict):
        raise _Unreachable(
            f"平台的追溯接口答复 HTTP {r.status_code}，不是追溯答复：{code}",
            f"the platform's trace API answered HTTP {r.status_code}, not a trace answer: {code}",
        )
    return doc


def run_receipts(args, con) -> int:
    import httpx

    from simulators.tls import client_verify

    from .truth import _load

    base = args.platform.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError(
            f"平台地址须以 http:// 或 https:// 开头：{base[:80]}",
            f"the platform URL must begin with http:// or https://: {base[:80]}",
        )
    if not 0 < args.timeout <= 3600:
        raise UsageError("--timeout 须在 0 到 3600 秒之间", "--timeout must be within (0, 3600] seconds")
    led = _load(args.ledger)
    sent = uploaded_codes(args.ledger)
    todo, not_uploaded = [], 0
    for s in led.sales(traced=True):
        if led.node_type(s["node"]) not in RETAIL_TYPES or (args.category and s.get("category") != args.category):
            continue
        want = farm_of(led, s["id"])
        if want is None:
            continue
        if s["id"] in sent:
            todo.append((s["id"], want))
        else:
            not_uploaded += 1
    if not todo:
        raise UsageError(
            f"台账中没有以小票追溯码上传的肉品零售记录（共 {not_uploaded} 条未上传）：仿真时是否用了 --retail-upload lines？",
            f"no meat receipt of the ledger was uploaded under its own code ({not_uploaded} not uploaded): "
            "was the run made with --retail-upload lines?",
        )
    counts = dict.fromkeys(OUTCOMES, 0)
    examples = []
    try:
        with httpx.Client(timeout=args.timeout, trust_env=False, verify=client_verify()) as c:
            for code, want in todo:
                outcome = judge(_trace(c, base, code), want)
                counts[outcome] += 1
                if outcome != "ok" and len(examples) < 20:
                    examples.append({"code": code, "outcome": outcome, "want": list(want)})
    except _Unreachable as exc:
        con.err(exc.zh, exc.en)
        return exc.exit_code
    ok = counts["ok"] == len(todo)
    if con.as_json:
        con.json(
            {
                "platform": base,
                "category": args.category,
                "receipts": len(todo) + not_uploaded,
                "not_uploaded": not_uploaded,
                "judged": len(todo),
                **counts,
                "examples": examples,
            }
        )
        return EXIT_OK if ok else EXIT_NONCONFORMANT
    con.say(
        con.t(
            f"小票追溯对真值：判定 {len(todo)} 条（另有 {not_uploaded} 条未以小票码上传）；到达养殖场 {counts['ok']}，"
            f"未找到 {counts['unknown']}，链不完整 {counts['incomplete']}，源头不符 {counts['other_source']}",
            f"receipt traces against the truth: {len(todo)} judged ({not_uploaded} more not uploaded under their "
            f"code); reach the farm {counts['ok']}, unknown {counts['unknown']}, incomplete {counts['incomplete']}, "
            f"another source {counts['other_source']}",
        )
    )
    for e in examples[:5]:
        con.say(f"  {e['code']}  {e['outcome']}  {' '.join(str(v) for v in e['want'])}")
    con.say(
        con.t(
            "结论：全部到达源头" if ok else "结论：有小票未到达源头",
            "verdict: all reach the source" if ok else "verdict: some do not reach the source",
        )
    )
    return EXIT_OK if ok else EXIT_NONCONFORMANT
