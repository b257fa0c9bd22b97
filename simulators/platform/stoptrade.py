"""Stop-trade broadcast: a failed wholesale test stops its batch at every downstream holder.

Source (standards.md §3.3, 2010 construction spec, wholesale step 3): if a test
fails, 「自动向下游各环节发送中止交易的指令」.  How the instruction travels is
the platform's own design (evidence ``profile``):

* A ``qmarket_detection_info`` record whose ``detection_result`` is a fail
  value (``platform.toml [stoptrade]``) stops the batch it names: its upstream
  trace code, else its local ``batch_id`` at the testing node.
* Only a node whose role may test (``tester_roles``) may stop trade, and only
  for a batch it received (:meth:`StopTrade.refusal`); otherwise the ingest
  rejects the test record with reason 2012 (issue 13).
* The *closure* of the stop: the batch code, every trace code issued from it
  (a wholesale trade line whose batch is the stopped code), recursively.
  Every node other than the testing node holding a record received under a
  code of the closure gets one instruction per (node, code).
* Records arriving later under a stopped code extend the closure and create
  their instructions in the same ingest transaction, so a holder is never
  missed because its entry record came after the test.
* Nodes fetch their pending instructions (``GET /api/v1/stoptrade``, signed)
  and acknowledge each (``POST /api/v1/stoptrade/{id}/ack``); the platform
  records the acknowledgement time.  Every function here runs inside the
  caller's transaction.
"""

from __future__ import annotations

from .storage import Tx

_COLS = "id, node_id, batch_code, root_code, goods_code, source_node, source_record, reason, created_ms, acked_ms"
_KEYS = [c.strip() for c in _COLS.split(",")]


