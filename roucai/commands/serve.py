"""``roucai serve platform|admin``: run the reference platform; administer its registry.

``roucai serve platform [--host 127.0.0.1] [--port 8553] [--db FILE|postgresql://…]
[--role city|central] [--upstream URL --platform-id ID --upstream-key KEY]``
runs a city (default) or central platform until SIGINT/SIGTERM (graceful
shutdown), logging JSON lines on stderr; the first ``"event": "listening"``
line carries the real port (``--port 0`` picks a free one).  ``--offline-after S``
sets when a silent node shows offline; with ``--pid-file FILE`` it writes
``{pid, url, started_ns}`` there once listening, and SIGHUP restarts it in place
(``roucai serve restart --pid-file FILE`` does that and waits until healthy;
``simulators/platform/restart.py``).

``roucai serve admin --db … ACTION`` works on the same database directly
(SQLite WAL or PostgreSQL: safe while the server runs):

* ``init`` — create/migrate the database and the platform secret;
* ``register-node NODE --name N --type T`` — a node (9-digit code, city node type);
* ``register-operator OPERATOR --name N [--business-type T] [--reg-id R]``;
* ``issue-key NODE`` — a new key (revokes the previous one), printed once;
* ``disable-node NODE`` / ``enable-node NODE``; ``list-nodes``;
* ``import-city CITY.json [--keys-out FILE]`` — every node, operator and scale of a
  city fixture (``roucai fixtures city``), keys issued for nodes without one,
  written to FILE (mode 0600) as ``{"node_id": "key"}``;
* ``set-enterprises QUARTER NODE_TYPE COUNT`` — the enterprise coverage rate's
  denominator (PLAT-KPI-03), entered per quarter;
* ``register-city ID --name N`` — at a *central* platform: a city platform
  (6-digit GB/T 2260 id) and its key;
* ``register-regulator ID --name N [--key-out FILE]`` — a regulator (6-digit GB/T 2260 code of its
  jurisdiction) who runs problem detection and acknowledges or closes problems; a new
  key each time (the previous one revoked), printed once, or written to FILE (mode 0600, the
  key alone: a capability statement's ``regulator_key_file``) and not printed.

Keys are derived from the platform secret (``--secret-file``, default
``<db>.secret``); the database holds only a version and a fingerprint.
Exit codes: 0 ok, 2 configuration or usage error, 3 harness error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..console import EXIT_HARNESS, EXIT_OK, UsageError
from ._listen import port_in_use, stopped_by_signal


def register(sub, common):
    p = sub.add_parser("serve", parents=[common], help="run the reference platform / 运行参考平台")
    s = p.add_subparsers(dest="serve_cmd", metavar="platform|admin")

    def db_args(x, need_port=False):
        x.add_argument(
            "--db", default="platform.db", help="SQLite file (default platform.db) or postgresql://… / 数据库"
        )
        x.add_argument("--secret-file", help="platform secret (default <db>.secret) / 平台密钥文件")

    sp = s.add_parser("platform", parents=[common], help="run a city or central platform / 运行城市或中央平台")
    sp.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8553, help="port (default 8553; 0 = any free port)")
    db_args(sp)
    sp.add_argument("--role", choices=["city", "central"], default="city")
    sp.add_argument("--upstream", help="central platform URL to feed (city role)")
    sp.add_argument("--platform-id", help="this city's 6-digit id at the central platform")
    sp.add_argument(
        "--upstream-key-file",
        metavar="FILE",
        help="file holding the key issued by the central platform (or env ROUCAI_UPSTREAM_KEY) / 上级平台密钥文件",
    )
    sp.add_argument("--upstream-key", help="discouraged: visible in ps; use --upstream-key-file or ROUCAI_UPSTREAM_KEY")
    sp.add_argument("--feed-interval", type=float, default=60.0, help="seconds between feed pushes (default 60)")
    sp.add_argument("--max-body", type=int, default=8 * 1024 * 1024, help="largest request body, bytes")
    sp.add_argument(
        "--stop-ack-deadline",
        type=float,
        default=600.0,
        help="seconds before an unacknowledged stop-trade instruction is flagged overdue (default 600)",
    )
    sp.add_argument(
        "--offline-after",
        type=int,
        default=None,
        metavar="SECONDS",
        help="seconds without contact after which a node shows offline (default 900, platform.toml)",
    )
    sp.add_argument(
        "--pid-file",
        metavar="FILE",
        help="write {pid, url, started_ns} here once listening; SIGHUP then restarts in place "
        "(roucai serve restart) / 写入进程文件，SIGHUP 原地重启",
    )
    sp.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (with --tls-key) / HTTPS 证书")
    sp.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert / 私钥")
    sp.add_argument(
        "--tls-self-signed",
        metavar="DIR",
        help="serve HTTPS with a self-signed certificate for 127.0.0.1 made in DIR (cert.pem, key.pem, "
        "mode 0600; reused if present) / 自签名证书",
    )
    sp.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sp.set_defaults(func=run_platform)
    sr = s.add_parser(
        "restart", parents=[common], help="restart a platform started with --pid-file, wait until healthy / 重启平台"
    )
    sr.add_argument("--pid-file", required=True, metavar="FILE", help="the platform's --pid-file")
    sr.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health (default 60)")
    sr.set_defaults(func=run_restart)

    sa = s.add_parser("admin", parents=[common], help="register nodes/operators, issue keys / 节点登记与密钥")
    db_args(sa)
    a = sa.add_subparsers(dest="admin_cmd", metavar="ACTION")
    a.add_parser("init", parents=[common], help="create the database and secret")
    x = a.add_parser("register-node", parents=[common], help="register a node")
    x.add_argument("node")
    x.add_argument("--name", required=True)
    x.add_argument("--type", required=True, help="node type, e.g. farmers_market, slaughter_pig")
    x = a.add_parser("register-operator", parents=[common], help="register an operator")
    x.add_argument("operator")
    x.add_argument("--name", required=True)
    x.add_argument("--business-type")
    x.add_argument("--reg-id")
    for name, what in (
        ("issue-key", "issue a new key for a node (revokes the old one), printed once / 签发新密钥"),
        ("disable-node", "refuse a node's uploads / 停用节点"),
        ("enable-node", "accept a node's uploads again / 启用节点"),
    ):
        a.add_parser(name, parents=[common], help=what).add_argument("node")
    a.add_parser("list-nodes", parents=[common], help="nodes with status")
    x = a.add_parser("import-city", parents=[common], help="register a whole city fixture")
    x.add_argument("city", help="city JSON from `roucai fixtures city`")
    x.add_argument("--keys-out", help="write the issued keys here (JSON, mode 0600)")
    x = a.add_parser(
        "set-enterprises",
        parents=[common],
        help="enterprises of a node type to cover in a quarter (企业覆盖率 denominator)",
    )
    x.add_argument("quarter", help="YYYYQn, e.g. 2025Q1")
    x.add_argument("node_type", help="e.g. farmers_market")
    x.add_argument("count", type=int)
    x = a.add_parser("register-city", parents=[common], help="(central) register a city platform")
    x.add_argument("city_id")
    x.add_argument("--name", required=True)
    x = a.add_parser(
        "register-regulator",
        parents=[common],
        help="a regulator (6-digit GB/T 2260 jurisdiction) who handles problems; new key / 登记监管部门",
    )
    x.add_argument("regulator_id")
    x.add_argument("--name", required=True)
    x.add_argument("--key-out", help="write the key here (mode 0600) instead of printing it / 密钥写入文件")
    sa.set_defaults(func=run_admin)
    from .serve_node import add_parser as add_node_parser  # roucai serve node (simulators/node)

    add_node_parser(s, common)
    px = s.add_parser("proxy", parents=[common], help="HTTP fault-injecting proxy (conformance proofs) / 故障注入代理")
    px.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT on the loopback (default 127.0.0.1:0, any port)")
    px.add_argument("--to", required=True, help="the platform it forwards to, e.g. http://127.0.0.1:8553")
    px.add_argument("--defect", help="one defect of conformance/proofs/http_defects.toml (default: none, transparent)")
    px.add_argument("--seed", type=int, default=1, help="seed of the defect's choices (default 1)")
    px.add_argument("--keys", help="the nodes' keys (JSON of import-city --keys-out, or TOML [keys]) for re-signing")
    px.set_defaults(func=run_proxy)
    p.set_defaults(func=lambda args, con: (p.print_help(), 2)[1])


def _upstream_key(args) -> str | None:
    """The central platform's key: --upstream-key-file, else env ROUCAI_UPSTREAM_KEY, else --upstream-key."""
    path = getattr(args, "upstream_key_file", None)
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"无法读取上级平台密钥文件 {path}：{exc}", f"cannot read the upstream key file {path}: {exc}"
            )
    return os.environ.get("ROUCAI_UPSTREAM_KEY") or getattr(args, "upstream_key", None) or None


