"""Node monitoring: last contact, last upload, online/offline.

A node is ``online`` if the platform heard from it (an accepted envelope or
any signed request) within ``offline_after_s`` (``platform.toml [monitor]``,
15 min after practice), ``offline`` if it was heard from before that,
``never`` if it never was, and ``disabled`` if an administrator disabled it.
"""

from __future__ import annotations

from .clock import cst_iso, now_ms
from .storage import Store


class Monitor:
    def __init__(self, store: Store, offline_after_s: int):
        self.store = store
        self.offline_after_ms = int(offline_after_s) * 1000

    def touch(self, node_id: str) -> None:
        with self.store.write() as tx:
            tx.execute("UPDATE nodes SET last_seen_ms = ? WHERE node_id = ?", (now_ms(), node_id))

    def status_of(self, status: str, last_seen: int | None, now: int) -> str:
        if status != "active":
            return "disabled"
        if last_seen is None:
            return "never"
        return "online" if now - last_seen <= self.offline_after_ms else "offline"

    def nodes(self, node_id: str | None = None) -> list[dict]:
        now = now_ms()
        sql = (
            "SELECT node_id, name, node_type, region_code, status, last_seen_ms, last_upload_ms, key_version FROM nodes"
        )
        params: tuple = ()
        if node_id:
            sql += " WHERE node_id = ?"
            params = (node_id,)
        with self.store.read() as tx:
            rows = tx.all(sql + " ORDER BY node_id", params)
        out = []
        for nid, name, ntype, region, status, seen, upload, kv in rows:
            out.append(
                {
                    "node_id": nid,
                    "name": name,
                    "node_type": ntype,
                    "region_code": region,
                    "state": self.status_of(status, seen, now),
                    "key_issued": kv > 0,
                    "last_seen": cst_iso(seen),
                    "last_upload": cst_iso(upload),
                    "silent_s": None if seen is None else round((now - seen) / 1000, 1),
                }
            )
        return out

    def summary(self) -> dict:
        counts = {"online": 0, "offline": 0, "never": 0, "disabled": 0}
        for n in self.nodes():
            counts[n["state"]] += 1
        return {"offline_after_s": self.offline_after_ms // 1000, **counts}
