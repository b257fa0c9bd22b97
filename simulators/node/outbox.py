"""The node's durable outbox: SQLite, WAL, ``synchronous=FULL``; survives kill -9.

Every record the node will upload is a row, added in the same transaction as
what produced it (a scale's read cursor, a handheld envelope), so after a crash
at any instant a record is either in the outbox or will be read again; and it
is in it at most once (``source_key`` is unique: ``sale:<trace code>:<type>`` for
scale lines, ``rec:<sha256 of type + record>`` for handheld uploads).

States (TRAN-UPL-03/04/06)::

    pending --claim--> sent --accepted/duplicate--> acknowledged
                        |  --rejected (reason kept, never resent)--> rejected
                        +--transport failure / refusal / crash--> pending
    invalid: failed the profile's checks on entry; kept with its findings, never sent

On open, rows left ``sent`` by a crash go back to ``pending``: the node does not
know whether the platform stored them, so it sends them again in a new envelope
and the platform answers ``duplicate`` for those it had (no loss, no duplicate).

Also kept here: each scale's read cursor and acknowledged index, the
certificates seen per batch code (for the meat rule of sale records), and
stop-trade instructions with their delivery state.  Thread-safe (one
connection behind a lock).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from profiles import Finding

from simulators.platform.filemode import private_file

from .sales import certificates_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, rtype TEXT NOT NULL, data_date TEXT NOT NULL, body TEXT NOT NULL,
  source TEXT NOT NULL, source_key TEXT NOT NULL UNIQUE, device_index INTEGER,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, verdict TEXT, reason TEXT, field TEXT, message TEXT,
  created_ms INTEGER NOT NULL, sent_ms INTEGER, done_ms INTEGER);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, id);
CREATE INDEX IF NOT EXISTS outbox_device ON outbox(source, device_index) WHERE device_index IS NOT NULL;
CREATE TABLE IF NOT EXISTS cursors (device TEXT PRIMARY KEY, next_index INTEGER NOT NULL,
  acked_index INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS batch_certs (code TEXT PRIMARY KEY, certs TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stop_instructions (id INTEGER PRIMARY KEY, batch_code TEXT NOT NULL, reason TEXT NOT NULL,
  received_ms INTEGER NOT NULL, applied_ms INTEGER, acked_ms INTEGER, devices TEXT NOT NULL DEFAULT '[]');
"""
STATES = ("pending", "sent", "acknowledged", "rejected", "invalid")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Item:
    """One record offered to the outbox."""

    rtype: str
    record: dict[str, str]
    data_date: str
    source: str
    source_key: str
    device_index: int | None = None
    findings: tuple[Finding, ...] = ()  #: error findings: the row is stored ``invalid``


@dataclass(slots=True)
class Batch:
    """Rows claimed for one envelope: one record type and one business date, in id order."""

    rtype: str
    data_date: str
    ids: list[int]
    records: list[dict[str, str]]