def _config(args):
    from profiles.profile import default_profile_name
    from simulators.platform.config import PlatformConfig

    return PlatformConfig(
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8553),
        db=args.db,
        role=getattr(args, "role", "city"),
        upstream=getattr(args, "upstream", None),
        platform_id=getattr(args, "platform_id", None),
        upstream_key=_upstream_key(args),
        secret_file=args.secret_file,
        profile=getattr(args, "profile", None) or default_profile_name(),
        max_body=getattr(args, "max_body", 8 * 1024 * 1024),
        feed_interval_s=getattr(args, "feed_interval", 60.0),
        log_level=getattr(args, "log_level", "info"),
        stop_ack_deadline_s=getattr(args, "stop_ack_deadline", 600.0),
        offline_after_s=getattr(args, "offline_after", None),
    )


def _usage_errors():
    from simulators.platform.config import ConfigError
    from simulators.platform.recordmap import RecordMapError
    from simulators.platform.registry import RegistryError
    from simulators.platform.secret import SecretError
    from simulators.platform.storage import StoreError

    return ConfigError, SecretError, StoreError, RegistryError, RecordMapError


def _as_usage(exc) -> UsageError:
    zh = getattr(exc, "zh", None) or f"{exc}"
    en = getattr(exc, "en", None) or f"{exc}"
    findings = getattr(exc, "findings", None) or []
    if findings:
        zh += "：" + "；".join(f.zh for f in findings)
        en += ": " + "; ".join(f.en for f in findings)
    if exc.__class__.__name__ == "StoreError":
        zh = f"数据库错误：{exc}"
    return UsageError(zh, en)


