"""``roucai device``: run a simulated device, drive any device, render a receipt.

    roucai device scale  [--pty | --url URL] [--baud N] [--fault NAME[=V] ...] [--seed N] [--for S]
    roucai device reader [--pty | --url URL] ...
    roucai device handheld --url PLATFORM_URL (--city CITY.json --keys KEYS.json | --node CODE --key SECRET) [--entries N]
    roucai device drive URL COMMAND [ARGS...]      (identify, status, read-records 1 10, ...)
    roucai device act CONTROL_URL ACTION [VALUE | NAME=VALUE ...]   (put-load 1236, power-off, ...)
    roucai device receipt --out FILE.png [--text]
    roucai device faults

Device side ``--url``: ``socket://127.0.0.1:PORT`` serves on a TCP port,
``sim://NAME`` an in-process line, anything else is opened with pyserial as the
device's own port (e.g. ``/dev/ttyUSB1`` wired to the host's adapter).
Default: ``--pty`` (a pseudo-terminal with a stable symlink).
``--control socket://127.0.0.1:PORT`` also serves the device's control channel: the profile's operator
actions (profiles/reference/actions.toml) performed on the simulated device, so a harness certifies it as
it would a foreign device (:mod:`simulators.devices.control`); ``act`` sends one action to it.

Exit codes: 0 ok; 1 the device refused (NAK, or an action it cannot perform now) or an upload was rejected;
2 usage or a port that cannot be opened; 3 timeout or harness error.
JSON (``--json``) of ``drive``: ``{"ok", "command", "result" | "error", "stats"}``.
"""

from __future__ import annotations

import random
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from ..console import EXIT_HARNESS, EXIT_NONCONFORMANT, EXIT_OK, EXIT_USAGE, UsageError
from ._profile import profile_of

DEMO_NODE = "650102001"


