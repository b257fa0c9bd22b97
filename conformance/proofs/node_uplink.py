"""The reference node with one defect on its uplink: the HTTP proxy between the node and its platform.

``python -m conformance.proofs.node_uplink [--defect NAME] [--seed N] --config NODE.toml`` reads the node
configuration the harness wrote (``[node] code``, ``[platform] url`` and ``key``), starts the proxy
(:class:`~conformance.proofs.proxy.ProxyThread`, 127.0.0.1, a free port) towards that URL with the defect (none:
transparent) and the
node's key (so what it changes is signed, as a broken node would sign it), writes a copy of the configuration
pointing at the proxy, and runs ``roucai serve node`` on that copy until it ends; SIGTERM and SIGINT are passed
on to the node.  The exit status is the node's.  As a capability statement's start command::

    start_command = "{python} -m conformance.proofs.node_uplink --defect node-request-time-utc --config {config}"

Exit 2 for a usage error (unknown defect, unreadable configuration), with one bilingual line on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

from .proxy import ProxyError, ProxyThread


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance.proofs.node_uplink")
    ap.add_argument("--defect", default=None, help="a node-side defect of http_defects.toml (default: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", required=True)
    args = ap.parse_args(argv)
    path = Path(args.config)
    try:
        text = path.read_text("utf-8")
        cfg = tomllib.loads(text)
        url, key, code = cfg["platform"]["url"], cfg["platform"]["key"], cfg["node"]["code"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        print(f"无法读取节点配置 {path} / cannot read the node configuration {path}: {exc}", file=sys.stderr)
        return 2
    try:
        proxy = ProxyThread(url, args.defect, args.seed, {code: key}).start()
    except ProxyError as exc:
        print(f"{exc.zh} / {exc.en}", file=sys.stderr)
        return 2
    via = path.with_name(path.stem + ".via-proxy.toml")
    via.write_text(text.replace(f"url = {json.dumps(url)}", f"url = {json.dumps(proxy.url)}", 1), "utf-8")
    print(json.dumps({"event": "uplink-proxy", "url": proxy.url, "to": url, "defect": args.defect}), flush=True)
    node = subprocess.Popen([sys.executable, "-m", "roucai.cli", "serve", "node", "--config", str(via)])

    def relay(sig, _frame):
        node.send_signal(sig)

    signal.signal(signal.SIGTERM, relay)
    signal.signal(signal.SIGINT, relay)
    try:
        return node.wait()
    finally:
        proxy.stop()


if __name__ == "__main__":
    sys.exit(main())
