"""PostgreSQL backend (psycopg 3): one connection per thread, autocommit off.

``?`` placeholders are translated to ``%s`` (our SQL holds no literal ``?`` or
``%``).  Connect timeout 5 s and a 30 s statement timeout bound every wait.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from functools import lru_cache

from .base import Store, StoreError, Tx


@lru_cache(maxsize=512)
def _translate(sql: str) -> str:
    return sql.replace("?", "%s")


def redact(url: str) -> str:
    """The URL with the password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class _PgTx(Tx):
    @contextmanager
    def pipeline(self):
        with self._cur.connection.pipeline():
            yield


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - dependency present in the venv
            raise StoreError("PostgreSQL needs psycopg 3: pip install 'psycopg[binary]'") from exc
        self._psycopg = psycopg
        self.url = url
        self.display_url = redact(url)
        self._local = threading.local()
        self._all = []
        self._all_lock = threading.Lock()
        self._conn()  # fail fast on a bad URL or an unreachable server

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = self._psycopg.connect(self.url, connect_timeout=5, options="-c statement_timeout=30000")
            except self._psycopg.Error as exc:
                raise StoreError(f"cannot connect to {self.display_url}: {exc}".strip()) from exc
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self):
        conn = self._conn()
        with conn.transaction():
            with conn.cursor() as cur:
                yield _PgTx(cur, _translate)

    @contextmanager
    def read(self):
        conn = self._conn()
        with conn.transaction():
            with conn.cursor() as cur:
                yield _PgTx(cur, _translate)

    def advisory_lock(self, tx: Tx, key: int) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except Exception:
                pass
