"""Group commit (simulators/platform/storage/groupcommit.py): concurrent writers share one transaction and one
COMMIT; a writer returns only once its writes are committed; one writer's failure rolls back its writes alone;
a failed COMMIT fails every writer of the group and stores nothing.  SQLite always, PostgreSQL with
ROUCAI_PG_URL (the ``store`` fixture of test_platform_storage)."""

from __future__ import annotations

import threading
import time

import pytest
from test_platform_storage import store  # noqa: F401  (the sqlite / postgresql store fixture)

from simulators.platform.storage.groupcommit import GroupCommit

INSERT = "INSERT INTO feed_cursor (name, cursor_ms, pushed_ms) VALUES (?, ?, ?)"
WAIT_S = 10  # every wait below is bounded


def _names(store) -> list[str]:  # noqa: F811
    with store.read() as tx:
        return sorted(r[0] for r in tx.all("SELECT name FROM feed_cursor"))


def _queued_group(store, fns):  # noqa: F811
    """Run ``fns`` from one thread each while the first one holds the leader; the others queue behind it.

    Returns (GroupCommit, {i: result or exception}, {i: the names another connection saw when ``run`` returned}).
    """
    gc = GroupCommit(store)
    release = threading.Event()
    out: dict[int, object] = {}
    seen: dict[int, list[str]] = {}

    def first(tx):
        tx.execute(INSERT, ("first", 0, 0))
        assert release.wait(WAIT_S)
        return "first"

    def call(i, fn):
        try:
            out[i] = gc.run(fn)
        except Exception as exc:
            out[i] = exc
        seen[i] = _names(store)

    threads = [threading.Thread(target=call, args=(0, first))]
    threads[0].start()
    deadline = time.monotonic() + WAIT_S
    while not (gc._leader.locked() and not gc._queue) and time.monotonic() < deadline:  # 0 leads, inside fn
        time.sleep(0.005)
    for i, fn in enumerate(fns, 1):
        threads.append(threading.Thread(target=call, args=(i, fn)))
        threads[-1].start()
    while len(gc._queue) < len(fns) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(gc._queue) == len(fns), "the writers did not queue behind the leader"
    release.set()
    for t in threads:
        t.join(WAIT_S)
        assert not t.is_alive()
    return gc, out, seen


def _insert(name):
    def fn(tx):
        tx.execute(INSERT, (name, 1, 1))
        return name

    return fn


def test_queued_writers_share_one_commit(store):  # noqa: F811
    gc, out, seen = _queued_group(store, [_insert(f"w{i}") for i in range(7)])
    assert out == {0: "first", **{i: f"w{i - 1}" for i in range(1, 8)}}
    assert all(out[i] in seen[i] for i in out)  # committed (visible elsewhere) when its writer returned
    assert (gc.groups, gc.writers) == (2, 8)  # the leader alone, then the 7 that queued in one transaction
    assert _names(store) == sorted(["first"] + [f"w{i}" for i in range(7)])


def test_a_writer_returns_after_its_commit(store):  # noqa: F811
    gc = GroupCommit(store)
    assert gc.run(_insert("mine")) == "mine"
    assert _names(store) == ["mine"]  # another connection: only committed rows are visible


def test_a_failing_writer_is_rolled_back_alone(store):  # noqa: F811
    def bad(tx):
        tx.execute(INSERT, ("bad", 1, 1))
        raise ValueError("refused")

    def dup(tx):  # a constraint error inside the group (the name is taken by w0)
        tx.execute(INSERT, ("w0", 2, 2))

    gc, out, _seen = _queued_group(store, [_insert("w0"), bad, dup, _insert("w1")])
    assert isinstance(out[2], ValueError) and isinstance(out[3], Exception)
    assert out[1] == "w0" and out[4] == "w1"
    assert _names(store) == ["first", "w0", "w1"]
    assert gc.groups == 2


def test_a_failed_commit_fails_the_whole_group(store):  # noqa: F811
    """A deferred constraint fails at COMMIT: every writer of the group gets the error, nothing is stored."""
    ddl = [
        "CREATE TABLE gc_parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE gc_child (id INTEGER PRIMARY KEY, parent INTEGER"
        " REFERENCES gc_parent (id) DEFERRABLE INITIALLY DEFERRED)",
    ]
    with store.write() as tx:
        for stmt in ddl:
            tx.execute(stmt)

    def orphan(tx):
        tx.execute("INSERT INTO gc_child (id, parent) VALUES (?, ?)", (1, 99))
        return "orphan"

    _gc, out, _seen = _queued_group(store, [_insert("w0"), orphan, _insert("w1")])
    assert out[0] == "first"  # the leader's own group committed before
    assert all(isinstance(out[i], Exception) for i in (1, 2, 3)), out
    assert _names(store) == ["first"]
    with store.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM gc_child") == 0


@pytest.mark.parametrize("n", [1, 40])
def test_concurrent_writers_all_committed(store, n):  # noqa: F811
    errors = []

    def worker(i):
        try:
            assert store.grouped(_insert(f"c{i:03d}")) == f"c{i:03d}"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 3)
    assert not errors and _names(store) == [f"c{i:03d}" for i in range(n)]
