"""``roucai serve node --config FILE``: run the reference node subsystem.

Added to ``roucai serve`` by :func:`add_parser` (called from ``serve.py``).  The
node reads its scales, accepts handheld uploads on its HTTP port and uploads to
the city platform until SIGINT/SIGTERM (graceful shutdown), logging JSON lines
on stderr; the first ``"event": "listening"`` line carries the real port.
``--check`` validates the configuration, prints a summary and exits.

Exit codes: 0 ok, 2 configuration error (message names the key), 3 cannot start.
"""

from __future__ import annotations

import sqlite3

from ..console import EXIT_HARNESS, EXIT_OK, UsageError
from ._listen import port_in_use, stopped_by_signal


def add_parser(sub, common) -> None:
    p = sub.add_parser("node", parents=[common], help="run the reference node / 运行参考节点子系统")
    p.add_argument("--config", required=True, help="node configuration (TOML) / 节点配置文件")
    p.add_argument("--host", help="bind address (overrides [server] host; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (overrides [server] port; 0 = any free port)")
    p.add_argument("--check", action="store_true", help="validate the configuration and exit / 只检查配置")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run_node)


def run_node(args, con) -> int:
    from simulators.node import logs
    from simulators.node.config import ConfigError, load_config
    from simulators.node.runtime import NodeRuntime
    from simulators.node.server import build_server

    try:
        cfg = load_config(args.config)
        if args.host is not None:
            import ipaddress

            try:
                ipaddress.ip_address(args.host)
            except ValueError:
                raise ConfigError(f"--host 应为 IP 地址：{args.host!r}", f"--host must be an IP address: {args.host!r}")
            cfg.host = args.host
        if args.port is not None:
            if not 0 <= args.port <= 65535:
                raise ConfigError(f"--port 超出范围：{args.port}", f"--port out of range: {args.port}")
            cfg.port = args.port
    except ConfigError as exc:
        raise UsageError(f"节点配置错误：{exc.zh}", f"node configuration error: {exc.en}") from None
    if args.check:
        summary = {
            "node": cfg.node_code,
            "name": cfg.node_name,
            "type": cfg.node_type,
            "platform": cfg.upload_url,
            "outbox": cfg.outbox_path,
            "devices": [{"id": d.id, "url": d.url} for d in cfg.devices],
            "max_count": cfg.max_count,
            "batch_wait_s": cfg.batch_wait_s,
            "backoff_s": [cfg.backoff_first_s, cfg.backoff_max_s],
            "listen": f"{cfg.host}:{cfg.port}",
        }
        if con.as_json:
            con.json(summary)
        else:
            con.say(
                f"配置有效：节点 {cfg.node_code} {cfg.node_name}，{len(cfg.devices)} 台电子秤，上传至 {cfg.upload_url}",
                f"configuration valid: node {cfg.node_code} {cfg.node_name}, {len(cfg.devices)} scale(s), "
                f"uploading to {cfg.upload_url}",
            )
        return EXIT_OK
    busy = port_in_use(cfg.host, cfg.port)
    if busy:  # one line before any log output
        con.err(f"无法监听 {cfg.host}:{cfg.port}：{busy}", f"cannot listen on {cfg.host}:{cfg.port}: {busy}")
        return EXIT_HARNESS
    logs.setup(args.log_level)
    try:
        runtime = NodeRuntime(cfg)
    except sqlite3.Error as exc:
        raise UsageError(
            f"无法打开发件箱 {cfg.outbox_path}：{exc}", f"cannot open the outbox {cfg.outbox_path}: {exc}"
        ) from None
    server = build_server(cfg, runtime)
    try:
        server.run()
    except OSError as exc:
        con.err(f"无法启动：{exc.strerror or exc}", f"cannot start: {exc.strerror or exc}")
        return EXIT_HARNESS
    if not server.started:
        con.err(f"无法监听 {cfg.host}:{cfg.port}", f"cannot listen on {cfg.host}:{cfg.port}")
        runtime.stop()
        return EXIT_HARNESS
    return stopped_by_signal(con, server)