def run_proxy(args, con) -> int:
    """``roucai serve proxy``: see conformance/proofs/proxy.py and docs/proofs.md."""
    from conformance.proofs.proxy import serve

    try:
        serve(args.listen, args.to, args.defect, args.seed, args.keys)
    except OSError as exc:
        con.err(f"代理无法启动：{exc.strerror or exc}", f"the proxy cannot start: {exc.strerror or exc}")
        return EXIT_HARNESS
    return EXIT_OK


def _tls(args, cfg) -> None:
    """--tls-self-signed DIR / --tls-cert + --tls-key into the config (certificate made on request)."""
    from simulators.tls import self_signed

    cert, key, folder = (
        getattr(args, "tls_cert", None),
        getattr(args, "tls_key", None),
        getattr(args, "tls_self_signed", None),
    )
    if folder and (cert or key):
        raise UsageError(
            "--tls-self-signed 与 --tls-cert/--tls-key 不能同时使用", "--tls-self-signed excludes --tls-cert/--tls-key"
        )
    if folder:
        cert, key = (str(p) for p in self_signed(folder))
    cfg.tls_cert, cfg.tls_key = cert, key
    cfg.extra["serving"] = True


def run_platform(args, con) -> int:
    from simulators.platform import logs
    from simulators.platform.app import build_services, create_app
    from simulators.platform.server import build_server

    errors = _usage_errors()
    if getattr(args, "upstream_key", None):
        con.err(
            "警告：--upstream-key 写在命令行上，ps 可见；请改用 --upstream-key-file 或环境变量 ROUCAI_UPSTREAM_KEY",
            "warning: --upstream-key on the command line is visible in ps; use --upstream-key-file or the "
            "environment variable ROUCAI_UPSTREAM_KEY",
        )
    cfg = _config(args)
    _tls(args, cfg)
    try:
        svc = build_services(cfg)
    except errors as exc:
        raise _as_usage(exc) from None
    busy = port_in_use(cfg.host, cfg.port)
    if busy:  # one line before any log output (uvicorn would log it among JSON lines)
        con.err(f"无法监听 {cfg.host}:{cfg.port}：{busy}", f"cannot listen on {cfg.host}:{cfg.port}: {busy}")
        return EXIT_HARNESS
    logs.setup(cfg.log_level)
    server = build_server(cfg, create_app(cfg, svc))
    from simulators.platform.restart import RestartOnHangup, reexec, write_pid_file_when_listening

    pid_file = getattr(args, "pid_file", None)
    if pid_file:
        write_pid_file_when_listening(server, pid_file, getattr(cfg, "scheme", "http"))
    hup = RestartOnHangup(server)
    try:
        with hup:
            server.run()
    except OSError as exc:
        con.err(f"无法启动：{exc.strerror or exc}", f"cannot start: {exc.strerror or exc}")
        return EXIT_HARNESS
    if not server.started:
        con.err(f"无法监听 {cfg.host}:{cfg.port}", f"cannot listen on {cfg.host}:{cfg.port}")
        return EXIT_HARNESS
    if hup.requested:  # SIGHUP: stopped gracefully, now the same command line again, same pid
        reexec()
    if pid_file:
        Path(pid_file).unlink(missing_ok=True)
    return stopped_by_signal(con, server)


