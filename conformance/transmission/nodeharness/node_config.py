"""The node TOML the harness writes for each node under test, in the reference node's format: its
identity, its operators (with the edits of the ``operators`` phase), the platform's URL and the node's key,
the outbox, the scaled-down upload timings of :data:`~.settings.UPLOAD_CFG`, the stop-trade poll, the
node's port, and one ``[[devices]]`` table per scale."""

from __future__ import annotations

import json

from .settings import STOP_POLL_S, UPLOAD_CFG
from .under_test import NodeUnderTest


def write_config(n: NodeUnderTest, platform_url: str, devices: list[dict]) -> None:
    """Write (overwrite) ``n.config``."""
    d = json.dumps
    out = [f"[node]\ncode = {d(n.code)}\nname = {d(n.name)}\ntype = {d(n.node_type)}\n"]
    for o in n.operators:
        details = {
            "property": "1" if o.kind == "company" else "2",
            "type": o.business_type,
            "reg_id": o.uscc,
            "tel": o.phone,
            **n.operator_edits.get(o.code, {}),
        }
        out.append(
            f"[[operators]]\ncode = {d(o.code)}\nname = {d(o.name)}\n"
            + "".join(f"{k} = {d(v)}\n" for k, v in details.items() if v)
        )
    out.append(f"[platform]\nurl = {d(platform_url)}\nkey = {d(n.key)}\ntimeout_s = 5\n")
    out.append(f"[outbox]\npath = {d(str(n.workdir / 'outbox.db'))}\n")
    out.append("[upload]\n" + "".join(f"{k} = {d(v)}\n" for k, v in UPLOAD_CFG.items()))
    out.append(f"[stoptrade]\npoll_s = {STOP_POLL_S}\n[server]\nport = {n.port}\n")
    for dev in devices:
        out.append("[[devices]]\n" + "".join(f"{k} = {d(v)}\n" for k, v in dev.items()))
    n.config.write_text("\n".join(out), "utf-8")
