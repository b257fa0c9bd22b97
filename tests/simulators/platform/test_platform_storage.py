"""Repository layer: migrations, transactions; the same tests against PostgreSQL when ROUCAI_PG_URL is set."""

import os
import shutil

import pytest

from simulators.platform.storage import StoreError, applied_versions, migrate, open_store, pending
from simulators.platform.storage.base import split_statements
from simulators.platform.storage.migrate import MIGRATIONS_DIR, available

PG_URL = os.environ.get("ROUCAI_PG_URL")


def _pg_store():
    try:
        store = open_store(PG_URL, migrate_schema=False)
    except StoreError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    with store.write() as tx:  # a clean schema for the test
        tx.execute("DROP SCHEMA public CASCADE")
        tx.execute("CREATE SCHEMA public")
    migrate(store)
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(str(tmp_path / "s.db"))
    else:
        if not PG_URL:
            pytest.skip("set ROUCAI_PG_URL to run the PostgreSQL tests")
        s = _pg_store()
    yield s
    s.close()


def test_migrations_applied_once_in_order(store):
    files = available()
    assert [v for v, _, _ in files] == list(range(1, len(files) + 1))
    assert applied_versions(store) == [v for v, _, _ in files]
    assert migrate(store) == [] and pending(store) == []


def test_write_rolls_back_on_error_and_commits_otherwise(store):
    with pytest.raises(RuntimeError):
        with store.write() as tx:
            tx.execute("INSERT INTO feed_cursor (name, cursor_ms, pushed_ms) VALUES (?, ?, ?)", ("a", 1, 1))
            raise RuntimeError
    with store.write() as tx:
        tx.execute("INSERT INTO feed_cursor (name, cursor_ms, pushed_ms) VALUES (?, ?, ?)", ("b", 2, 2))
    with store.read() as tx:
        assert tx.all("SELECT name FROM feed_cursor") == [("b",)]


def test_upsert_and_returning_behave_alike(store):
    sql = (
        "INSERT INTO records (node_id, rtype, rkey, data_date, body_sha, body, received_ms, request_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id, rtype, rkey) DO NOTHING RETURNING id"
    )
    row = ("650102001", "t", "k", "20250101", "x", "{}", 1, "r")
    with store.write() as tx:
        first = tx.one(sql, row)
        again = tx.one(sql, row)
    assert first is not None and again is None


def test_multi_row_insert_and_in_list_chunk_and_keep_every_row(store):
    """``insert_values`` / ``all_in`` cut at ``CHUNK``: every row inserted, every conflict skipped, every match read."""
    head = "INSERT INTO records (node_id, rtype, rkey, data_date, body_sha, body, received_ms, request_id)"
    rows = [("650102001", "t", f"k{i}", "20250101", f"s{i}", "{}", 1, "r") for i in range(7)]
    with store.write() as tx:
        tx.CHUNK = 3
        assert tx.insert_values(head, rows[:2]) == []
        got = tx.insert_values(head, rows, "ON CONFLICT (node_id, rtype, rkey) DO NOTHING RETURNING rkey, body_sha")
        sql = "SELECT rkey, body_sha FROM records WHERE node_id = ? AND rkey IN ({marks})"
        found = tx.all_in(sql, ("650102001",), [f"k{i}" for i in range(9)])
        assert tx.all_in(sql, ("650102001",), []) == []
    assert sorted(got) == [(f"k{i}", f"s{i}") for i in range(2, 7)]
    assert sorted(found) == [(f"k{i}", f"s{i}") for i in range(7)]


def test_pipeline_writes_everything_and_raises_the_error_of_any_statement(store):
    """``Tx.pipeline`` (PostgreSQL pipeline mode): its statements are all written; a failing one raises by the
    end of the block and its transaction stores nothing."""
    sql = "INSERT INTO records (node_id, rtype, rkey, data_date, body_sha, body, received_ms, request_id)"
    sql += " VALUES (?, 't', ?, '20250101', 'x', '{}', 1, 'r')"
    with store.write() as tx:
        with tx.pipeline():
            tx.execute(sql, ("650102001", "k1"))
            tx.execute(sql, ("650102001", "k2"))
    with pytest.raises(Exception):
        with store.write() as tx:
            with tx.pipeline():
                tx.execute(sql, ("650102001", "k3"))
                tx.execute(sql, ("650102001", "k1"))  # the identity is taken: the unique index refuses it
    with store.read() as tx:
        assert [r for (r,) in tx.all("SELECT rkey FROM records ORDER BY rkey")] == ["k1", "k2"]


def test_unknown_newer_schema_is_refused(tmp_path):
    db = str(tmp_path / "s.db")
    s = open_store(db)
    with s.write() as tx:
        tx.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'future', 'x')")
    s.close()
    with pytest.raises(StoreError, match="newer"):
        open_store(db)


def test_failed_migration_leaves_the_previous_version(tmp_path):
    mig = tmp_path / "mig"
    shutil.copytree(MIGRATIONS_DIR, mig)
    (mig / f"{len(available()) + 1:04d}_broken.sql").write_text("CREATE TABLE ok_one (a INTEGER);\nNOT SQL;\n")
    s = open_store(str(tmp_path / "s.db"), migrate_schema=False)
    with pytest.raises(StoreError, match="migration failed"):
        migrate(s, mig)
    assert applied_versions(s) == [v for v, _, _ in available()]
    with s.read() as tx:
        assert tx.one("SELECT name FROM sqlite_master WHERE name = 'ok_one'") is None
    s.close()


def test_badly_named_or_gapped_migrations_are_refused(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="gaps"):
        available(tmp_path)
    (tmp_path / "x.sql").write_text("")
    with pytest.raises(StoreError, match="NNNN"):
        available(tmp_path)


def test_split_statements_drops_comments():
    assert split_statements("-- c\nCREATE TABLE a (x INT); -- tail\n\nINSERT INTO a VALUES (1);\n") == [
        "CREATE TABLE a (x INT)",
        "INSERT INTO a VALUES (1)",
    ]


@pytest.mark.pg
def test_platform_ingest_and_trace_on_postgresql(tmp_path):
    """The whole platform on PostgreSQL: upload a meat chain, trace it, duplicate stays single."""
    if not PG_URL:
        pytest.skip("set ROUCAI_PG_URL to run the PostgreSQL tests")
    _pg_store().close()
    from platformkit import NODES, Platform, meat_chain, upload_all
    from simulators.platform.config import PlatformConfig
    from simulators.platform.launcher import ThreadedPlatform

    cfg = PlatformConfig(db=PG_URL, secret_file=str(tmp_path / "s"), port=0, log_level="warning")
    with ThreadedPlatform(cfg) as tp:
        p = Platform(tp)
        p.register(*NODES)
        chain = meat_chain()
        upload_all(p, chain)
        assert p.upload(*chain["uploads"][-1])[1].results[0].verdict == "duplicate"
        ans = p.client.get(f"/api/v1/trace/{chain['sale']}").json()
        assert ans["complete"] and len(ans["chain"]) == 8
        assert p.count() == 11
        p.client.close()