def run_restart(args, con) -> int:
    """``roucai serve restart --pid-file FILE``: SIGHUP the platform, wait until it is healthy again."""
    from simulators.platform.restart import RestartError, restart

    try:
        doc = restart(args.pid_file, args.timeout)
    except RestartError as exc:
        con.err(f"重启失败：{exc.zh}", f"restart failed: {exc.en}")
        return EXIT_HARNESS
    if con.as_json:
        con.json(doc)
    else:
        con.say(
            f"平台已重启：{doc['url']}（进程 {doc['pid']}）", f"platform restarted: {doc['url']} (pid {doc['pid']})"
        )
    return EXIT_OK


def _registry(args):
    from profiles import load_profile
    from simulators.platform.registry import Registry
    from simulators.platform.secret import PlatformSecret
    from simulators.platform.storage import open_store

    cfg = _config(args).validate()
    secret = PlatformSecret.load(cfg.resolved_secret_file(), create=True)
    store = open_store(cfg.db)
    return Registry(store, secret, load_profile(cfg.profile)), cfg


def _write_keys(path: str, keys: dict) -> None:
    """Atomically, mode 0600 even over an existing file with wider permissions."""
    from simulators.platform.admin import write_keys

    write_keys(path, keys)


def run_admin(args, con) -> int:
    action = getattr(args, "admin_cmd", None)
    if not action:
        raise UsageError(
            "请给出操作：init、register-node、issue-key…", "give an action: init, register-node, issue-key…"
        )
    errors = _usage_errors()
    try:
        reg, cfg = _registry(args)
        try:
            return _admin(action, args, con, reg, cfg)
        finally:
            reg.store.close()
    except errors as exc:
        raise _as_usage(exc) from None


