"""Durable replay memory for signed requests (issue 13, finding 6): it survives a restart.

The key of a signed request (``X-Node-Id``, ``X-Request-Time``, ``X-Verify-Code``; see :mod:`.nodeauth`) goes into
the platform's ``requests`` table, the same table that remembers envelope keys (:mod:`.ingest`).  The two cannot
collide: a request signature is computed with the fixed Index ``HTTP``, which no envelope has.  Rows older than
twice the replay window are pruned with the envelope keys (:meth:`.ingest.Ingestor._maybe_prune`); an older
request fails the clock window anyway.
"""

from __future__ import annotations

from .clock import now_ms
from .storage import Store


class StoredReplayMemory:
    """``seen_first(node, request_time, verify_code) -> bool``: True the first time a key is offered, False after."""

    def __init__(self, store: Store):
        self.store = store

    def seen_first(self, node_id: str, request_time: str, verify_code: str) -> bool:
        """Durable before it returns (the key is committed, in a group commit shared with concurrent writers)."""

        def remember(tx) -> int:
            return tx.execute(
                "INSERT INTO requests (node_id, request_time, verify_code, received_ms, accepted,"
                " duplicate, rejected) VALUES (?, ?, ?, ?, 0, 0, 0)"
                " ON CONFLICT (node_id, request_time, verify_code) DO NOTHING",
                (node_id, request_time, verify_code.lower(), now_ms()),
            )

        return self.store.grouped(remember) != 0