def content_key(rtype: str, record: dict[str, str]) -> str:
    body = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "rec:" + hashlib.sha256(f"{rtype}\n{body}".encode("utf-8", "surrogatepass")).hexdigest()


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        private_file(self.path)  # 0600: SQLite gives the -wal / -shm files the same mode
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        with self._tx():
            self.recovered = self.db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sent'").rowcount

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _tx(self) -> _Tx:
        return _Tx(self.db, self._lock)

    # -- adding -----------------------------------------------------------------
    def add(self, items: list[Item], cursor: tuple[str, int] | None = None) -> list[tuple[str, int | None]]:
        """Store ``items`` (and move ``cursor`` = (device, next_index)) in one transaction.

        Returns per item ``("queued" | "duplicate" | "invalid", row id)``; a duplicate is
        an item whose ``source_key`` is already stored (its row id is returned).
        """
        out = []
        t = now_ms()
        with self._tx():
            for it in items:
                body = json.dumps(it.record, ensure_ascii=False, separators=(",", ":"))
                state = "invalid" if it.findings else "pending"
                f = it.findings[0] if it.findings else None
                cur = self.db.execute(
                    "INSERT INTO outbox (rtype, data_date, body, source, source_key, device_index, state, verdict,"
                    " reason, field, message, created_ms, done_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (source_key) DO NOTHING",
                    (
                        it.rtype,
                        it.data_date,
                        body,
                        it.source,
                        it.source_key,
                        it.device_index,
                        state,
                        "invalid" if f else None,
                        f.rule if f else None,
                        f.field if f else None,
                        f.zh if f else None,
                        t,
                        t if f else None,
                    ),
                )
                if cur.rowcount == 0:
                    rid = self.db.execute("SELECT id FROM outbox WHERE source_key = ?", (it.source_key,)).fetchone()[0]
                    out.append(("duplicate", rid))
                    continue
                out.append((state, cur.lastrowid))
                certs = certificates_of(it.record)
                if certs and not f:
                    for code in {it.record.get("batch_id"), it.record.get("tran_id")} - {None, ""}:
                        self.db.execute(
                            "INSERT INTO batch_certs (code, certs) VALUES (?, ?) ON CONFLICT (code)"
                            " DO UPDATE SET certs = excluded.certs",
                            (code, json.dumps(certs)),
                        )
            if cursor is not None:
                self.db.execute(
                    "INSERT INTO cursors (device, next_index) VALUES (?, ?) ON CONFLICT (device)"
                    " DO UPDATE SET next_index = excluded.next_index",
                    cursor,
                )
        return out

    def batch_certificates(self, code: str) -> dict[str, str]:
        with self._lock:
            row = self.db.execute("SELECT certs FROM batch_certs WHERE code = ?", (code,)).fetchone()
        return json.loads(row[0]) if row else {}

    # -- uploading ----------------------------------------------------------------
    def claim(self, max_count: int, wait_ms: int, now: int | None = None) -> Batch | None:
        """The next envelope's rows (marked ``sent``), or ``None``.

        The group is :meth:`next_group`'s.  A group smaller than ``max_count`` waits
        until its oldest row is ``wait_ms`` old (TRAN-UPL-02).
        """
        now = now_ms() if now is None else now
        with self._tx():
            head = self.next_group()
            if head is None:
                return None
            rtype, ddate, created = head
            rows = self.db.execute(
                "SELECT id, body FROM outbox WHERE state = 'pending' AND rtype = ? AND data_date = ?"
                " ORDER BY id LIMIT ?",
                (rtype, ddate, max_count),
            ).fetchall()
            if len(rows) < max_count and now - created < wait_ms:
                return None
            ids = [r[0] for r in rows]
            self.db.executemany(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_ms = ? WHERE id = ?",
                [(now, i) for i in ids],
            )
        return Batch(rtype, ddate, ids, [json.loads(r[1]) for r in rows])

    def next_group(self) -> tuple[str, str, int] | None:
        """``(record type, business date, created_ms)`` of the group to send next, or ``None`` (nothing pending).

        The oldest pending row's group, so records go in the order they arrived (TRAN-UPL-05).  Called by
        :meth:`claim` inside its transaction."""
        with self._lock:
            head: tuple[str, str, int] | None = self.db.execute(
                "SELECT rtype, data_date, created_ms FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1"
            ).fetchone()
            return head

    def release(self, ids: list[int]) -> None:
        """The envelope did not get a per-record answer: back to ``pending``."""
        with self._tx():
            self.db.executemany(
                "UPDATE outbox SET state = 'pending' WHERE id = ? AND state = 'sent'", [(i,) for i in ids]
            )

    def settle(self, ids: list[int], verdicts: list[tuple[str, str, str | None, str | None]]) -> None:
        """Per-record verdicts ``(verdict, reason, field, message)`` in the order of ``ids``."""
        t = now_ms()
        with self._tx():
            for i, (verdict, reason, field, message) in zip(ids, verdicts):
                state = "rejected" if verdict == "rejected" else "acknowledged"
                self.db.execute(
                    "UPDATE outbox SET state = ?, verdict = ?, reason = ?, field = ?, message = ?,"
                    " done_ms = ? WHERE id = ? AND state = 'sent'",
                    (state, verdict, reason, field, message, t, i),
                )

    # -- scales ---------------------------------------------------------------------
    def cursor(self, device: str) -> tuple[int, int]:
        """``(next_index to read, index acknowledged to the scale)`` (``(1, 0)`` for a new device)."""
        with self._lock:
            row = self.db.execute("SELECT next_index, acked_index FROM cursors WHERE device = ?", (device,)).fetchone()
        return (row[0], row[1]) if row else (1, 0)

    def reset_cursor(self, device: str) -> None:
        with self._tx():
            self.db.execute("DELETE FROM cursors WHERE device = ?", (device,))

    def ackable_index(self, source: str) -> int:
        """Highest scale index whose records (and all before it) have a final verdict (0: none)."""
        with self._lock:
            open_min: int | None = self.db.execute(
                "SELECT MIN(device_index) FROM outbox WHERE source = ? AND device_index IS NOT"
                " NULL AND state IN ('pending', 'sent')",
                (source,),
            ).fetchone()[0]
            if open_min is not None:
                return open_min - 1
            done: int | None = self.db.execute(
                "SELECT MAX(device_index) FROM outbox WHERE source = ? AND device_index IS NOT NULL", (source,)
            ).fetchone()[0]
        return done or 0

    def set_acked(self, device: str, index: int) -> None:
        with self._tx():
            self.db.execute("UPDATE cursors SET acked_index = ? WHERE device = ?", (index, device))

    # -- stop-trade -------------------------------------------------------------------
    def remember_stop(self, instruction_id: int, batch_code: str, reason: str) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO stop_instructions (id, batch_code, reason, received_ms) VALUES (?,?,?,?)"
                " ON CONFLICT (id) DO NOTHING",
                (instruction_id, batch_code, reason, now_ms()),
            )

    def stop_applied(self, instruction_id: int, devices: list[str]) -> None:
        with self._tx():
            self.db.execute(
                "UPDATE stop_instructions SET applied_ms = ?, devices = ? WHERE id = ?",
                (now_ms(), json.dumps(devices), instruction_id),
            )

    def stop_acked(self, instruction_id: int) -> None:
        with self._tx():
            self.db.execute("UPDATE stop_instructions SET acked_ms = ? WHERE id = ?", (now_ms(), instruction_id))

    def stopped_batches(self) -> dict[str, str]:
        """Every batch code the platform told this node to stop -> reason."""
        with self._lock:
            return dict(self.db.execute("SELECT batch_code, reason FROM stop_instructions ORDER BY id"))

    def stop_instructions(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT id, batch_code, reason, received_ms, applied_ms, acked_ms, devices"
                " FROM stop_instructions ORDER BY id"
            ).fetchall()
        return [
            {
                "id": r[0],
                "batch_code": r[1],
                "reason": r[2],
                "received_ms": r[3],
                "applied_ms": r[4],
                "acked_ms": r[5],
                "devices": json.loads(r[6]),
            }
            for r in rows
        ]

    # -- reporting ----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            got = dict(self.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        return {s: got.get(s, 0) for s in STATES}

    def rows_of_type(self, rtype: str, after_id: int = 0) -> list[dict[str, Any]]:
        """Every row of one record type (any state) with an id above ``after_id``, oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT id, state, body FROM outbox WHERE rtype = ? AND id > ? ORDER BY id", (rtype, after_id)
            ).fetchall()
        return [{"id": r[0], "state": r[1], "record": json.loads(r[2])} for r in rows]

    def rows(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = (
            "SELECT id, rtype, data_date, body, source, device_index, state, attempts, verdict, reason, field,"
            " message, created_ms, sent_ms, done_ms FROM outbox"
        )
        args: tuple[str, ...] = ()
        if state:
            q += " WHERE state = ?"
            args = (state,)
        with self._lock:
            rows = self.db.execute(q + " ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        keys = (
            "id",
            "rtype",
            "data_date",
            "record",
            "source",
            "device_index",
            "state",
            "attempts",
            "verdict",
            "reason",
            "field",
            "message",
            "created_ms",
            "sent_ms",
            "done_ms",
        )
        return [dict(zip(keys, (*r[:3], json.loads(r[3]), *r[4:]))) for r in rows]


class _Tx:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
