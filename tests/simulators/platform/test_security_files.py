"""Issue 13 finding 9: every secret and data file is 0600 - the keys file even when it existed before with
wider permissions, the platform's database with its WAL/SHM files, the node's outbox database."""

import os
import stat

from roucai.cli import main
from simulators.node.outbox import Outbox
from simulators.platform.storage import open_store
from test_platform_serve_cli import city  # noqa: F401  (the tiny city file, module scope)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_out_over_an_existing_world_readable_file_ends_0600(tmp_path, capsys, city):  # noqa: F811
    keys = tmp_path / "keys.json"
    keys.write_text("old")
    os.chmod(keys, 0o644)
    rc = main(["serve", "admin", "--db", str(tmp_path / "p.db"), "import-city", str(city), "--keys-out", str(keys)])
    capsys.readouterr()
    assert rc == 0
    assert _mode(keys) == 0o600
    assert keys.read_text().startswith("{")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".keys.json")] == []  # no temporary left


def test_platform_database_files_are_0600(tmp_path):
    old = os.umask(0o022)
    try:
        db = tmp_path / "p.db"
        store = open_store(str(db))
        with store.write() as tx:
            tx.execute("UPDATE nodes SET name = name")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db}{suffix}"):
                assert _mode(f"{db}{suffix}") == 0o600, suffix
        store.close()
    finally:
        os.umask(old)


def test_node_outbox_database_is_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "outbox.db"
        box = Outbox(path)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                assert _mode(f"{path}{suffix}") == 0o600, suffix
        box.close()
        os.chmod(path, 0o644)
        Outbox(path).close()  # an existing, too open outbox is tightened on open
        assert _mode(path) == 0o600
    finally:
        os.umask(old)
