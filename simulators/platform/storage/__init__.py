"""The platform's repository layer: one interface, two backends.

* SQLite (the default): a file, WAL journal, ``synchronous=FULL`` so that a
  committed transaction survives ``kill -9`` and power loss.  One writer
  connection (writes are serialised by a lock; SQLite has one writer anyway)
  and one reader connection per thread.
* PostgreSQL (``postgresql://…``, psycopg 3): one connection per thread.

Callers write portable SQL with ``?`` placeholders and use
:meth:`Store.write` / :meth:`Store.read` context managers; a write that must be
durable before an answer and may share its COMMIT with concurrent ones (an upload)
goes through :meth:`Store.grouped` (group commit, :mod:`.groupcommit`).  Every statement is
parameterised; no value is ever formatted into SQL text.

Errors: :class:`StoreError` when the database cannot be opened or migrated
(a configuration problem: exit 2 in the CLI).
"""

from __future__ import annotations

from .base import Store, StoreError, Tx
from .migrate import MIGRATIONS_DIR, applied_versions, migrate, pending


def open_store(url: str, *, migrate_schema: bool = True) -> Store:
    """Open the store named by ``url`` and (by default) bring its schema up to date.

    :param url: ``postgresql://…`` / ``postgres://…`` for PostgreSQL; ``sqlite:///PATH``,
        a plain file path, or ``:memory:`` for SQLite.
    :raises StoreError: unreachable server, unwritable file, failed migration.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        store: Store = PostgresStore(url)
    else:
        from .sqlite import SQLiteStore

        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
        store = SQLiteStore(path)
    if migrate_schema:
        try:
            migrate(store)
        except StoreError:
            store.close()
            raise
    return store


__all__ = ["Store", "StoreError", "Tx", "open_store", "migrate", "pending", "applied_versions", "MIGRATIONS_DIR"]