def _admin(action, args, con, reg, cfg) -> int:
    out: dict
    if action == "init":
        out = {"db": reg.store.display_url, "secret_file": cfg.resolved_secret_file()}
        con.say(
            f"数据库与平台密钥已就绪：{out['db']}（密钥文件 {out['secret_file']}）",
            f"database and platform secret ready: {out['db']} (secret file {out['secret_file']})",
        )
    elif action == "register-node":
        n = reg.register_node(args.node, args.name, args.type)
        out = n.to_dict()
        con.say(
            f"已登记节点 {n.node_id} {n.name}（{n.node_type}）", f"registered node {n.node_id} {n.name} ({n.node_type})"
        )
    elif action == "register-city":
        from simulators.platform.admin import register_city

        entry, key = register_city(reg, args.city_id, args.name)
        out = {**entry, "key": key}
        con.say(
            f"已登记城市平台 {entry['node_id']}，密钥（仅显示一次）：{key}",
            f"registered city platform {entry['node_id']}; key (shown once): {key}",
        )
    elif action == "register-regulator":
        from simulators.platform.regulators import Regulators

        key = Regulators(reg.store, reg.secret, reg.profile).register(args.regulator_id, args.name)
        out = {"regulator_id": args.regulator_id, "name": args.name}
        if args.key_out:
            from simulators.platform.filemode import write_private

            try:
                write_private(args.key_out, (key + "\n").encode("utf-8"))
            except OSError as exc:  # the key is issued but unwritten: registering again issues a fresh one
                raise UsageError(
                    f"无法写入密钥文件 {args.key_out}：{exc.strerror or exc}（再次登记即换发新密钥）",
                    f"cannot write the key file {args.key_out}: {exc.strerror or exc} (register again for a new key)",
                ) from None
            out["key_out"] = args.key_out
            con.say(
                f"已登记监管部门 {args.regulator_id}，密钥已写入 {args.key_out}",
                f"registered regulator {args.regulator_id}; key written to {args.key_out}",
            )
        else:
            out["key"] = key
            con.say(
                f"已登记监管部门 {args.regulator_id}，密钥（仅显示一次）：{key}",
                f"registered regulator {args.regulator_id}; key (shown once): {key}",
            )
    elif action == "register-operator":
        out = reg.register_operator(args.operator, args.name, args.business_type, args.reg_id)
        con.say(f"已登记经营者 {args.operator}", f"registered operator {args.operator}")
    elif action == "set-enterprises":
        out = reg.set_enterprises(args.quarter, args.node_type, args.count)
        con.say(
            f"{args.quarter} {args.node_type} 应覆盖企业数：{args.count}",
            f"{args.quarter} {args.node_type}: {args.count} enterprises to cover",
        )
    elif action == "issue-key":
        key = reg.issue_key(args.node)
        out = {"node_id": args.node, "key": key}
        con.say(
            f"节点 {args.node} 的新密钥（旧密钥已作废，仅显示一次）：{key}",
            f"new key for {args.node} (the old one is revoked; shown once): {key}",
        )
    elif action in ("disable-node", "enable-node"):
        n = reg.set_status(args.node, "disabled" if action == "disable-node" else "active")
        out = n.to_dict()
        con.say(f"节点 {n.node_id} 状态：{n.status}", f"node {n.node_id} status: {n.status}")
    elif action == "list-nodes":
        out = {"nodes": [n.to_dict() for n in reg.nodes()]}
        for n in reg.nodes():
            con.say(
                f"{n.node_id}  {n.node_type:<22} key v{n.key_version} {n.key_fingerprint or '-':<12} "
                f"{n.status:<8} {n.name}"
            )
    elif action == "import-city":
        out = _import_city(args, con, reg)
    else:  # pragma: no cover - argparse restricts actions
        raise UsageError(f"未知操作 {action}", f"unknown action {action}")
    if con.as_json:
        con.json(out)
    return EXIT_OK


def _import_city(args, con, reg) -> dict:
    path = Path(args.city)
    try:
        city = json.loads(path.read_text("utf-8"))
        nodes, operators = city["nodes"], city["operators"]
    except FileNotFoundError:
        raise UsageError(f"找不到城市文件 {path}", f"city file not found: {path}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"{path} 不是城市文件（roucai fixtures city 的输出）",
            f"{path} is not a city file (output of roucai fixtures city)",
        ) from None
    from simulators.platform.admin import import_city

    try:
        result = import_city(reg, city)
    except (KeyError, TypeError):
        raise UsageError(
            f"{path} 不是城市文件（roucai fixtures city 的输出）",
            f"{path} is not a city file (output of roucai fixtures city)",
        ) from None
    keys = result.keys
    if result.disabled:  # no key to give: said, not written as null (a keys file with null is refused whole)
        off = "、".join(result.disabled)
        con.err(
            f"{len(result.disabled)} 个节点已停用，没有可用密钥，未列入密钥：{off}（enable-node 后再导入即可）",
            f"{len(result.disabled)} nodes are disabled and have no usable key, so they are left out of the keys: "
            f"{', '.join(result.disabled)} (enable-node, then import again)",
        )
    if args.keys_out:
        _write_keys(args.keys_out, keys)
    con.say(
        f"已导入 {len(nodes)} 个节点、{len(operators)} 个经营者"
        + (f"；密钥已写入 {args.keys_out}" if args.keys_out else ""),
        f"imported {len(nodes)} nodes and {len(operators)} operators"
        + (f"; keys written to {args.keys_out}" if args.keys_out else ""),
    )
    return {
        "nodes": len(nodes),
        "operators": len(operators),
        "keys_out": args.keys_out,
        "disabled": list(result.disabled),
        **({"keys": keys} if not args.keys_out else {}),
    }
