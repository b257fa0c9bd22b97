"""Phase ``operators`` (TRAN-UPL-08): one operator's telephone changes in each node's configuration; the nodes
are stopped, their configs rewritten, and started again on the same outboxes; the phase waits (bounded)
until each changed ``manager_base_info`` has been answered by the platform."""

from __future__ import annotations

import json
import time

from ..recorder import analyse_upload
from .node_config import write_config
from .node_process import node_ready, start_node, stop_nodes
from .settings import UPLOAD_PATH
from .state import SessionState


def run(sess: SessionState) -> None:
    """TRAN-UPL-08: one operator's telephone changes in each node's configuration (the nodes are stopped,
    their configs rewritten, and started again on the same outboxes); wait until each changed
    ``manager_base_info`` has been answered by the platform."""
    changed = [
        n
        for n in sess.nodes.values()
        if any(not o.code.endswith("0000") and o.code.startswith(n.code) for o in n.operators)
    ]
    stop_nodes(changed)
    for n in changed:
        op = min(
            (o for o in n.operators if not o.code.endswith("0000") and o.code.startswith(n.code)),
            key=lambda o: o.code,
        )
        tel = "139" + "".join(str(sess.rng.randint(0, 9)) for _ in range(8))
        n.operator_edits[op.code] = {"tel": tel}
        write_config(n, sess.platform.url, n.devices)
        n.operator_change = {"operator": op.code, "old_tel": op.phone, "tel": tel, "changed_at": time.time()}
        start_node(sess, n)
    for n in changed:
        sess._wait("operators", lambda n=n: node_ready(sess, n), 30, f"node {n.code} listening again")

    def reuploaded(n):
        want = n.operator_change
        for ex in sess.recorder.snapshot():
            if ex.method != "POST" or ex.path != UPLOAD_PATH or ex.t < want["changed_at"]:
                continue
            up = analyse_upload(sess.spec, ex, sess.keys.get)
            if up.node == n.code and up.rtype == "manager_base_info" and up.answered:
                for rec, v in zip(up.records, up.verdicts):
                    d = json.loads(rec)
                    if d.get("id") == want["operator"] and d.get("tel") == want["tel"] and v:
                        return True
        return False

    for n in changed:
        sess._wait(
            "operators",
            lambda n=n: reuploaded(n),
            15,
            f"node {n.code}: operator {n.operator_change['operator']}'s changed information uploaded",
        )
