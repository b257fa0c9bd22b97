"""NODE-WHOL-05 in phase ``handheld``: the node loads the batches entered through its handheld intake onto its
bound scales; the harness waits for each push (bounded) and records when it saw it and the scale's table."""

from __future__ import annotations

import time

from .settings import PUSH_WAIT_S
from .state import SessionState
from .waiting import wait_for


def run(sess: SessionState, timeout: float = PUSH_WAIT_S) -> None:
    """NODE-WHOL-05: wait (bounded) until the node has loaded each scale's batch from the entry records it
    took in; a batch not pushed in time is loaded by the harness (``pushed_at`` stays ``None``) so the rest
    of the scenario runs; the test judges it."""
    waiting = [b for b in sess._scales() if not b.pushed_at and sess.with_handheld]

    def held(b):
        with b.runner.lock:
            table = b.model.store.batches()
        if any(x["batch_trace"] == b.batch for x in table):
            b.pushed_at, b.table_at_push = time.time(), table
            return True
        return False

    wait_for(lambda: all([held(b) for b in waiting if not b.pushed_at]), timeout)
    for b in waiting:
        if not b.pushed_at:
            b.load_entry()
