"""SQLite backend: a file in WAL mode with ``synchronous=FULL``.

Durability: with WAL + FULL a transaction is on disk when COMMIT returns, so
an acknowledged upload survives ``kill -9`` of the platform (tested) and power
loss.  ``busy_timeout`` 10 s bounds every wait for the lock (no hang).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from .base import Store, StoreError, Tx

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
)


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: str):
        self.path = path
        self.display_url = f"sqlite:///{path}"
        if path != ":memory:":
            parent = Path(path).resolve().parent
            if not parent.is_dir():
                raise StoreError(f"directory {parent} does not exist")
            if Path(path).is_dir():
                raise StoreError(f"{path} is a directory, not a database file")
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        try:
            self._writer = self._connect()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {path}: {exc}") from exc
        if path != ":memory:":
            try:
                os.chmod(path, 0o600)  # node keys derive from a separate secret, but keep data private
            except OSError:
                pass

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        for p in _PRAGMAS:
            conn.execute(p)
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def write(self):
        with self._lock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(cur)
            except BaseException:
                self._writer.rollback()
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    @contextmanager
    def read(self):
        if self.path == ":memory:":  # one database per connection: share the writer
            with self._lock:
                yield Tx(self._writer.cursor())
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        cur = conn.cursor()
        cur.execute("BEGIN")
        try:
            yield Tx(cur)
        finally:
            cur.execute("COMMIT")
            cur.close()

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:
                pass
