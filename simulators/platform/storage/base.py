"""The interface both backends implement.

A :class:`Tx` is a transaction handle: ``execute`` / ``executemany`` /
``one`` / ``all`` with portable SQL (``?`` placeholders).  Rows are tuples.
``Store.write()`` yields a Tx inside a write transaction that commits when the
block exits normally and rolls back if it raises; the commit has happened when
the ``with`` statement returns (the platform acknowledges only after that).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence

from profiles.errors import RoucaiError


class StoreError(RoucaiError):
    """The database cannot be opened, reached or migrated (configuration, exit 2)."""


class Tx:
    """A transaction handle over a DB-API cursor; ``sql`` uses ``?`` placeholders."""

    def __init__(self, cursor, translate=None):
        self._cur = cursor
        self._translate = translate or (lambda sql: sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed (``-1`` if unknown)."""
        self._cur.execute(self._translate(sql), tuple(params))
        return self._cur.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self._cur.executemany(self._translate(sql), rows)

    #: rows per statement of :meth:`insert_values` / values per statement of :meth:`all_in` (14 columns × 500 =
    #: 7,000 parameters: under SQLite's 32,766 and PostgreSQL's 65,535)
    CHUNK = 500

    def insert_values(self, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> list[tuple]:
        """``head VALUES (?, …), (?, …) … tail`` for ``rows`` (all of one width), in order, at most :attr:`CHUNK`
        rows per statement: one round trip per chunk instead of one per row.  ``head`` is ``INSERT INTO t (a, b)``;
        ``tail`` may hold ``ON CONFLICT …`` and ``RETURNING …``.  Returns what a ``RETURNING`` produced (every
        chunk, each in the order the database answered: map rows by a returned key, not by position); ``[]``
        without one."""
        out: list[tuple] = []
        returning = "RETURNING" in tail.upper()
        for i in range(0, len(rows), self.CHUNK):
            chunk = rows[i : i + self.CHUNK]
            one = "(" + ", ".join("?" * len(chunk[0])) + ")"
            sql = f"{head} VALUES {', '.join([one] * len(chunk))} {tail}".rstrip()
            params = [v for r in chunk for v in r]
            if returning:
                out.extend(self.all(sql, params))
            else:
                self.execute(sql, params)
        return out

    def all_in(self, sql: str, params: Sequence[Any], values: Sequence[Any]) -> list[tuple]:
        """The rows of ``sql`` with its ``{marks}`` replaced by ``?, ?, …`` for ``values`` (bound after
        ``params``), at most :attr:`CHUNK` values per statement, the answers concatenated; ``[]`` for no values."""
        out: list[tuple] = []
        values = list(values)
        for i in range(0, len(values), self.CHUNK):
            chunk = values[i : i + self.CHUNK]
            out.extend(self.all(sql.format(marks=", ".join("?" * len(chunk))), [*params, *chunk]))
        return out

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """A block of statements whose results are not read (the counts ``execute`` returns inside it mean
        nothing): the store may send them together and wait once at the end (PostgreSQL: pipeline mode, one
        round trip); an error of any of them is raised at the latest when the block ends.  Here: a plain block."""
        yield

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        self._cur.execute(self._translate(sql), tuple(params))
        return self._cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._cur.execute(self._translate(sql), tuple(params))
        return list(self._cur.fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = self.one(sql, params)
        return default if row is None or row[0] is None else row[0]


class Store:
    """Abstract store.  ``dialect`` is ``"sqlite"`` or ``"postgresql"``."""

    dialect: str = ""
    #: the URL with any password removed, safe for logs and /healthz
    display_url: str = ""

    def write(self) -> AbstractContextManager[Tx]:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Tx]:  # pragma: no cover - interface
        raise NotImplementedError

    _group_lock = threading.Lock()  # guards the lazy creation of a store's GroupCommit (once per store)

    def grouped(self, fn: Callable[[Tx], Any]) -> Any:
        """``fn(tx)`` in a write transaction shared with concurrent callers (group commit: one COMMIT, one
        fsync for all); returns ``fn``'s result once that transaction has committed, raises ``fn``'s exception
        (its writes rolled back alone) or the group's (nothing of the group stored).  See :mod:`.groupcommit`."""
        group = self.__dict__.get("_group")
        if group is None:
            from .groupcommit import GroupCommit

            with Store._group_lock:
                group = self.__dict__.setdefault("_group", GroupCommit(self))
        return group.run(fn)

    def write_figures(self) -> dict:
        """The group commit's cumulative counters (:meth:`.groupcommit.GroupCommit.figures`); zeros before the
        first grouped write."""
        group = self.__dict__.get("_group")
        return group.figures() if group is not None else {"groups": 0, "writers": 0, "tx_s": 0.0, "tx_cpu_s": 0.0}

    def script(self, sql: str) -> None:
        """Run several DDL statements in one write transaction (used by the migrator)."""
        with self.write() as tx:
            for stmt in split_statements(sql):
                tx.execute(stmt)

    def ping(self) -> bool:
        try:
            with self.read() as tx:
                return tx.scalar("SELECT 1") == 1
        except Exception:
            return False

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements at ``;`` ending a line; ``--`` comments dropped.

    Migration files must not put ``;`` inside string literals at a line end (ours do not).
    """
    out, buf = [], []
    for line in sql.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped.strip():
            continue
        buf.append(stripped)
        if stripped.endswith(";"):
            stmt = "\n".join(buf).rstrip(";").strip()
            if stmt:
                out.append(stmt)
            buf = []
    tail = "\n".join(buf).strip()
    if tail:
        out.append(tail)
    return out
