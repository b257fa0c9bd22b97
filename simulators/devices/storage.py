"""Durable record store of a scale: SQLite, WAL, ``synchronous=FULL``.

What must survive a power cut lives here, and every change a sale makes is
one transaction: the sale row, the batch's sold quantity, the next storage
index and the last trace sequence commit together or not at all.  So a cut at
any instant loses at most the sale in progress (never a committed one) and
duplicates nothing (the sequence is read from the same transaction that used
it).

Policy when full (profile's definition): a sale is refused once
``capacity`` unacknowledged records are stored; acknowledged records are
deleted (memory freed) only by :meth:`acknowledge`, i.e. after the host
confirms them.  Unacknowledged records are never overwritten.

``path=None`` keeps the SQLite database in memory.  :class:`MemoryScaleStore` is the
same contract in plain Python objects, for simulations of thousands of scales in
one process (the market model's device mode, fleets), where SQLite's per-statement
cost dominated; it models battery-backed RAM (a power cut loses the sale in
progress, nothing committed).  Both are checked by the same contract tests.  A store
is used from one thread at a time (the device runner serialises access).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
  batch_trace TEXT PRIMARY KEY, commodity TEXT NOT NULL, commodity_name TEXT NOT NULL,
  limit_g INTEGER NOT NULL, sold_g INTEGER NOT NULL DEFAULT 0, unit_price_fen INTEGER NOT NULL,
  stopped INTEGER NOT NULL DEFAULT 0, stop_reason TEXT NOT NULL DEFAULT '', slot INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sales (
  idx INTEGER PRIMARY KEY, trace_code TEXT NOT NULL, batch_trace TEXT NOT NULL, commodity TEXT NOT NULL,
  commodity_name TEXT NOT NULL, weight_g INTEGER NOT NULL, unit_price_fen INTEGER NOT NULL,
  amount_fen INTEGER NOT NULL, time TEXT NOT NULL, order_no TEXT NOT NULL, operator_code TEXT NOT NULL,
  stall TEXT NOT NULL, request_id INTEGER);
CREATE INDEX IF NOT EXISTS sales_request ON sales(request_id) WHERE request_id IS NOT NULL;
"""

SALE_COLUMNS = (
    "idx",
    "trace_code",
    "batch_trace",
    "commodity",
    "commodity_name",
    "weight_g",
    "unit_price_fen",
    "amount_fen",
    "time",
    "order_no",
    "operator_code",
    "stall",
)
BATCH_COLUMNS = (
    "batch_trace",
    "commodity",
    "commodity_name",
    "limit_g",
    "sold_g",
    "unit_price_fen",
    "stopped",
    "stop_reason",
    "slot",
)
_TFMT = "%Y-%m-%d %H:%M:%S"


