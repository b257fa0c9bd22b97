"""Outputs written atomically (simulators/atomic_file.py, simulators/platform/filemode.py), and a path that is no
regular file (/dev/null, a FIFO) written through instead of renamed over: a rename replaced the machine's
/dev/null with a regular file during a session (then initdb, and every '>/dev/null', broke)."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from simulators.atomic_file import atomic_open, atomic_write_bytes, is_special, partial_path
from simulators.platform.filemode import write_private


def _fifo_reader(path, got: list) -> threading.Thread:
    def read():
        with open(path, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("writer", ["atomic_write_bytes", "atomic_open", "write_private"])
def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path, writer):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got: list = []
    reader = _fifo_reader(fifo, got)
    if writer == "atomic_write_bytes":
        atomic_write_bytes(fifo, b"data\n")
    elif writer == "atomic_open":
        with atomic_open(fifo) as fh:
            fh.write("data\n")
    else:
        write_private(fifo, b"data\n")
    reader.join(10)
    assert got == [b"data\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and is_special(fifo)
    assert not partial_path(fifo).exists() and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_regular_files_are_still_replaced_whole_and_an_error_leaves_the_old_one(tmp_path):
    f = tmp_path / "out.json"
    f.write_text("old")
    assert not is_special(f) and not is_special(tmp_path) and not is_special(tmp_path / "missing")
    with pytest.raises(RuntimeError):
        with atomic_open(f) as fh:
            fh.write("half")
            raise RuntimeError("interrupted")
    assert f.read_text() == "old" and not partial_path(f).exists()
    atomic_write_bytes(f, b"new")
    write_private(tmp_path / "keys.json", b"{}")
    assert f.read_bytes() == b"new" and stat.S_IMODE(os.stat(tmp_path / "keys.json").st_mode) == 0o600


def test_dev_null_is_recognised_as_special():
    """Only the check, never a write: a broken writer must not be able to damage the machine's /dev/null."""
    assert is_special("/dev/null")