def register(sub, common):
    p = sub.add_parser("device", parents=[common], help="simulated devices and host driver / 设备仿真与驱动")
    s = p.add_subparsers(dest="device_cmd", metavar="scale|reader|handheld|drive|act|receipt|faults")
    for kind, zh in (("scale", "追溯秤"), ("reader", "读卡器")):
        d = s.add_parser(kind, parents=[common], help=f"run a simulated {kind} / 运行仿真{zh}")
        g = d.add_mutually_exclusive_group()
        g.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (default)")
        g.add_argument("--url", help="socket://127.0.0.1:PORT, sim://NAME, or a real port path for the device side")
        d.add_argument("--name", default=f"roucai-{kind}", help="line name / pty symlink name")
        d.add_argument("--baud", type=int, default=9600, help="baud rate (paced; default 9600)")
        d.add_argument("--fault", action="append", default=[], metavar="NAME[=V]", help="inject a fault (repeatable)")
        d.add_argument("--seed", type=int, default=0)
        d.add_argument(
            "--for",
            dest="duration",
            type=float,
            default=None,
            metavar="SECONDS",
            help="stop after this many seconds (default: until Ctrl-C)",
        )
        d.add_argument("--trace", help="write a JSON-lines wire trace to this file")
        d.add_argument(
            "--control",
            metavar="socket://127.0.0.1:PORT",
            help="also serve the control channel (operator actions) on this TCP port",
        )
        if kind == "scale":
            d.add_argument("--db", help="durable record store (SQLite); default: a temporary file")
            d.add_argument(
                "--model", choices=["counter", "platform"], default="counter", help="案秤 15 kg / 台秤 150 kg"
            )
            d.add_argument("--blank", action="store_true", help="no demo stall and batches")
            d.add_argument(
                "--sale-every",
                type=float,
                default=None,
                metavar="SECONDS",
                help="simulate a customer sale every N seconds",
            )
            d.add_argument(
                "--load-g",
                type=float,
                default=None,
                metavar="GRAMS",
                help="a test weight left on the platter (settled), e.g. for SELL from a host",
            )
            d.add_argument(
                "--storage-records",
                type=int,
                default=None,
                metavar="N",
                help="offline storage capacity in records (default: the profile's, 18000)",
            )
        else:
            d.add_argument("--no-card", action="store_true", help="start with no card in the field")
        d.set_defaults(func=run_device, kind=kind)
    h = s.add_parser("handheld", parents=[common], help="simulated handheld: register entries and upload / 手持终端")
    h.add_argument(
        "--url",
        required=True,
        help="platform (or node) URL the envelopes are POSTed to; no path = the upload path /api/v1/exchange",
    )
    h.add_argument(
        "--city",
        metavar="FILE",
        help="a city fixture (roucai fixtures city): the node and its registered "
        "operators come from it (the first node of --kind unless --node)",
    )
    h.add_argument("--keys", metavar="FILE", help="the keys file of import-city --keys-out: the node's key from it")
    h.add_argument("--node", help=f"9-digit node code (default: from --city, else {DEMO_NODE})")
    h.add_argument("--node-name", default="示例农产品批发市场")
    h.add_argument("--key", help="the node's secret (VerifyCode key); or --keys")
    h.add_argument("--kind", choices=["wholesale", "slaughterhouse"], default="wholesale")
    h.add_argument("--entries", type=int, default=3, help="entries to register (1..1000)")
    h.add_argument("--format", choices=["xml", "json"], default="xml")
    h.add_argument("--timeout", type=float, default=5.0)
    h.add_argument("--fault", action="append", default=[], metavar="NAME")
    h.add_argument("--seed", type=int, default=0)
    h.set_defaults(func=run_handheld)
    dr = s.add_parser("drive", parents=[common], help="talk to any device through the driver / 驱动任意设备")
    dr.add_argument("url", help="pyserial URL or path: sim://NAME, /dev/ttyUSB0, socket://HOST:PORT, a pty")
    dr.add_argument("command", help=", ".join(sorted(_DRIVE)))
    dr.add_argument("args", nargs="*")
    dr.add_argument("--baud", type=int, default=9600)
    dr.add_argument("--timeout", type=float, default=None, help="response timeout per attempt, seconds")
    dr.add_argument("--retries", type=int, default=None)
    dr.set_defaults(func=run_drive)
    ac = s.add_parser("act", parents=[common], help="perform an operator action on a control channel / 执行操作")
    ac.add_argument("url", nargs="?", help="the device's control channel: socket://127.0.0.1:PORT")
    ac.add_argument("action", help="an action of the profile (put-load, power-off, …; --list shows them)", nargs="?")
    ac.add_argument("values", nargs="*", help="parameters in order (put-load 1236) or NAME=VALUE")
    ac.add_argument("--list", action="store_true", help="list the profile's actions and exit")
    ac.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer (default 30)")
    ac.set_defaults(func=run_act)
    r = s.add_parser("receipt", parents=[common], help="render a receipt PNG / 生成追溯小票图片")
    r.add_argument("--out", required=True, help="PNG file to write")
    r.add_argument("--text", action="store_true", help="also print the text receipt")
    r.add_argument("--market", default="北园春农贸市场")
    r.add_argument("--stall", default="A-12")
    r.add_argument("--vendor", default="张建国")
    r.add_argument("--commodity", default="21111002", help="commodity code")
    r.add_argument("--weight-g", type=int, default=1234)
    r.add_argument("--price-fen", type=int, default=None, help="unit price, fen per kg (default: the table's band)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--font", help="a CJK font file (default: fontconfig, $ROUCAI_CJK_FONT)")
    r.set_defaults(func=run_receipt)
    f = s.add_parser("faults", parents=[common], help="list fault switches / 故障开关")
    f.set_defaults(func=run_faults)
    rl = s.add_parser(
        "relay", parents=[common], help="frame-aware relay with one injected defect / 帧级中继（注入缺陷）"
    )
    rl.add_argument("--listen", default="pty", help="host side: socket://127.0.0.1:PORT or pty (default)")
    rl.add_argument("--to", help="device side: socket://127.0.0.1:PORT or a pty/serial port path")
    rl.add_argument("--defect", help="a defect of conformance/proofs/device_defects.toml (default: none, transparent)")
    rl.add_argument("--seed", type=int, default=0)
    rl.add_argument("--link", help="with --listen pty: a symlink to the pty")
    rl.add_argument("--for", dest="duration", type=float, default=None, metavar="SECONDS")
    rl.add_argument("--list", action="store_true", help="list the defect catalogue and exit")
    rl.set_defaults(func=run_relay)
    p.set_defaults(func=lambda a, c: (p.print_help(), EXIT_USAGE)[1])


# -- device runners --------------------------------------------------------------------


def _faults(specs, device):
    from simulators.devices.faults import FaultSet

    return FaultSet(specs, device)


def _open_device_port(args):
    """(line or None, device port, host URL)."""
    from simulators.serial import LineError, LineSettings, WireTrace, open_line

    if args.baud <= 0:
        raise UsageError("--baud 须为正数", "--baud must be positive")
    url = args.url
    trace = None
    if args.trace:
        from profiles.device import get_protocol

        trace = WireTrace(args.trace, decoder=get_protocol(profile=profile_of(args)).trace_decoder())
    try:
        settings = LineSettings(baudrate=args.baud)
        if url is None or args.pty:
            line = open_line(args.name, backend="pty", settings=settings, trace=trace)
        elif url.startswith("socket://"):
            host, _, port = url[len("socket://") :].partition(":")
            if host not in ("127.0.0.1", "localhost") or not port.isdigit():
                raise UsageError(
                    "设备端只监听 socket://127.0.0.1:PORT", "the device side listens on socket://127.0.0.1:PORT only"
                )
            line = open_line(args.name, backend="socket", settings=settings, trace=trace, port=int(port))
        elif url.startswith("sim://"):
            line = open_line(url[len("sim://") :], backend="sim", settings=settings, trace=trace)
        else:
            import serial

            try:
                port = serial.serial_for_url(url, baudrate=args.baud, timeout=0.01)
            except (serial.SerialException, ValueError, OSError) as e:
                raise UsageError(f"无法打开端口 {url}：{e}", f"cannot open port {url}: {e}")
            return None, port, url
    except (LineError, ValueError, OSError) as e:
        raise UsageError(f"无法创建串口线路：{e}", f"cannot create the serial line: {e}")
    return line, line.device, line.host_url