class ScaleStore:
    """The scale's durable state.  Rows come back as dicts (``time`` as ``datetime``)."""

    def __init__(self, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.db = sqlite3.connect(
            ":memory:" if path is None else str(path), isolation_level=None, check_same_thread=False
        )
        if path is not None:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._meta_defaults()

    def _meta_defaults(self) -> None:
        with self.tx():
            for k, v in (("next_index", "1"), ("last_trace_seq", "0"), ("stall", "null")):
                self.db.execute("INSERT OR IGNORE INTO meta(k, v) VALUES (?, ?)", (k, v))

    # -- transactions -----------------------------------------------------------
    def tx(self):
        return _Tx(self.db)

    def close(self) -> None:
        self.db.close()

    def abandon(self) -> None:
        """Power cut: drop the connection without committing anything in progress."""
        try:
            if self.db.in_transaction:
                self.db.rollback()
        finally:
            self.db.close()

    # -- meta ---------------------------------------------------------------------
    def meta(self, k: str) -> str:
        return self.db.execute("SELECT v FROM meta WHERE k=?", (k,)).fetchone()[0]

    def _set_meta(self, k: str, v: str) -> None:
        self.db.execute("UPDATE meta SET v=? WHERE k=?", (v, k))

    @property
    def next_index(self) -> int:
        return int(self.meta("next_index"))

    @property
    def last_trace_seq(self) -> int:
        return int(self.meta("last_trace_seq"))

    def stall(self) -> dict | None:
        return json.loads(self.meta("stall"))

    def bind_stall(self, stall: dict) -> None:
        with self.tx():
            self._set_meta("stall", json.dumps(stall, ensure_ascii=False))

    # -- batches ------------------------------------------------------------------
    def batches(self) -> list[dict]:
        cur = self.db.execute(f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches ORDER BY slot")
        return [dict(zip(BATCH_COLUMNS, r)) for r in cur]

    def batch(self, batch_trace: str) -> dict | None:
        r = self.db.execute(
            f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches WHERE batch_trace=?", (batch_trace,)
        ).fetchone()
        return None if r is None else dict(zip(BATCH_COLUMNS, r))

    def load_batch(self, b: dict) -> None:
        """Insert or replace a batch (a reload keeps what was already sold and a stop)."""
        with self.tx():
            old = self.batch(b["batch_trace"])
            slot = (
                old["slot"]
                if old
                else (self.db.execute("SELECT COALESCE(MAX(slot), 0) + 1 FROM batches").fetchone()[0])
            )
            self.db.execute(
                "INSERT OR REPLACE INTO batches(batch_trace, commodity, commodity_name, limit_g, sold_g, "
                "unit_price_fen, stopped, stop_reason, slot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    b["batch_trace"],
                    b["commodity"],
                    b["commodity_name"],
                    b["limit_g"],
                    old["sold_g"] if old else 0,
                    b["unit_price_fen"],
                    old["stopped"] if old else 0,
                    old["stop_reason"] if old else "",
                    slot,
                ),
            )

    def stop_batch(self, batch_trace: str, reason: str) -> bool:
        with self.tx():
            cur = self.db.execute(
                "UPDATE batches SET stopped=1, stop_reason=? WHERE batch_trace=?", (reason, batch_trace)
            )
            return cur.rowcount == 1

    # -- sales ----------------------------------------------------------------------
    def commit_sale(
        self,
        sale: dict,
        trace_seq: int,
        request_id: int | None = None,
        batch_trace: str | None = None,
        before_commit=None,
    ) -> dict:
        """Store one sale line atomically; returns it with its ``idx``.

        ``sale`` has every :data:`SALE_COLUMNS` field but ``idx``; ``batch_trace``
        (default: the sale's) is the batch whose sold quantity grows.
        ``before_commit`` (tests, faults) runs inside the transaction just before
        COMMIT: raising there (a power cut) leaves nothing of the sale behind.
        """
        with self.tx():
            idx = self.next_index
            row = dict(sale, idx=idx)
            self.db.execute(
                f"INSERT INTO sales({', '.join(SALE_COLUMNS)}, request_id) VALUES ({', '.join('?' * 13)})",
                tuple(row[c] if c != "time" else row[c].strftime(_TFMT) for c in SALE_COLUMNS) + (request_id,),
            )
            self.db.execute(
                "UPDATE batches SET sold_g = sold_g + ? WHERE batch_trace=?",
                (sale["weight_g"], batch_trace or sale["batch_trace"]),
            )
            self._set_meta("next_index", str(idx + 1))
            self._set_meta("last_trace_seq", str(max(trace_seq, self.last_trace_seq)))
            if before_commit is not None:
                before_commit()
        return row

    def sale_by_request(self, request_id: int) -> dict | None:
        r = self.db.execute(f"SELECT {', '.join(SALE_COLUMNS)} FROM sales WHERE request_id=?", (request_id,)).fetchone()
        return None if r is None else self._sale(r)

    @staticmethod
    def _sale(r) -> dict:
        d = dict(zip(SALE_COLUMNS, r))
        d["time"] = datetime.strptime(d["time"], _TFMT)
        return d

    def unacked_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM sales").fetchone()[0]

    def read_from(self, index: int, limit: int) -> list[dict]:
        """Unacknowledged sales with ``idx >= index``, ascending, at most ``limit``."""
        cur = self.db.execute(
            f"SELECT {', '.join(SALE_COLUMNS)} FROM sales WHERE idx >= ? ORDER BY idx LIMIT ?", (index, limit)
        )
        return [self._sale(r) for r in cur]

    def count_from(self, index: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM sales WHERE idx >= ?", (index,)).fetchone()[0]

    def all_sales(self) -> list[dict]:
        return self.read_from(0, -1)

    def acknowledge(self, up_to_index: int) -> int:
        """Free every record with ``idx <= up_to_index``; returns how many were freed."""
        with self.tx():
            return self.db.execute("DELETE FROM sales WHERE idx <= ?", (up_to_index,)).rowcount

    # -- power and firmware bugs ------------------------------------------------------
    @property
    def durable(self) -> bool:
        """Whether the state lives in a file (a power cut closes it; :meth:`reopen` reads it back)."""
        return self.path is not None

    def power_cut(self) -> None:
        """Power is gone: whatever transaction is open is lost (a file store is closed)."""
        if self.path is not None:
            self.abandon()
        elif self.db.in_transaction:
            self.db.rollback()

    def reopen(self) -> "ScaleStore":
        """The store after power comes back: the file read again (an in-memory store is itself)."""
        return ScaleStore(self.path) if self.path is not None else self

    def drop_newest(self) -> None:
        """The newest committed record is gone (the firmware bug ``lose_on_power_cut`` of a proof,
        conformance/proofs/device_firmware.py; no clean path calls it)."""
        if not self.db.in_transaction:
            self.db.execute("DELETE FROM sales WHERE idx = (SELECT MAX(idx) FROM sales)")

    def reset_trace_seq(self, seq: int) -> None:
        """The last trace sequence goes back to ``seq`` (the firmware bug ``seq_reset_on_power_cut`` of a proof)."""
        with self.tx():
            self._set_meta("last_trace_seq", str(seq))

    def forget_stall(self) -> None:
        """The stall binding is lost (the firmware bug ``binding_volatile`` of a proof: kept in RAM only)."""
        with self.tx():
            self._set_meta("stall", "null")


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error); re-entrant."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.outer = False

    def __enter__(self):
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.outer:
            return False
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")
        return False


class MemoryScaleStore:
    """:class:`ScaleStore`'s contract in Python objects (battery-backed RAM; see the module doc).

    A sale is applied only after ``before_commit`` has returned, so a power cut raised there
    leaves nothing behind, exactly as the SQLite transaction does.  Rows are returned as
    copies: a caller changing one does not change the store.
    """

    path = None
    durable = False

    def __init__(self):
        self.next_index = 1
        self.last_trace_seq = 0
        self._stall: dict | None = None
        self._batches: dict[str, dict] = {}
        self._sales: dict[int, dict] = {}  # idx -> row (``time`` a datetime), insertion = idx order
        self._request_of: dict[int, int] = {}  # idx -> request id, for sales that had one
        self._by_request: dict[int, int] = {}  # request id -> oldest stored idx (what SQLite's index finds)

    def close(self) -> None:
        """Nothing to release (no file, no connection)."""

    # -- stall and batches --------------------------------------------------------------
    def stall(self) -> dict | None:
        return None if self._stall is None else dict(self._stall)

    def bind_stall(self, stall: dict) -> None:
        self._stall = dict(stall)

    def batches(self) -> list[dict]:
        return [dict(b) for b in sorted(self._batches.values(), key=lambda b: b["slot"])]

    def batch(self, batch_trace: str) -> dict | None:
        b = self._batches.get(batch_trace)
        return None if b is None else dict(b)

    def load_batch(self, b: dict) -> None:
        old = self._batches.get(b["batch_trace"])
        slot = old["slot"] if old else max((x["slot"] for x in self._batches.values()), default=0) + 1
        self._batches[b["batch_trace"]] = {
            "batch_trace": b["batch_trace"],
            "commodity": b["commodity"],
            "commodity_name": b["commodity_name"],
            "limit_g": b["limit_g"],
            "sold_g": old["sold_g"] if old else 0,
            "unit_price_fen": b["unit_price_fen"],
            "stopped": old["stopped"] if old else 0,
            "stop_reason": old["stop_reason"] if old else "",
            "slot": slot,
        }

    def stop_batch(self, batch_trace: str, reason: str) -> bool:
        b = self._batches.get(batch_trace)
        if b is None:
            return False
        b["stopped"], b["stop_reason"] = 1, reason
        return True

    # -- sales ----------------------------------------------------------------------------
    def commit_sale(
        self,
        sale: dict,
        trace_seq: int,
        request_id: int | None = None,
        batch_trace: str | None = None,
        before_commit=None,
    ) -> dict:
        """As :meth:`ScaleStore.commit_sale`."""
        idx = self.next_index
        row = dict(sale, idx=idx)
        if row["time"].microsecond:  # what the SQLite text column keeps
            row["time"] = row["time"].replace(microsecond=0)
        batch = self._batches.get(batch_trace or sale["batch_trace"])
        if before_commit is not None:
            before_commit()
        self._sales[idx] = row
        if request_id is not None:
            self._request_of[idx] = request_id
            self._by_request.setdefault(request_id, idx)
        if batch is not None:
            batch["sold_g"] += sale["weight_g"]
        self.next_index = idx + 1
        self.last_trace_seq = max(trace_seq, self.last_trace_seq)
        return dict(row)

    def sale_by_request(self, request_id: int) -> dict | None:
        idx = self._by_request.get(request_id)
        row = self._sales.get(idx) if idx is not None else None
        return None if row is None else dict(row)

    def unacked_count(self) -> int:
        return len(self._sales)

    def read_from(self, index: int, limit: int) -> list[dict]:
        """As :meth:`ScaleStore.read_from` (``limit`` < 0: no limit)."""
        out = []
        for idx, row in self._sales.items():
            if idx >= index:
                if 0 <= limit <= len(out):
                    break
                out.append(dict(row))
        return out

    def count_from(self, index: int) -> int:
        return sum(1 for idx in self._sales if idx >= index)

    def all_sales(self) -> list[dict]:
        return self.read_from(0, -1)

    def acknowledge(self, up_to_index: int) -> int:
        gone = [idx for idx in self._sales if idx <= up_to_index]
        for idx in gone:
            del self._sales[idx]
            self._request_of.pop(idx, None)
        if gone:
            self._by_request = {}
            for idx, r in self._request_of.items():
                self._by_request.setdefault(r, idx)
        return len(gone)

    # -- power and firmware bugs ------------------------------------------------------
    def power_cut(self) -> None:
        """Battery-backed RAM: a sale in progress was never applied (see :meth:`commit_sale`), the rest stays."""

    def reopen(self) -> "MemoryScaleStore":
        return self

    def drop_newest(self) -> None:
        if self._sales:
            self._forget(max(self._sales))

    def _forget(self, idx: int) -> None:
        """Forget the one record ``idx`` (the firmware bug's way of losing it)."""
        self._sales.pop(idx, None)
        r = self._request_of.pop(idx, None)
        if r is not None and self._by_request.get(r) == idx:
            del self._by_request[r]
            for i, rr in self._request_of.items():
                if rr == r:
                    self._by_request[r] = i
                    break

    def reset_trace_seq(self, seq: int) -> None:
        self.last_trace_seq = seq

    def forget_stall(self) -> None:
        self._stall = None
