"""``roucai simulate``: a seeded SimPy market day (or days) of a city, with its ground truth.

    roucai simulate --preset tiny --seed 1 --date 2025-03-10 --out day.jsonl --ledger truth.jsonl
    roucai simulate --preset lanzhou --seed 7 --days 2 --envelopes env/ --plot day.png
    roucai simulate --preset urumqi --speed x144      # one day in ten minutes of wall time
    roucai simulate --preset tiny --to http://127.0.0.1:8553 --keys keys.json   # live uploads
    roucai simulate --preset urumqi --fault-set regulator --ledger truth.jsonl  # every problem kind injected
    roucai simulate --preset urumqi --retail-upload lines --to http://127.0.0.1:8553 --keys keys.json  # receipts traceable
    roucai simulate --preset tiny --to http://127.0.0.1:8553 --keys keys.json --via-node --node-dir nodes/
    roucai simulate --profile guangzhou --preset tiny \
        --to https://127.0.0.1:8553/dts_if/servlet/IfRevSubServlet --keys keys.json --ca tls/cert.pem

Outputs: ``--out`` the time-ordered JSON-lines stream of records (as nodes upload them);
``--ledger`` the ground truth (every record, lot, sale, fault; ``roucai truth`` reads it);
``--envelopes`` signed ``DataExchangeReq`` XML files per node (under a dialect, ``--profile guangzhou``, in
that city's record forms: ``profiles/forms.py``); ``--plot`` a PNG of the
activity by node type and hour.  ``--to URL --keys FILE`` POSTs every node's envelopes to a
platform (``simulators.market.upload``): the model runs first at full speed, then the uploads go
out in upload-time order, paced by ``--speed`` (``max``: as fast as the platform answers),
each signed with its node's key (``roucai serve admin import-city --keys-out``) and
RequestTime = now; bounded retries, ``--upload-limit`` seconds in all.  With ``--via-node`` the uploads
go through the reference node's code instead (``simulators.market.vianode``): one node outbox per
simulated node under ``--node-dir`` (default a temporary directory), each record entering it at its
upload time (paced by ``--speed``), sent by the node's uploader; the summary adds the node-side truth
(generated = entered = acknowledged + rejected + invalid + left pending).  The closing summary (stdout; ``--json`` for JSON)
gives records by node type, tonnes sold by category, true KPIs and the faults injected.
Progress goes to stderr for runs longer than a few seconds (``--quiet`` silences it).

Exit codes: 0 done; 1 (with ``--to``) a record was rejected or lost (``--via-node``: not acknowledged); 2 bad options, preset,
date, an impossible configuration, a missing or invalid keys file, a node with no key or a
URL that is not http(s), a ``--node-dir`` of another run (all refused before the run); 3 harness error, the platform could not
be reached, or the upload time limit ran out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

from simulators.atomic_file import atomic_open
from simulators.city import available_presets
from simulators.market.errors import MarketConfigError
from simulators.market.faults import parse_fault_options
from simulators.market.model import MAX_DAYS
from simulators.market.retail import RETAIL_UPLOADS, check_retail_upload

from ..console import EXIT_HARNESS, EXIT_NONCONFORMANT, EXIT_OK, UsageError
from ..progress import Progress
from ._profile import profile_of
from ._tls import add_arguments as add_tls_arguments
from ._tls import trust_of

ROLE_ZH = {
    "slaughterhouse": "屠宰厂",
    "meat_wholesale": "肉品批发市场",
    "veg_wholesale": "蔬菜批发市场",
    "distribution_centre": "蔬菜配送中心",
    "farmers_market": "农贸市场",
    "shop": "社区直销店",
    "supermarket": "超市",
    "canteen": "团体消费单位",
}
FAULT_ZH = {
    "network_outage": "节点网络中断",
    "scale_no_paper": "电子秤缺纸",
    "second_scale": "使用非追溯秤的摊位",
    "late_upload": "延迟上传",
    "duplicate_upload": "重复上传",
    "clock_drift": "时钟偏差",
    "silent_node": "节点整日未上报",
    "price_outlier": "价格录错",
    "duplicate_trace_code": "追溯码重复使用",
    "chain_break": "进货记录追溯码录错",
    "stock_imbalance": "进货重量少录",
    "silent_scale": "追溯秤整日未用",
    "certificate_overuse": "进场检疫头数少录",
    "trade_after_stop": "中止交易后继续销售",
}
MAX_SPEED = 1_000_000.0


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (CJK characters count two)."""
    import unicodedata

    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - cols)