def run_device(args, con) -> int:
    from profiles.device import get_protocol
    from simulators.devices.endpoint import DeviceEndpoint
    from simulators.devices.control import TimeSkew
    from simulators.devices.runner import ThreadRunner

    prof = profile_of(args)
    faults = _faults(args.fault, args.kind)
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--for 须为正数", "--for must be positive")
    tick = None
    tmp = None
    skew = TimeSkew()
    control_port = _control_port(args.control)
    if args.kind == "scale":
        from simulators.devices.scale import ScaleModel

        db = args.db
        if db is None:
            tmp = tempfile.TemporaryDirectory(prefix="roucai-scale-")
            db = str(Path(tmp.name) / "scale.db")
        if args.storage_records is not None and not 1 <= args.storage_records <= 1_000_000:
            raise UsageError("--storage-records 须在 1 到 1000000 之间", "--storage-records must be 1..1,000,000")
        try:
            model = ScaleModel(
                db,
                profile=prof,
                model=args.model,
                seed=args.seed,
                faults=faults,
                time_source=skew.source,
                capacity=args.storage_records,
            )
        except Exception as e:  # sqlite3 errors on a bad --db path
            raise UsageError(f"无法打开记录存储 {db}：{e}", f"cannot open the record store {db}: {e}")
        batches = [] if args.blank else _demo_setup(model, prof, args.seed)
        if args.load_g is not None:
            if not 0 <= args.load_g <= 1_000_000:
                raise UsageError("--load-g 须在 0 到 1000000 克之间", "--load-g must be 0..1,000,000 g")
            model.place(args.load_g, settled=True)
        if args.sale_every:
            tick = _sale_ticker(model, batches, args.sale_every, args.seed)
        info = {"device": "scale", "model": args.model, "db": db, "batches": batches}
    else:
        from simulators.devices.reader import ReaderModel

        model = ReaderModel(profile=prof, faults=faults, seed=args.seed)
        info = {"device": "reader"}
        if not args.no_card:
            card = _demo_card(model, prof, args.seed)
            model.present(card)
            info["card_uid"] = card.uid.hex().upper()  # CODE-CARD-01: upper-case hex text
    line, port, host_url = _open_device_port(args)
    runner = ThreadRunner(DeviceEndpoint(get_protocol(profile=prof), model), port, tick=tick, time_source=skew.source)
    control = _start_control(args, model, runner, skew, control_port, line, port)
    info.update(
        {"url": host_url, "baud": args.baud, "faults": faults.names, "protocol": get_protocol(profile=prof).name}
    )
    if control is not None:
        info["control"] = control.url
    stop = threading.Event()
    old = (
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        if threading.current_thread() is threading.main_thread()
        else None
    )
    runner.start()
    try:
        if con.as_json:
            con.json(info)
        else:
            con.say(
                con.t(
                    f"仿真{'追溯秤' if args.kind == 'scale' else '读卡器'}已就绪，主机请打开：",
                    f"simulated {args.kind} ready; a host opens:",
                )
            )
            con.say(f"  {host_url}")
            if host_url.startswith("sim://"):
                con.say(
                    con.t(
                        "  （sim:// 只在本进程内可达；其他程序请用 --pty 或 --url socket://127.0.0.1:PORT）",
                        "  (sim:// is reachable only inside this process; for other programs use --pty or "
                        "--url socket://127.0.0.1:PORT)",
                    )
                )
            if control is not None:
                con.say(con.t("  控制通道（操作）：", "  control channel (actions): ") + control.url)
            for line_ in faults.describe(con.lang):
                con.say(con.t("  故障：", "  fault: ") + line_)
            con.say(con.t("  按 Ctrl-C 停止", "  Ctrl-C stops it"))
        sys.stdout.flush()
        stop.wait(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
        if control is not None:
            control.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        if line is not None:
            line.close()
        else:
            port.close()
        if args.kind == "scale":
            model.store.close()
        if tmp is not None:
            tmp.cleanup()
    st = dict(runner.endpoint.stats, **runner.endpoint.decoder.stats)
    if not con.as_json:
        con.say(con.t("已停止。统计：", "stopped. stats: ") + ", ".join(f"{k}={v}" for k, v in st.items()))
    return EXIT_OK


def _control_port(url: str | None) -> int | None:
    """The TCP port of ``--control`` (checked before anything starts), or None."""
    if url is None:
        return None
    from simulators.devices.control import parse_control_url

    try:
        host, port = parse_control_url(url)
    except ValueError:
        host, port = "", 0
    if host not in ("127.0.0.1", "localhost"):
        raise UsageError("--control 须为 socket://127.0.0.1:PORT", "--control must be socket://127.0.0.1:PORT")
    return port


def _start_control(args, model, runner, skew, port: int | None, line, dev_port):
    """The control channel server, started (None without ``--control``); a busy port is a usage error."""
    if port is None:
        return None
    from simulators.devices.control import ControlServer, ReaderControl, ScaleControl

    if args.kind == "scale":
        ctl = ScaleControl(model, runner.lock, runner.endpoint, skew)
    else:
        ctl = ReaderControl(model, runner.lock)
    try:
        return ControlServer(ctl, port).start()
    except OSError as e:
        if line is not None:
            line.close()
        else:
            dev_port.close()
        raise UsageError(f"无法监听控制通道端口 {port}：{e}", f"cannot listen on control port {port}: {e}")


def _act_params(cat, action: str, values: list[str]) -> dict:
    """Parameters of ``action`` from ``VALUE`` (in declared order) and ``NAME=VALUE`` words."""
    declared = cat[action].params
    params, positional = {}, []
    for v in values:
        k, eq, val = v.partition("=")
        if eq and k in declared:
            params[k] = val
        else:
            positional.append(v)
    free = [p for p in declared if p not in params]
    if len(positional) > len(free):
        raise UsageError(
            f"操作「{action}」的参数过多：{positional}", f"too many parameters for {action!r}: {positional}"
        )
    params.update(zip(free, positional))
    return params


def run_act(args, con) -> int:
    from profiles.actions import load_actions
    from simulators.devices.control import ControlError, ControlUnreachable, send_action

    cat = load_actions(profile_of(args))
    if args.list:
        rows = [
            {"action": a.name, "kinds": list(a.kinds), "params": list(a.params), "zh": a.zh, "en": a.en}
            for a in cat.actions.values()
        ]
        if con.as_json:
            con.json(rows)
        else:
            for r in rows:
                con.say(
                    f"{r['action']:<20} {' '.join('{' + p + '}' for p in r['params']):<18} "
                    + (r["en"] if con.lang == "en" else r["zh"])
                )
        return EXIT_OK
    if not args.url or not args.action:
        raise UsageError(
            "用法：roucai device act 控制通道URL 操作 [参数…]（--list 列出全部操作）",
            "usage: roucai device act CONTROL_URL ACTION [VALUES…] (--list shows the actions)",
        )
    if not 0 < args.timeout <= 3600:
        raise UsageError("--timeout 须在 0 到 3600 秒之间", "--timeout must be within (0, 3600] s")
    if args.action not in cat:
        raise UsageError(
            f"未知的操作「{args.action}」，可选：{', '.join(cat.names)}",
            f"unknown action {args.action!r}; one of {', '.join(cat.names)}",
        )
    try:
        params = cat.check(args.action, _act_params(cat, args.action, args.values))
        result = send_action(args.url, args.action, params, timeout=args.timeout)
    except ControlUnreachable as e:  # said without main()'s "error:" prefix, as the device said it
        con.err(e.zh, e.en)
        return EXIT_HARNESS
    except ControlError as e:  # one class, two codes on purpose: our usage mistake 2, a refusal 1
        if e.code in ("bad-params", "unknown-action", "bad-request"):
            raise UsageError(e.zh, e.en)
        con.err(e.zh, e.en)
        return EXIT_NONCONFORMANT
    if con.as_json or result is not None:
        con.json({"ok": True, "action": args.action, "params": params, "result": result})
    else:
        con.say(con.t(f"已执行：{cat.text(args.action, params, 'zh')}", f"done: {cat.text(args.action, params, 'en')}"))
    return EXIT_OK


def _demo_setup(model, prof, seed: int) -> list[str]:
    codes = prof.codes
    rng = random.Random(seed)
    op = codes.operator_code(DEMO_NODE, 1 + rng.randrange(50))
    model.bind_stall(DEMO_NODE, op, f"A-{1 + rng.randrange(40):02d}", "北园春农贸市场", "张建国")
    upstream = codes.operator_code("650102002", 1 + rng.randrange(50))
    out = []
    for i, com in enumerate(("21111002", "21111004")):
        bt = codes.trace_code(upstream, 1000 + i + rng.randrange(1000))
        c = prof.commodities[com] if com in prof.commodities else None
        price = int((c.price_low + c.price_high) / 2 * 100) if c else 3000
        model.load_batch(bt, com, c.name_zh if c else "", 50_000, price)
        out.append(bt)
    return out


def _sale_ticker(model, batches, every: float, seed: int):
    rng = random.Random(seed)
    state = {"next": time.monotonic() + every}

    def tick(now: float) -> None:
        if now < state["next"] or not batches:
            return
        state["next"] = now + every
        from simulators.devices.refusal import PowerLost, Refused

        try:
            model.sell(rng.choice(batches), rng.randrange(200, 3000))
        except (Refused, PowerLost):
            pass

    return tick


def _demo_card(model, prof, seed: int):
    from profiles.device.card_layout import CardBatch, CardHolder
    from simulators.devices.card import MifareCard

    rng = random.Random(seed)
    codes = prof.codes
    uid = bytes(rng.randrange(256) for _ in range(4))
    op = codes.operator_code(DEMO_NODE, 1 + rng.randrange(50))
    card = MifareCard.issued(model.layout, uid, CardHolder(op, DEMO_NODE, "张建国"))
    reading = model.layout.read(card.blocks(), uid)
    for blk, data in model.layout.plan_batch_write(
        reading,
        CardBatch(
            codes.trace_code(codes.operator_code("650102002", 1), 1 + rng.randrange(9999)),
            "21111002",
            25_000,
            2600,
            20240518,
        ),
    ):
        card.mem[blk * 16 : (blk + 1) * 16] = data
    return card


# -- handheld ----------------------------------------------------------------------


def run_handheld(args, con) -> int:
    from simulators.devices.handheld import EntryError, HandheldTerminal

    prof = profile_of(args)
    if not 1 <= args.entries <= 1000:
        raise UsageError("--entries 须在1到1000之间", "--entries must be 1..1000")
    if not args.url.startswith(("http://", "https://")):
        raise UsageError("--url 须为 http:// 或 https:// 地址", "--url must be an http:// or https:// URL")
    faults = _faults(args.fault, "handheld")
    from simulators.market.upload import ingest_url

    node, node_name, operators = _handheld_node(args)
    key = _handheld_key(args, node)
    try:
        hh = HandheldTerminal(
            node,
            node_name,
            ingest_url(args.url),
            key,
            node_kind=args.kind,
            profile=prof,
            faults=faults,
            seed=args.seed,
            timeout_s=args.timeout,
            fmt=args.format,
        )
    except EntryError as e:
        raise UsageError(
            "节点编码无效：" + "；".join(f.zh for f in e.findings),
            "invalid node code: " + "; ".join(f.en for f in e.findings),
        )
    rng = random.Random(args.seed)
    codes, ids = prof.codes, prof.identifiers
    for i in range(args.entries):
        op = rng.choice(operators) if operators else codes.operator_code(node, 1 + rng.randrange(200))
        plate = ids.new_plate(rng)
        cert = f"{rng.randint(10, 65)}{rng.randint(0, 99_999_999):08d}"
        if args.kind == "slaughterhouse":
            hh.register_animal_intake(
                op, "养殖户" + str(i + 1), cert, rng.randint(10, 60), plate=plate, origin_region="650121"
            )
        else:
            meat = rng.random() < 0.5
            goods = [("21111001" if meat else "01201001", f"{rng.randint(200, 3000)}.000")]
            goods = [(c, w) for c, w in goods if c in prof.commodities] or [
                (next(iter(prof.commodities)).code, "500.000")
            ]
            kw = {"quarantine_animal_products_id": cert} if prof.records.is_meat(goods[0][0]) else {"prov_id": cert}
            hh.register_market_entry(op, "批发商" + str(i + 1), goods, plate=plate, origin_region="650121", **kw)
    outcomes = hh.upload()
    ok = all(o.status == "accepted" for o in outcomes)
    timeout = any(o.status == "timeout" or (o.status == "error" and o.http_status is None) for o in outcomes)
    if con.as_json:
        con.json(
            {"ok": ok, "uploaded": hh.uploaded, "pending": len(hh.outbox), "outcomes": [o.__dict__ for o in outcomes]}
        )
    else:
        for o in outcomes:
            con.say(
                f"{o.record_type}: {o.status} {o.count} "
                + con.t(
                    f"（接收{o.accepted}，重复{o.duplicate}，拒收{o.rejected}）",
                    f"(accepted {o.accepted}, duplicate {o.duplicate}, rejected {o.rejected})",
                )
                + (f" {o.detail}" if o.detail else "")
            )
            for pos, code, msg in o.reasons:
                con.say(f"    #{pos} {code} {msg}")
    return EXIT_OK if ok else (EXIT_HARNESS if timeout else EXIT_NONCONFORMANT)


_HANDHELD_NODE_TYPES = {
    "slaughterhouse": ("slaughter_pig", "slaughter_cattle_sheep", "slaughter_poultry"),
    "wholesale": ("meat_wholesale", "vegetable_wholesale"),
}


def _handheld_node(args) -> tuple[str, str, list[str]]:
    """(node code, node name, registered operator codes) of a handheld run: from --city, else --node."""
    if not args.city:
        return args.node or DEMO_NODE, args.node_name, []
    from simulators.city import City
    from .fixtures import _load_city_file

    try:
        city = City.from_dict(_load_city_file(args.city))
    except (KeyError, TypeError):
        raise UsageError(
            f"{args.city} 不是城市数据文件（roucai fixtures city）",
            f"{args.city} is not a city file (roucai fixtures city)",
        ) from None
    types = _HANDHELD_NODE_TYPES[args.kind]
    nodes = [n for n in city.nodes if (n.code == args.node if args.node else n.type in types)]
    if not nodes:
        raise UsageError(
            f"{args.city} 中没有{'节点 ' + args.node if args.node else '该类型（' + args.kind + '）的节点'}",
            f"{args.city} has no {'node ' + args.node if args.node else args.kind + ' node'}",
        )
    n = nodes[0]
    return n.code, n.name, [o.code for o in city.operators if o.node_code == n.code]


def _handheld_key(args, node: str) -> str:
    if args.key:
        return args.key
    if not args.keys:
        raise UsageError("需要节点密钥：--key 或 --keys FILE", "the node's key is needed: --key or --keys FILE")
    from simulators.market.upload import load_keys

    keys = load_keys(args.keys)
    if node not in keys:
        raise UsageError(f"{args.keys} 中没有节点 {node} 的密钥", f"{args.keys} has no key for node {node}")
    return keys[node]


# -- drive -------------------------------------------------------------------------


def _int(v: str, name: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise UsageError(f"{name} 应为整数：{v!r}", f"{name} must be an integer: {v!r}")


def _need(args, n: int, usage: str):
    if len(args) < n:
        raise UsageError(f"参数不足，用法：{usage}", f"missing arguments; usage: {usage}")


def _d_set_clock(d, a):
    if not a or a[0] == "now":
        value = datetime.now()
    else:
        try:
            value = datetime.fromisoformat(a[0])
        except ValueError:
            raise UsageError(
                f"时间格式应为 ISO，例如 2024-05-18T08:00:00：{a[0]!r}",
                f"time must be ISO, e.g. 2024-05-18T08:00:00: {a[0]!r}",
            )
    d.set_clock(value)
    return {"set": value.replace(microsecond=0).isoformat(sep=" ")}


def _d_bind(d, a):
    _need(a, 3, "bind NODE OPERATOR STALL [MARKET] [VENDOR]")
    d.bind_stall(a[0], a[1], a[2], a[3] if len(a) > 3 else "", a[4] if len(a) > 4 else "")


def _d_load(d, a):
    _need(a, 4, "load BATCH_TRACE COMMODITY LIMIT_G PRICE_FEN_PER_KG [NAME]")
    d.load_batch(a[0], a[1], _int(a[2], "LIMIT_G"), _int(a[3], "PRICE_FEN"), a[4] if len(a) > 4 else "")


def _d_read(d, a):
    start = _int(a[0], "FROM") if a else 1
    count = _int(a[1], "COUNT") if len(a) > 1 else 10
    if not 0 <= start < 2**32 or not 0 <= count <= 255:
        raise UsageError("FROM 须为 0..2^32-1，COUNT 须为 0..255", "FROM must be 0..2^32-1 and COUNT 0..255")
    return d.read_records(start, count)


def _d_events(d, a):
    secs = float(a[0]) if a else 2.0
    out, end = [], time.monotonic() + min(secs, 600)
    while time.monotonic() < end:
        ev = d.wait_event(end - time.monotonic())
        if ev is not None:
            out.append(ev)
    return out


def _d_block(d, a):
    _need(a, 2, "read-block SECTOR_KEY_HEX BLOCK")
    blk = _int(a[1], "BLOCK")
    try:
        key = bytes.fromhex(a[0])
    except ValueError:
        raise UsageError("密钥应为12位十六进制", "the key must be 12 hex digits")
    d.auth(blk // 4, key, 0x60)
    return {"block": blk, "data": d.read_block(blk).hex()}


def _d_read_card(d, a, prof=None):
    r = d.read_card(prof.codes if prof else None)
    return {
        "uid": r.uid.hex().upper(),
        "ok": r.ok,
        "version": r.version,
        "holder": r.holder.__dict__ if r.holder else None,
        "batches": [b.__dict__ for b in r.batches],
        "findings": [f.to_dict() for f in r.findings],
    }


_DRIVE = {
    "identify": (None, lambda d, a: d.identify()),
    "status": (None, lambda d, a: d.status()),
    "clock": (None, lambda d, a: {"time": d.get_clock().isoformat(sep=" ")}),
    "set-clock": (None, _d_set_clock),
    "weigh": ("scale", lambda d, a: d.weigh()),
    "tare": ("scale", lambda d, a: d.tare()),
    "bind": ("scale", _d_bind),
    "load": ("scale", _d_load),
    "stop": (
        "scale",
        lambda d, a: (_need(a, 1, "stop BATCH_TRACE [REASON]"), d.stop_trade(a[0], a[1] if len(a) > 1 else ""))[1],
    ),
    "sell": ("scale", lambda d, a: (_need(a, 1, "sell BATCH_TRACE"), d.sell(a[0]))[1]),
    "read-records": ("scale", _d_read),
    "ack-records": (
        "scale",
        lambda d, a: (_need(a, 1, "ack-records UP_TO_INDEX"), d.ack_records(_int(a[0], "UP_TO_INDEX")))[1],
    ),
    "upload": ("scale", lambda d, a: d.upload_all(_int(a[0], "FROM") if a else 1)),
    "events": (None, _d_events),
    "poll": ("reader", lambda d, a: d.poll()),
    "read-block": ("reader", _d_block),
    "read-card": ("reader", _d_read_card),
}


def _plain(obj):
    if obj is None:
        return {"ack": True}
    if isinstance(obj, list):
        return [_plain(o) for o in obj]
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "__dataclass_fields__"):
        from profiles.device.messages import _plain as mp

        return mp(obj)
    return obj


def run_drive(args, con) -> int:
    import serial
    from profiles.device import get_protocol
    from simulators.devices.driver import DeviceNak, DeviceTimeout, ReaderDriver, ScaleDriver

    prof = profile_of(args)
    if args.command not in _DRIVE:
        raise UsageError(
            f"未知命令「{args.command}」；可用：{', '.join(sorted(_DRIVE))}",
            f"unknown command {args.command!r}; known: {', '.join(sorted(_DRIVE))}",
        )
    kind, fn = _DRIVE[args.command]
    if args.timeout is not None and not 0 < args.timeout <= 60:
        raise UsageError("--timeout 须在0到60秒之间", "--timeout must be within (0, 60] s")
    if args.retries is not None and not 0 <= args.retries <= 10:
        raise UsageError("--retries 须在0到10之间", "--retries must be 0..10")
    cls = ReaderDriver if kind == "reader" else ScaleDriver
    url, baud = args.url, args.baud
    if url.startswith("serial://"):  # the harness's target form: serial:///dev/ttyUSB0?baud=9600
        from conformance.targets import parse_target

        url, opts = parse_target(url).serial_open_args()
        baud = opts.get("baudrate", baud)
    from simulators.serial import line_names

    if url.startswith("sim://") and url[len("sim://") :] not in line_names():
        raise UsageError(
            "sim:// 线路只存在于创建它的进程内；另一进程中的设备请用 socket://127.0.0.1:PORT 或伪终端路径",
            "a sim:// line exists only inside the process that made it; reach a device in another "
            "process by socket://127.0.0.1:PORT or its pty path",
        )
    try:
        drv = cls(
            url,
            protocol=get_protocol(profile=prof),
            baudrate=baud,
            response_timeout_s=args.timeout,
            retries=args.retries,
        )
    except ValueError as e:
        raise UsageError(f"端口参数无效 {args.url}：{e}", f"invalid port settings {args.url}: {e}")
    except (serial.SerialException, OSError) as e:  # nothing answers there: unreachable, not a usage error
        con.err(f"无法打开端口 {args.url}：{e}", f"cannot open port {args.url}: {e}")
        return EXIT_HARNESS
    with drv:
        try:
            result = fn(drv, args.args) if fn is not _d_read_card else fn(drv, args.args, prof)
        except DeviceTimeout as e:
            return _drive_out(con, args, False, error=e, stats=drv.stats, code=EXIT_HARNESS, kind="timeout")
        except DeviceNak as e:
            return _drive_out(con, args, False, error=e, stats=drv.stats, code=EXIT_NONCONFORMANT, kind="nak")
        except serial.SerialException as e:
            con.err(f"串口错误：{e}", f"serial port error: {e}")
            return EXIT_HARNESS
        return _drive_out(con, args, True, result=_plain(result), stats=drv.stats, code=EXIT_OK)


def _drive_out(con, args, ok, *, result=None, error=None, stats=None, code=0, kind=None) -> int:
    if con.as_json:
        out = {"ok": ok, "command": args.command, "stats": stats}
        if ok:
            out["result"] = result
        else:
            out["error"] = {
                "kind": kind,
                "zh": error.zh,
                "en": error.en,
                **({"reason": error.reason} if kind == "nak" else {}),
            }
        con.json(out)
        return code
    if not ok:
        con.say(con.t("失败：", "failed: ") + con.t(error.zh, error.en))
        return code
    _print_result(con, result)
    errs = {
        k: v
        for k, v in (stats or {}).items()
        if v and k in ("garbage_bytes", "bad_crc", "bad_etx", "bad_length", "retransmissions", "resyncs", "truncated")
    }
    if errs:
        con.say(con.t("线路错误计数：", "line error counters: ") + ", ".join(f"{k}={v}" for k, v in errs.items()))
    return code


def _print_result(con, result, indent: str = "") -> None:
    if isinstance(result, dict):
        for k, v in result.items():
            if isinstance(v, (dict, list)) and v:
                con.say(f"{indent}{k}:")
                _print_result(con, v, indent + "  ")
            else:
                con.say(f"{indent}{k}: {v}")
    elif isinstance(result, list):
        if not result:
            con.say(f"{indent}" + con.t("（无）", "(none)"))
        for i, v in enumerate(result):
            con.say(f"{indent}[{i}]")
            _print_result(con, v, indent + "  ")
    else:
        con.say(f"{indent}{result}")


# -- receipt -----------------------------------------------------------------------


def run_receipt(args, con) -> int:
    from simulators.devices.receipt import Receipt, ReceiptLine

    prof = profile_of(args)
    if args.commodity not in prof.commodities:
        raise UsageError(f"商品编码 {args.commodity} 不在商品码表中", f"commodity {args.commodity} is not in the table")
    if not 0 < args.weight_g <= 150_000:
        raise UsageError("--weight-g 须在1到150000之间", "--weight-g must be 1..150000")
    c = prof.commodities[args.commodity]
    rng = random.Random(args.seed)
    price = (
        args.price_fen if args.price_fen is not None else rng.randint(int(c.price_low * 100), int(c.price_high * 100))
    )
    if price <= 0:
        raise UsageError("--price-fen 须为正数", "--price-fen must be positive")
    codes = prof.codes
    trace = codes.trace_code(codes.operator_code(DEMO_NODE, 1 + rng.randrange(50)), 1 + rng.randrange(9_999_998))
    cfg = prof.data("device_protocol")["receipt"]
    now = datetime(2024, 5, 18, 8, 0, 0).replace(minute=rng.randrange(60), second=rng.randrange(60))
    amount = (args.weight_g * price + 500) // 1000
    r = Receipt(
        args.market,
        args.stall,
        args.vendor,
        now,
        f"RS{rng.randrange(10**10):010d}{now:%y%m%d%H%M%S}0001",
        [ReceiptLine(c.name_zh, args.weight_g, price, amount, trace, c.name_en)],
        cfg["qr_template"].format(url=cfg["qr_url"], trace_code=trace, order_no=""),
    )
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError("--out 须为 .png 文件", "--out must be a .png file")
    if args.font and not Path(args.font).is_file():
        raise UsageError(f"字体文件不存在：{args.font}", f"font file not found: {args.font}")
    try:
        info = r.png(out, args.font)
    except OSError as e:
        raise UsageError(f"无法写入 {out}：{e}", f"cannot write {out}: {e}")
    if con.as_json:
        con.json({"ok": True, **info, "trace_code": trace, "qr": r.qr_content, "text": r.text()})
    else:
        if args.text:
            con.say(r.text())
        con.say(
            con.t(
                f"已写入 {info['path']}（{info['width']}×{info['height']}，字体模式 {info['font_mode']}）",
                f"wrote {info['path']} ({info['width']}x{info['height']}, font mode {info['font_mode']})",
            )
        )
        if info["font_mode"] != "cjk":
            con.say(
                con.t(
                    "  未找到中文字体：图片使用英文标签，中文见 --text；可设置 ROUCAI_CJK_FONT 或 --font",
                    "  no CJK font found: the PNG uses English labels (Chinese in --text); set ROUCAI_CJK_FONT or --font",
                )
            )
    return EXIT_OK


def run_faults(args, con) -> int:
    from simulators.devices.faults import FAULTS

    if con.as_json:
        con.json(
            [
                {
                    "name": f.name,
                    "devices": list(f.devices),
                    "zh": f.zh,
                    "en": f.en,
                    "param": f.param,
                    "default": f.default,
                    "unit": f.unit,
                }
                for f in FAULTS.values()
            ]
        )
        return EXIT_OK
    for f in FAULTS.values():
        par = f"={f.param}({f.default}{f.unit and ' ' + f.unit})" if f.param else ""
        con.say(f"{f.name}{par}  [{','.join(f.devices)}]  {con.t(f.zh, f.en)}")
    return EXIT_OK


def run_relay(args, con) -> int:
    """``roucai device relay``: forward a host to a device, injecting ``--defect`` (conformance/proofs)."""
    from conformance.proofs.device_defects import load_catalogue
    from conformance.proofs.relay import Relay

    cat = load_catalogue(profile=profile_of(args))
    if args.list:
        if con.as_json:
            con.json(
                [
                    {"name": d.name, "area": d.area, "requirement": d.requirement, "zh": d.zh, "en": d.en}
                    for d in cat.values()
                ]
            )
        else:
            for d in cat.values():
                con.say(f"{d.name}  [{d.requirement}]  {con.t(d.zh, d.en)}")
        return EXIT_OK
    if not args.to:
        raise UsageError("需要 --to（设备端）", "--to (the device side) is required")
    if args.defect and args.defect not in cat:
        raise UsageError(
            f"未知缺陷 {args.defect}（--list 列出目录）", f"unknown defect {args.defect} (--list shows them)"
        )
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--for 须为正数", "--for must be positive")
    relay = Relay(args.listen, args.to, cat.get(args.defect), seed=args.seed, link=args.link)
    stop = threading.Event()
    old = (
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        if threading.current_thread() is threading.main_thread()
        else None
    )
    relay.start()
    info = {"url": relay.host_url, "to": args.to, "defect": args.defect, "seed": args.seed}
    if con.as_json:
        con.json(info)
    else:
        con.say(con.t(f"中继已就绪，主机请打开：{relay.host_url}", f"relay ready; a host opens: {relay.host_url}"))
        con.say(
            con.t(
                f"  设备端：{args.to}；缺陷：{args.defect or '无（透明转发）'}",
                f"  device side: {args.to}; defect: {args.defect or 'none (transparent)'}",
            )
        )
    sys.stdout.flush()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while not stop.wait(0.2) and not relay.done.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        pass
    finally:
        died = relay.done.is_set()  # the relay's thread ended by itself: it could not go on
        relay.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    err = relay.error
    if err is not None:
        con.say(con.t(err.zh, err.en))
        if died:
            return EXIT_HARNESS
    if not con.as_json:
        st = relay.stats
        con.say(
            con.t("已停止。", "stopped. ")
            + ", ".join(
                f"{d}: {v['frames']} frames, {v['changed']} changed" for d, v in st.items() if isinstance(v, dict)
            )
        )
    return EXIT_OK
