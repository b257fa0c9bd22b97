"""The reference node with one defect installed from outside (:mod:`.node_faults`): the proof's launcher.

``python -m conformance.proofs.node_variant NAME --config NODE.toml [--host H] [--port P] [--log-level L]
[--lang en]`` runs the node as ``roucai serve node --config NODE.toml`` does (JSON log lines on stderr, the
first a ``broken_variant`` warning, then ``listening`` with the real port; SIGINT/SIGTERM stop it
gracefully), except that its runtime is ``FAULTS[NAME]``: the clean node's parts with one replaced.
``NAME`` is a node switch of ``conformance/variants.toml``; ``--list`` prints them, one a line.  As a
capability statement's start command::

    start_command = "{python} -m conformance.proofs.node_variant no-backoff --config {config}"

The built-in target uses it for ``--target builtin?variant=NAME`` (``conformance/transmission/conftest_node.py``).

Exit codes: 2 usage (unknown defect, bad configuration; one line, zh by default, en with ``--lang en``),
3 stopped by a signal or could not listen, 0 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys

from simulators.node import logs
from simulators.node.config import ConfigError, load_config
from simulators.node.server import build_server

from .node_faults import FAULTS

EXIT_OK, EXIT_USAGE, EXIT_HARNESS = 0, 2, 3


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m conformance.proofs.node_variant")
    ap.add_argument("name", nargs="?", help="a node defect (conformance/variants.toml, actor node) / 节点缺陷名")
    ap.add_argument("--list", action="store_true", help="print the defect names and exit / 列出缺陷名")
    ap.add_argument("--config", help="node configuration (TOML) / 节点配置文件")
    ap.add_argument("--host", help="bind address (overrides [server] host)")
    ap.add_argument("--port", type=int, help="port (overrides [server] port; 0 = any free port)")
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    ap.add_argument("--lang", default="zh", choices=["zh", "en"])
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def say(zh: str, en: str) -> None:
        print(en if args.lang == "en" else zh, file=sys.stderr, flush=True)

    if args.list:
        print("\n".join(sorted(FAULTS)))
        return EXIT_OK
    runtime_class = FAULTS.get(args.name)
    if runtime_class is None or not args.config:
        known = ", ".join(sorted(FAULTS))
        say(
            f"用法：python -m conformance.proofs.node_variant 缺陷名 --config 节点配置；未知的缺陷「{args.name}」？可选：{known}",
            f"usage: python -m conformance.proofs.node_variant NAME --config NODE.toml; unknown defect {args.name!r}? "
            f"known: {known}",
        )
        return EXIT_USAGE
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        say(f"节点配置错误：{exc.zh}", f"node configuration error: {exc.en}")
        return EXIT_USAGE
    cfg.host = args.host or cfg.host
    cfg.port = cfg.port if args.port is None else args.port
    logs.setup(args.log_level)
    try:
        runtime = runtime_class(cfg)
    except sqlite3.Error as exc:
        say(f"无法打开发件箱 {cfg.outbox_path}：{exc}", f"cannot open the outbox {cfg.outbox_path}: {exc}")
        return EXIT_USAGE
    logs.event("broken_variant", logging.WARNING, variant=args.name, runtime=runtime_class.__name__)
    server = build_server(cfg, runtime)
    try:
        server.run()
    except OSError as exc:
        say(f"无法启动：{exc.strerror or exc}", f"cannot start: {exc.strerror or exc}")
        return EXIT_HARNESS
    if not server.started:
        runtime.stop()
        say(f"无法监听 {cfg.host}:{cfg.port}", f"cannot listen on {cfg.host}:{cfg.port}")
        return EXIT_HARNESS
    return EXIT_HARNESS if server.stop_signal else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
