"""Group commit: concurrent writers share one transaction and one durable COMMIT (one fsync).

``GroupCommit(store).run(fn)`` calls ``fn(tx)`` inside a write transaction and returns its result only
once that transaction has committed (SQLite WAL with ``synchronous=FULL``, PostgreSQL: on disk).  Callers
that arrive while a commit is in progress queue up; the next one to get the leader lock runs every queued
``fn`` in one transaction, each inside its own ``SAVEPOINT``, and commits once:

* a ``fn`` that raises has its savepoint rolled back (its writes are gone, the others' stay) and its caller
  gets the exception;
* if the transaction itself fails (the COMMIT, or a statement outside a savepoint) every caller of the
  group gets that exception: nothing of the group is stored, nothing was acknowledged;
* a caller returns only after the leader has left the transaction, so an answer built from the result is
  sent after its writes are durable.

Within a group the ``fn`` run one after the other, in arrival order, so what one writes the next sees (an
envelope replayed inside the same group is still refused).  ``fn`` must write only through ``tx`` (it runs
in the leader's thread, under the store's write lock: calling ``store.write()`` inside it would deadlock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .base import Store, Tx

#: at most this many writers share one transaction (bounds the time one COMMIT keeps the others waiting)
MAX_GROUP = 64


class _Job:
    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[Tx], Any]):
        self.fn = fn
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """The leader/follower queue in front of one store's write transactions."""

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()
        #: groups committed and writers they held (for the bench and the tests)
        self.groups = 0
        self.writers = 0
        #: seconds spent inside write transactions (wall), and the leader thread's CPU seconds within them; the
        #: difference is time the store waited (COMMIT's fsync, locks, the GIL): the load test's storage figure
        self.tx_s = 0.0
        self.tx_cpu_s = 0.0

    def figures(self) -> dict:
        """Cumulative counters since start: ``groups``, ``writers``, ``tx_s``, ``tx_cpu_s`` (seconds)."""
        return {
            "groups": self.groups,
            "writers": self.writers,
            "tx_s": round(self.tx_s, 4),
            "tx_cpu_s": round(self.tx_cpu_s, 4),
        }

    def run(self, fn: Callable[[Tx], Any]) -> Any:
        """``fn(tx)``'s result once committed; its exception (or the group's) otherwise."""
        job = _Job(fn)
        with self._queue_lock:
            self._queue.append(job)
        while True:
            with self._leader:
                if not job.done:
                    with self._queue_lock:
                        group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                    self._commit(group)
            if job.done:
                break
        if job.error is not None:
            raise job.error
        return job.result

    def _commit(self, group: list[_Job]) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            with self.store.write() as tx:
                if len(group) == 1:  # alone: its own transaction is its savepoint
                    group[0].result = group[0].fn(tx)
                else:
                    for i, job in enumerate(group):
                        tx.execute(f"SAVEPOINT g{i}")
                        try:
                            job.result = job.fn(tx)
                        except Exception as exc:  # noqa: BLE001 - any failure is this writer's answer
                            job.error = exc
                            tx.execute(f"ROLLBACK TO SAVEPOINT g{i}")
                        tx.execute(f"RELEASE SAVEPOINT g{i}")
        except BaseException as exc:
            for job in group:
                job.result = None
                if job.error is None:
                    job.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self.tx_s += time.perf_counter() - t0
            self.tx_cpu_s += time.thread_time() - c0
            self.groups += 1
            self.writers += len(group)
            for job in group:
                job.done = True