class StopTrade:
    def __init__(self, rules: dict, codes):
        st = rules.get("stoptrade", {})
        self.record = st.get("record", "qmarket_detection_info")
        self.result_field = st.get("result_field", "detection_result")
        self.fail_values = set(st.get("fail_values", ["0"]))
        self.max_codes = int(st.get("max_codes", 100000))
        self.tester_roles = frozenset(st.get("tester_roles", ["wholesale"]))
        self.codes = codes

    def is_failure(self, rtype: str, rec: dict) -> bool:
        return rtype == self.record and rec.get(self.result_field) in self.fail_values

    def refusal(
        self, tx: Tx, node: str, role: str | None, rec: dict, upstream: str | None, record_type: str
    ) -> tuple[str, str] | None:
        """Why ``node`` (of ``role``) may not stop the batch of the failed test ``rec``: ``(zh, en)``, or ``None``.

        Allowed only for a role in ``tester_roles`` and a batch the node received: one of its own records of
        another type names the batch (as upstream trace code, or as its local ``batch_id``)."""
        if role not in self.tester_roles:
            return (
                f"节点角色「{role or '未登记'}」不是检测环节，不能发起中止交易",
                f"a node of role {role or 'unregistered'!r} does not test goods and may not stop trade",
            )
        root = upstream or rec.get("batch_id")
        col = "upstream" if upstream else "batch_local"
        held = (
            tx.one(
                f"SELECT 1 FROM records WHERE node_id = ? AND {col} = ? AND rtype <> ? LIMIT 1",
                (node, root, record_type),
            )
            if root
            else None
        )
        if held is None:
            return (
                f"本节点未收到批次「{(root or '')[:40]}」，不能中止其交易",
                f"this node never received batch {(root or '')[:40]!r} and may not stop its trade",
            )
        return None

    @staticmethod
    def _instruct(
        tx: Tx, node: str, code: str, root: str, goods: str | None, src_node: str, src_rec: int, reason: str, now: int
    ) -> None:
        tx.execute(
            "INSERT INTO stop_instructions (node_id, batch_code, root_code, goods_code, source_node,"
            " source_record, reason, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (node_id, batch_code) DO NOTHING",
            (node, code, root, goods, src_node, src_rec, reason, now),
        )

    def broadcast(self, tx: Tx, src_node: str, src_record: int, rec: dict, upstream: str | None, now: int) -> int:
        """Start a stop for the batch of a failed test record; returns the number of codes stopped."""
        root = upstream or rec.get("batch_id")
        if not root:
            return 0
        reason = (
            f"{rec.get('detection_date', '')} {rec.get('market_name', src_node)} 检测不合格："
            f"{rec.get('goods_name', '')} {rec.get('result_expl', '')}"
        ).strip()
        goods = rec.get("goods_code")
        tx.execute(
            "INSERT INTO stop_roots (root_code, source_node, source_record, goods_code, reason, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (root_code) DO NOTHING",
            (root, src_node, src_record, goods, reason, now),
        )
        queue, stopped = [root], 0
        local_root = upstream is None
        while queue and stopped < self.max_codes:
            code = queue.pop()
            tx.execute(
                "INSERT INTO stop_codes (code, root_code, created_ms) VALUES (?, ?, ?) ON CONFLICT (code) DO NOTHING",
                (code, root, now),
            )
            stopped += 1
            if local_root and code == root:  # a local batch number means something only at the testing node
                rows = tx.all(
                    "SELECT id, node_id, own_code FROM records WHERE batch_local = ? AND node_id = ?"
                    " AND upstream IS NULL",
                    (code, src_node),
                )
            else:
                rows = tx.all("SELECT id, node_id, own_code FROM records WHERE upstream = ?", (code,))
            for _rid, node, own in rows:
                if node != src_node:
                    self._instruct(tx, node, code, root, goods, src_node, src_record, reason, now)
                if own and own != code and tx.one("SELECT 1 FROM stop_codes WHERE code = ?", (own,)) is None:
                    queue.append(own)
        return stopped

    @staticmethod
    def stopped(tx: Tx, codes) -> dict[str, str]:
        """``{code: root code}`` for those of ``codes`` under a stop (one query per :attr:`~.storage.Tx.CHUNK`
        codes): what :meth:`on_record` may be given as ``known`` for records arriving under these codes."""
        return dict(tx.all_in("SELECT code, root_code FROM stop_codes WHERE code IN ({marks})", (), sorted(codes)))

    def on_record(
        self,
        tx: Tx,
        node: str,
        record_id: int,
        upstream: str | None,
        own: str | None,
        now: int,
        known: dict[str, str] | None = None,
    ) -> None:
        """A record just stored: if it arrived under a stopped code, instruct its node and extend the stop.

        ``known``: :meth:`stopped` of the upstream codes of the records about to be passed here, taken after
        the last :meth:`broadcast`; this method keeps it up to date with the codes it stops, so a run of
        records needs no query per record (the answers are those of the database: every other write to
        ``stop_codes`` is a :meth:`broadcast`).  ``None``: ask the database."""
        if not upstream:
            return
        if known is None:
            row = tx.one("SELECT root_code FROM stop_codes WHERE code = ?", (upstream,))
            root = row[0] if row is not None else None
        else:
            root = known.get(upstream)
        if root is None:
            return
        src = tx.one(
            "SELECT source_node, source_record, reason, goods_code FROM stop_roots WHERE root_code = ?", (root,)
        )
        if node != src[0]:
            self._instruct(tx, node, upstream, root, src[3], src[0], src[1], src[2], now)
        if own:
            tx.execute(
                "INSERT INTO stop_codes (code, root_code, created_ms) VALUES (?, ?, ?) ON CONFLICT (code) DO NOTHING",
                (own, root, now),
            )
            if known is not None:
                known.setdefault(own, root)  # a code stopped before keeps its root, as ON CONFLICT DO NOTHING does

    # -- node side -------------------------------------------------------------
    @staticmethod
    def pending(tx: Tx, node: str, limit: int = 500) -> list[dict]:
        rows = tx.all(
            f"SELECT {_COLS} FROM stop_instructions WHERE node_id = ? AND acked_ms IS NULL ORDER BY id LIMIT ?",
            (node, limit),
        )
        return [dict(zip(_KEYS, r)) for r in rows]

    @staticmethod
    def ack(tx: Tx, node: str, instruction_id: int, now: int) -> str:
        """``acked`` (now), ``already`` (acknowledged before) or ``unknown`` (no such instruction for node)."""
        row = tx.one("SELECT acked_ms FROM stop_instructions WHERE id = ? AND node_id = ?", (instruction_id, node))
        if row is None:
            return "unknown"
        if row[0] is not None:
            return "already"
        tx.execute("UPDATE stop_instructions SET acked_ms = ? WHERE id = ?", (now, instruction_id))
        return "acked"

    @staticmethod
    def flag_overdue(items: list[dict], now: int, deadline_ms: int) -> int:
        """Mark each listed instruction ``overdue`` (not acknowledged within ``deadline_ms`` of its creation,
        judged at ``now``); returns how many are overdue and still unacknowledged (the alert)."""
        alerts = 0
        for i in items:
            until = i["acked_ms"] if i["acked_ms"] is not None else now
            i["overdue"] = until - i["created_ms"] > deadline_ms
            alerts += i["overdue"] and i["acked_ms"] is None
        return alerts

    @staticmethod
    def listing(tx: Tx, root: str | None = None, limit: int = 1000) -> list[dict]:
        if root:
            rows = tx.all(
                f"SELECT {_COLS} FROM stop_instructions WHERE root_code = ? ORDER BY id LIMIT ?", (root, limit)
            )
        else:
            rows = tx.all(f"SELECT {_COLS} FROM stop_instructions ORDER BY id LIMIT ?", (limit,))
        return [dict(zip(_KEYS, r)) for r in rows]