def register(sub, common):
    p = sub.add_parser("simulate", parents=[common], help="simulate market days with ground truth / 市场流通仿真")
    p.add_argument("--preset", required=True, help="city preset: " + ", ".join(available_presets()))
    p.add_argument("--seed", type=int, default=1, help="seed of the run (default 1)")
    p.add_argument("--city-seed", type=int, help="seed of the city (default: --seed)")
    p.add_argument("--date", help="first business day YYYY-MM-DD (default: the preset's reference date)")
    p.add_argument("--days", type=int, default=1, help=f"number of days, 1..{MAX_DAYS} (default 1)")
    p.add_argument(
        "--mode",
        choices=["fast", "devices"],
        default="fast",
        help="fast: records directly; devices: sales, batch loads and stop-trades as frames to "
        "simulated scales, buyers' cards read on simulated readers, entries on simulated handhelds",
    )
    p.add_argument(
        "--retail-upload",
        default=RETAIL_UPLOADS[0],
        metavar="summary|lines",
        help="what farmers' markets and shops upload of their sales: summary (a stall's day per lot, the "
        "market's own sale code; default) or lines (one record per receipt line, sale code = the receipt's "
        "trace code, so a consumer's receipt traces at the platform) / 零售上传方式",
    )
    p.add_argument("--speed", default="max", help="max (as fast as possible), realtime, or xFACTOR (e.g. x144)")
    p.add_argument("--out", help="JSON-lines stream of records")
    p.add_argument("--ledger", help="ground-truth ledger (JSON lines)")
    p.add_argument("--envelopes", metavar="DIR", help="write DataExchangeReq XML envelopes per node here")
    p.add_argument("--envelope-key", default=None, help="signing key of the envelopes (default: a development key)")
    p.add_argument("--plot", metavar="FILE.png", help="PNG of the activity by node type and hour")
    p.add_argument("--fault", action="append", metavar="NAME=RATE", help="set a fault switch (repeatable)")
    p.add_argument("--no-faults", action="store_true", help="switch every fault off")
    p.add_argument(
        "--fault-set",
        metavar="NAME",
        help="a named set of fault rates, rates.toml [fault_sets.NAME] (e.g. regulator: every problem "
        "kind of problem discovery); --fault still overrides / 故障集",
    )
    p.add_argument(
        "--to",
        metavar="URL",
        help="upload every node's envelopes live to this platform (base URL: /api/v1/exchange is appended)",
    )
    p.add_argument("--keys", metavar="FILE", help="with --to: node keys, JSON {node_id: key} (import-city --keys-out)")
    add_tls_arguments(p)
    p.add_argument(
        "--upload-limit",
        type=float,
        metavar="S",
        help="with --to: seconds for the whole upload (default: the paced span + 600)",
    )
    p.add_argument(
        "--upload-workers",
        type=int,
        default=1,
        metavar="N",
        help="with --to and --speed max: N uploaders at once, each for a share of the nodes (1-16, "
        "default 1) / 并行上传",
    )
    p.add_argument(
        "--via-node",
        action="store_true",
        help="with --to: upload through the reference node's outbox and uploader, one outbox per node",
    )
    p.add_argument(
        "--node-dir",
        metavar="DIR",
        help="with --via-node: keep the node outboxes and node.log here "
        "(rerunning the same command resumes; default: a temporary directory, removed at the end)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _speed(text: str) -> float | None:
    """None = as fast as possible; else wall seconds per simulated second."""
    t = text.strip().lower()
    if t == "max":
        return None
    if t == "realtime":
        return 1.0
    if t.startswith("x"):
        try:
            f = float(t[1:])
        except ValueError:
            f = -1.0
        if 0 < f <= MAX_SPEED:
            return 1.0 / f
    raise UsageError(
        f"--speed 须为 max、realtime 或 x倍数（如 x144，最大 x{int(MAX_SPEED)}），收到 {text!r}",
        f"--speed must be max, realtime or xFACTOR (e.g. x144, at most x{int(MAX_SPEED)}), got {text!r}",
    )


def _writable(path: str | None, opt: str) -> None:
    if not path:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{opt} 的目录不存在：{parent}", f"{opt}: directory does not exist: {parent}")
    if Path(path).is_dir():
        raise UsageError(f"{opt} 须为文件，而 {path} 是目录", f"{opt} must be a file; {path} is a directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{opt} 的目录不可写：{parent}", f"{opt}: directory not writable: {parent}")


def _options(args, con, prof):
    from simulators.city import load_preset

    if args.seed < 0 or (args.city_seed is not None and args.city_seed < 0):
        raise UsageError("种子须为非负整数", "seeds must be non-negative integers")
    if not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days 须在1到{MAX_DAYS}之间", f"--days must be 1..{MAX_DAYS}")
    preset = load_preset(args.preset, prof)
    date_text = args.date or str(preset.reference_date)
    try:
        start = dt.date.fromisoformat(date_text)
    except ValueError:
        raise UsageError(
            f"--date 须为 YYYY-MM-DD 格式的有效日期，收到 {date_text!r}",
            f"--date must be a valid YYYY-MM-DD date, got {date_text!r}",
        ) from None
    if not 1990 <= start.year <= 2099:
        raise UsageError("--date 的年份须在1990到2099之间", "--date: the year must be 1990..2099")
    factor = _speed(args.speed)
    for path, opt in ((args.out, "--out"), (args.ledger, "--ledger"), (args.plot, "--plot")):
        _writable(path, opt)
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError("--plot 须为 .png 文件", "--plot must name a .png file")
    if args.envelopes and Path(args.envelopes).exists() and not Path(args.envelopes).is_dir():
        raise UsageError(
            f"--envelopes 须为目录：{args.envelopes}", f"--envelopes must be a directory: {args.envelopes}"
        )
    if args.mode == "devices":
        from simulators.market import devices

        problem = devices.unavailable()
        if problem:
            raise UsageError(*problem)
    return start, factor


def _upload_target(args) -> tuple[str, dict] | None:
    """``(ingest URL, keys)`` for ``--to``, or None; UsageError for a bad URL, keys file or limit."""
    from simulators.market.upload import ingest_url, load_keys

    if args.node_dir and not args.via_node:
        raise UsageError("--node-dir 仅与 --via-node 一起使用", "--node-dir goes with --via-node only")
    if not 1 <= args.upload_workers <= 16:
        raise UsageError("--upload-workers 须为 1 到 16", "--upload-workers must be 1 to 16")
    if args.upload_workers > 1 and (args.via_node or args.speed != "max"):
        raise UsageError(
            "--upload-workers 仅与 --to 和 --speed max 一起使用（不能与 --via-node 同用）",
            "--upload-workers goes with --to and --speed max only (not with --via-node)",
        )
    if not args.to:
        if args.keys or args.upload_limit is not None or args.via_node or args.upload_workers > 1:
            raise UsageError(
                "--keys、--upload-limit、--upload-workers 与 --via-node 仅与 --to 一起使用",
                "--keys, --upload-limit, --upload-workers and --via-node go with --to only",
            )
        return None
    if not args.keys:
        raise UsageError(
            "--to 需要 --keys 密钥文件（roucai serve admin import-city --keys-out 的输出）",
            "--to needs --keys FILE (output of roucai serve admin import-city --keys-out)",
        )
    if args.upload_limit is not None and not 0 < args.upload_limit <= 30 * 86400:
        raise UsageError("--upload-limit 须为正的秒数", "--upload-limit must be a positive number of seconds")
    return ingest_url(args.to), load_keys(args.keys)


def _check_keys(city, keys: dict) -> None:
    missing = sorted(n.code for n in city.nodes if n.code not in keys)
    if missing:
        more = f" (+{len(missing) - 5})" if len(missing) > 5 else ""
        raise UsageError(
            f"密钥文件缺少 {len(missing)} 个节点的密钥：{', '.join(missing[:5])}{more}",
            f"the keys file has no key for {len(missing)} node(s): {', '.join(missing[:5])}{more}",
        )


def run(args, con) -> int:
    with trust_of(args):
        return _run(args, con)


def _run(args, con) -> int:
    import simpy
    import simpy.rt

    from simulators.city import generate_city
    from simulators.market.ledger import Ledger
    from simulators.market.model import MarketModel
    from simulators.market.output import DEFAULT_KEY, EnvelopeBatcher
    from simulators.market.rates import Rates

    check_retail_upload(args.retail_upload)
    prof = profile_of(args)
    start, factor = _options(args, con, prof)
    target = _upload_target(args)
    rates = Rates.load()
    base = rates.faults
    if args.fault_set:
        if args.fault_set not in rates.fault_sets:
            raise MarketConfigError(
                f"没有故障集 {args.fault_set!r}（可选：{', '.join(sorted(rates.fault_sets))}）",
                f"no fault set {args.fault_set!r} (known: {', '.join(sorted(rates.fault_sets))})",
            )
        base = {**base, **rates.fault_sets[args.fault_set]}
    faults = parse_fault_options(args.fault, base, none=args.no_faults)
    city = generate_city(args.preset, args.seed if args.city_seed is None else args.city_seed, prof)
    via = None
    if target:
        from simulators.market.upload import check_reachable

        _check_keys(city, target[1])
        via = _via_node(args, prof, city, start, target, faults, factor, rates) if args.via_node else None
        problem = check_reachable(target[0])
        if problem:
            if via is not None and via.temporary:
                shutil.rmtree(via.dir, ignore_errors=True)
            con.err(f"无法连接平台 {target[0]}：{problem}", f"cannot reach the platform {target[0]}: {problem}")
            return EXIT_HARNESS
    paced_model = factor is not None and not target  # with --to the uploads are paced, not the model
    env = simpy.rt.RealtimeEnvironment(factor=factor, strict=False) if paced_model else simpy.Environment()
    hooks = []
    batcher = live = None
    if args.envelopes:
        batcher = EnvelopeBatcher(prof, start, rates.upload["node_batch_s"], args.envelope_key or DEFAULT_KEY)
        hooks.append(batcher.add)
    if via is not None:
        from simulators.market.vianode import UploadLog

        live = UploadLog(prof)
        hooks.append(live.add)
    elif target:
        live = EnvelopeBatcher(prof, start, rates.upload["node_batch_s"])
        hooks.append(live.add)
    t_wall = time.monotonic()
    span = args.days * 86400.0
    shown = Progress(con.lang, interval_s=1.0, quiet=args.quiet)

    def progress(t, model):
        c = model.counters
        shown(
            f"[仿真] {model.ts(t)[:16]}  记录 {c['records']}  零售 {c['sales']}",
            f"[simulate] {model.ts(t)[:16]}  records {c['records']}  sales {c['sales']}",
            t / span,
        )

    with contextlib.ExitStack() as files:  # both appear under their final names only when the run completes
        files.enter_context(shown)
        out_fh = files.enter_context(atomic_open(args.out)) if args.out else None
        led_fh = files.enter_context(atomic_open(args.ledger)) if args.ledger else None
        ledger = Ledger(led_fh, deadline_grace_s=rates.upload["deadline_grace_s"])
        model = MarketModel(
            city,
            prof,
            seed=args.seed,
            start=start,
            days=args.days,
            rates=rates,
            fault_rates=faults,
            ledger=ledger,
            stream=out_fh,
            env=env,
            progress=progress,
            mode=args.mode,
            record_hooks=hooks,
            retail_upload=args.retail_upload,
        )
        if args.mode == "devices":
            from simulators.market import devices

            devices.attach(model)
        model.run()
        ledger.finish()
    wall = time.monotonic() - t_wall
    env_info = batcher.write(args.envelopes) if batcher is not None else None
    if args.plot:
        from simulators.market.plot import render

        render(
            ledger.hourly_by_node_type(),
            f"{args.preset} seed {args.seed} from {start} ({args.days} day(s))",
            args.plot,
            lang=con.lang,
            title_zh=f"{args.preset}，种子 {args.seed}，{start} 起 {args.days} 天（各类节点每小时记录数）",
        )
    summary = ledger.summary()
    summary.update(
        {
            "preset": args.preset,
            "seed": args.seed,
            "start": start.isoformat(),
            "days": args.days,
            "mode": args.mode,
            "wall_s": round(wall, 3),
            "day_types": model.day_info,
            "sales": model.counters["sales"],
            "stockouts": model.counters["stockouts"],
        }
    )
    if env_info:
        summary["envelopes"] = env_info
    if args.mode == "devices":
        summary["devices"] = _device_stats(model)
    code = EXIT_OK
    if via is not None:
        res = _upload_via_node(args, con, via, live, factor)
        summary["via_node"] = {"url": target[0], **res.to_dict()}
        code = EXIT_HARNESS if res.timed_out or not res.answered else EXIT_NONCONFORMANT if not res.ok else EXIT_OK
    elif live is not None:
        up = _upload(args, con, prof, target, live, factor)
        summary["upload"] = {"url": target[0], **up.to_dict()}
        code = EXIT_HARNESS if up.timed_out or not up.answered else EXIT_NONCONFORMANT if not up.ok else EXIT_OK
    _report(con, summary, args)
    return code


def _via_node(args, prof, city, start, target, faults, factor, rates):
    """The :class:`~simulators.market.vianode.ViaNode` of a ``--via-node`` run, its directory ready
    (UsageError for a directory of another run or a node configuration the node refuses)."""
    import tempfile

    from simulators.market.vianode import ViaNode, prepare_dir

    run_id = {
        "preset": args.preset,
        "seed": args.seed,
        "city_seed": args.city_seed,
        "start": start.isoformat(),
        "days": args.days,
        "mode": args.mode,
        "faults": faults,
        "url": target[0],
        "profile": prof.name,
    }
    temporary = not args.node_dir
    path = args.node_dir or tempfile.mkdtemp(prefix="roucai-vianode-")
    try:
        work = prepare_dir(path, run_id)
        via = ViaNode(
            prof,
            target[0],
            target[1],
            [(n.code, n.name, n.type) for n in city.nodes],
            work,
            start,
            factor=factor,
            tick_s=rates.upload["node_batch_s"],
        )
    except MarketConfigError:
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
        raise
    via.temporary = temporary
    return via


def _upload_via_node(args, con, via, log, factor):
    times = [e[0] for e in log.entries]
    span = (max(times) - min(times)) if times else 0.0
    via.limit_s = args.upload_limit or (span * (factor or 0.0) + 600.0)

    def progress(p):
        if not args.quiet:
            print(
                con.t(
                    f"[经节点上传] 进入出站队列 {p['offered']}/{p['total']}  报文 {p['envelopes']}  "
                    f"确认 {p['acknowledged']}  拒收 {p['rejected']}",
                    f"[via node] entered {p['offered']}/{p['total']}  envelopes {p['envelopes']}  "
                    f"acknowledged {p['acknowledged']}  rejected {p['rejected']}",
                ),
                file=sys.stderr,
                flush=True,
            )

    via.progress = progress
    try:
        res = via.run(log)
    finally:
        if via.temporary:
            shutil.rmtree(via.dir, ignore_errors=True)
    if via.temporary:
        res.work_dir = None
    return res


def _upload(args, con, prof, target, live, factor):
    from simulators.market.upload import Uploader

    batches = list(live.batches())
    span = (max(b[0] for b in batches) - min(b[0] for b in batches)) if batches else 0.0
    limit = args.upload_limit or (span * (factor or 0.0) + 600.0)
    last = [time.monotonic()]

    def progress(res, done, total):
        now = time.monotonic()
        if args.quiet or now - last[0] < 2.0:
            return
        last[0] = now
        print(
            con.t(
                f"[上传] 报文 {done}/{total}  接收 {res.accepted}  重复 {res.duplicate}  拒收 {res.rejected}",
                f"[upload] envelopes {done}/{total}  accepted {res.accepted}  duplicate {res.duplicate}  "
                f"rejected {res.rejected}",
            ),
            file=sys.stderr,
            flush=True,
        )

    from simulators.market.upload import run_sharded

    return run_sharded(
        lambda: Uploader(prof.envelope, target[0], target[1], factor=factor, limit_s=limit, progress=progress),
        batches,
        args.upload_workers,
    )


def _device_stats(model) -> dict:
    """What crossed the virtual serial lines in device mode (scales, readers, handhelds)."""
    sc = model.scales.stats
    out = {
        "scales": len(model.scales.scales),
        "sale_events": sc["sales"],
        "records_received": sc["uploaded"],
        "load_batch": sc["loads"],
        "stop_trade": sc["stops"],
        "host_errors": sc["host_errors"],
        "naks": dict(sc["naks"]),
        "timeouts": sc["timeouts"],
    }
    t = model.terminals
    if t is not None:
        ts = t.stats
        out.update(
            {
                "readers": len(t.readers),
                "cards_read": ts["reads"],
                "card_trades": ts["card_trades"],
                "cash_trades": ts["cash_trades"],
                "cards_unreadable": dict(ts["unreadable"]),
                "handheld_entries": dict(ts["entries"]),
            }
        )
    return out


def _report_devices(con, d: dict) -> None:
    con.say(
        con.t(
            f"设备模式：{d['scales']} 台追溯秤，销售事件帧 {d['sale_events']}（主机收到记录 {d['records_received']}），"
            f"LOAD_BATCH {d['load_batch']}，STOP_TRADE {d['stop_trade']}，主机错误 {d['host_errors']}",
            f"device mode: {d['scales']} scales, {d['sale_events']} SALE_EVENT frames ({d['records_received']} "
            f"records received by the hosts), {d['load_batch']} LOAD_BATCH, {d['stop_trade']} STOP_TRADE, "
            f"{d['host_errors']} host errors",
        )
    )
    if "readers" in d:
        bad = sum(d["cards_unreadable"].values())
        entries = sum(d["handheld_entries"].values())
        con.say(
            con.t(
                f"  读卡器 {d['readers']} 台：读卡 {d['cards_read']} 次（持卡交易 {d['card_trades']}，现金 "
                f"{d['cash_trades']}，读卡失败 {bad}）；手持终端登记 {entries} 条记录",
                f"  {d['readers']} card readers: {d['cards_read']} cards read ({d['card_trades']} card trades, "
                f"{d['cash_trades']} cash, {bad} unreadable); {entries} records registered on handhelds",
            )
        )


def _report(con, s: dict, args) -> None:
    if con.as_json:
        con.json(s)
        return
    k = s["kpis"]
    con.say(
        con.t(
            f"仿真完成：{args.preset}，种子 {args.seed}，{s['start']} 起 {s['days']} 天，模式 {s['mode']}，用时 {s['wall_s']}s",
            f"simulated {args.preset}, seed {args.seed}, {s['days']} day(s) from {s['start']}, mode {s['mode']}, wall {s['wall_s']}s",
        )
    )
    for d in s["day_types"]:
        if d["labels"]:
            con.say(f"  {d['date']}: {', '.join(d['labels'])}")
    con.say(con.t("按节点类型的记录数：", "records by node type:"))
    for role, n in s["records_by_node_type"].items():
        con.say(f"  {_pad(con.t(ROLE_ZH.get(role, role), role), 22)} {n:>10}")
    con.say(con.t("零售销量（吨，按品类）：", "retail sales (tonnes, by category):"))
    for cat, t in s["retail_tonnes_by_category"].items():
        con.say(f"  {_pad(cat, 12)} {t:>10.3f}")
    su, ur = k["scale_usage"], k["upload_rate"]
    pct = lambda x: "—" if x is None else f"{100 * x:.1f}%"
    con.say(
        con.t(
            f"追溯秤使用率（真值）：{pct(su['overall'])}（摊位平均 {pct(su['stall_mean'])}；零售 {su['sales']} 笔，无追溯 {su['untraceable']} 笔）",
            f"traceability-scale usage (true): {pct(su['overall'])} (stall mean {pct(su['stall_mean'])}; {su['sales']} retail sales, {su['untraceable']} untraceable)",
        )
    )
    con.say(
        con.t(
            f"追溯数据上报率（真值，菜市场与超市）：{pct(ur['overall'])}（节点平均 {pct(ur['node_mean'])}；{ur['records']} 条记录）",
            f"traceability data upload rate (true, markets and supermarkets): {pct(ur['overall'])} (node mean {pct(ur['node_mean'])}; {ur['records']} records)",
        )
    )
    if s["faults"]:
        con.say(con.t("注入的故障：", "faults injected:"))
        for name, n in s["faults"].items():
            con.say(f"  {_pad(con.t(FAULT_ZH.get(name, name), name), 22)} {n:>8}")
    con.say(
        con.t(
            f"中止交易指令：{s['stop_trades']}；缺货未满足的采购：{s['stockouts']}",
            f"stop-trade orders: {s['stop_trades']}; purchases left short: {s['stockouts']}",
        )
    )
    if s.get("devices"):
        _report_devices(con, s["devices"])
    if s.get("envelopes"):
        e = s["envelopes"]
        con.say(
            con.t(
                f"上传报文：{e['envelopes']} 个（{e['records']} 条记录，{e['nodes']} 个节点）→ {args.envelopes}",
                f"envelopes: {e['envelopes']} ({e['records']} records, {e['nodes']} nodes) → {args.envelopes}",
            )
        )
    if s.get("upload"):
        _report_upload(con, s["upload"])
    if s.get("via_node"):
        _report_via_node(con, s["via_node"], args)
    for path, zh, en in (
        (args.out, "记录流", "stream"),
        (args.ledger, "真值台账", "ledger"),
        (args.plot, "活动图", "plot"),
    ):
        if path:
            con.say(con.t(f"{zh}：{path}", f"{en}: {path}"))


def _report_upload(con, u: dict) -> None:
    rate = u["records_per_s"] if u["records_per_s"] is not None else "—"
    con.say(
        con.t(
            f"实时上传 → {u['url']}：报文 {u['envelopes']} 个（请求 {u['attempts']} 次），记录 {u['records']} 条，"
            f"用时 {u['wall_s']}s（{rate} 条/秒）",
            f"live upload → {u['url']}: {u['envelopes']} envelopes ({u['attempts']} requests), {u['records']} "
            f"records, {u['wall_s']}s ({rate} records/s)",
        )
    )
    con.say(
        con.t(
            f"  接收 {u['accepted']}  重复 {u['duplicate']}（其中意外 {u['unexpected_duplicates']}）  拒收 {u['rejected']}"
            f"  丢失 {u['lost']}  未发送 {u['unsent']}",
            f"  accepted {u['accepted']}  duplicate {u['duplicate']} (unexpected {u['unexpected_duplicates']})  "
            f"rejected {u['rejected']}  lost {u['lost']}  unsent {u['unsent']}",
        )
    )
    _report_reasons(con, u)
    _report_ending(con, u, "余下报文未发送", "the rest was not sent")


def _report_reasons(con, u: dict) -> None:
    for r in u["top_reasons"]:
        con.say(
            con.t(f"  拒收原因 {r['reason']}：{r['records']} 条", f"  rejected {r['reason']}: {r['records']} record(s)")
        )


def _report_ending(con, u: dict, rest_zh: str, rest_en: str) -> None:
    if not u["answered"]:
        con.say(con.t("  平台没有应答", "  the platform never answered"))
    elif u["timed_out"]:
        con.say(con.t(f"  上传时限已到，{rest_zh}", f"  the upload time limit ran out; {rest_en}"))


def _report_via_node(con, u: dict, args) -> None:
    rate = u["records_per_s"] if u["records_per_s"] is not None else "—"
    con.say(
        con.t(
            f"经参考节点上传 → {u['url']}：节点 {u['nodes']} 个，报文 {u['envelopes']} 个（失败尝试 {u['failures']} 次），"
            f"用时 {u['wall_s']}s（{rate} 条/秒）",
            f"uploaded via the reference node → {u['url']}: {u['nodes']} nodes, {u['envelopes']} envelopes "
            f"({u['failures']} failed attempts), {u['wall_s']}s ({rate} records/s)",
        )
    )
    con.say(
        con.t(
            f"  生成 {u['generated']} = 进入出站队列 {u['entered']} = 已确认 {u['acknowledged']}"
            f"（接收 {u['accepted']}，平台已有 {u['duplicate']}）+ 拒收 {u['rejected']} + 无效 {u['invalid']}"
            f" + 滞留 {u['pending']}",
            f"  generated {u['generated']} = entered outboxes {u['entered']} = acknowledged {u['acknowledged']}"
            f" (accepted {u['accepted']}, already held {u['duplicate']}) + rejected {u['rejected']}"
            f" + invalid {u['invalid']} + left pending {u['pending']}",
        )
    )
    if u["not_entered"]:
        con.say(con.t(f"  未进入出站队列：{u['not_entered']} 条", f"  not entered: {u['not_entered']} record(s)"))
    if u["deduplicated"]:
        con.say(
            con.t(
                f"  已在出站队列中（模型的重复上传，或 --node-dir 中上次运行的记录）：{u['deduplicated']} 次",
                f"  already in the outboxes (the model's repeated uploads, or an earlier run in --node-dir): "
                f"{u['deduplicated']}",
            )
        )
    _report_reasons(con, u)
    for r in u["top_findings"]:
        con.say(
            con.t(
                f"  无效（{r['finding']}）：{r['records']} 条", f"  invalid ({r['finding']}): {r['records']} record(s)"
            )
        )
    for r in u["refused"]:
        con.say(
            con.t(
                f"  节点 {r['node']} 的报文被平台整体拒收（{r['code']}），节点已放弃：{r['records']} 条记录滞留",
                f"  node {r['node']}: envelopes refused whole by the platform ({r['error']}); the node gave up, "
                f"{r['records']} record(s) left pending",
            )
        )
    _report_ending(con, u, "余下记录仍在出站队列", "the rest is still in the outboxes")
    if args.node_dir:
        con.say(con.t(f"  节点出站队列与日志：{u['work_dir']}", f"  node outboxes and log: {u['work_dir']}"))
