"""Phase ``outage``: the harness platform is stopped; sales and a handheld backlog larger than the profile's
Count limit arrive meanwhile; what each scale holds unacknowledged is recorded (NODE-DEV-01); the platform
is started again (same port, same database) and the phase waits (bounded) until everything is there."""

from __future__ import annotations

import time

import httpx

from ..recorder import canon_stored
from .handheld import post_handheld
from .settings import OUTAGE_SALES
from .state import SessionState


def run(sess: SessionState) -> None:
    retail = next((n for n in sess.nodes.values() if n.role == "retail"), None)
    sess.platform.stop()
    t_down = time.time()
    for b in sess._scales():
        for _ in range(OUTAGE_SALES):
            b.sell(sess.rng, "outage")
    if retail is not None and sess.with_handheld:
        # lots registered while the platform is down: more than one envelope's Count limit, each a lot the
        # retailer took in without an upstream ledger (its batch code issued by the retailer itself)
        rtype = "retail_market_in_info_base"
        tmpls = [r["data"] for r in sess.day_records if r["node"] == retail.code and r["type"] == rtype]
        codes = sess.profile.codes
        recs = []
        for i in range(sess.spec.max_count + 100):
            t = tmpls[i % len(tmpls)]
            own = codes.trace_code(t["retailer_id"], 5_000_000 + i)
            recs.append({**t, "batch_id": own, **({"tran_id": own} if "tran_id" in t else {})})
        with httpx.Client(timeout=10, trust_env=False) as c:
            post_handheld(sess, c, retail, rtype, recs)
        sess.backlog = [canon_stored(sess.spec, rtype, r) for r in recs]
    # the node must not acknowledge to its scales what the platform has not answered (NODE-DEV-01)
    time.sleep(max(0.0, 1.5 - (time.time() - t_down)))
    for b in sess._scales():
        with b.runner.lock:
            b.unacked_during_outage = b.model.store.unacked_count()
    sess.platform.start()
    sess.platform_down.append((t_down, time.time()))
    sess._wait("outage", sess._all_at_platform, 40, "every record at the platform after the outage")
