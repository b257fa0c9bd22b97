"""Files that hold secrets or data are private to their owner (mode 0600) - issue 13, finding 9.

* :func:`private_file` creates ``path`` empty with mode 0600 when missing, and tightens an existing file to
  0600 (a database about to be opened: SQLite gives its ``-wal`` / ``-shm`` files the database's mode);
* :func:`write_private` writes ``data`` atomically (a 0600 temporary file in the same folder, fsync, rename),
  so the target ends 0600 even when it existed before with wider permissions, and a reader never sees half.

Special paths (``:memory:``, SQLite URIs) are left alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from simulators.atomic_file import is_special

MODE = 0o600


def private_file(path: str | Path) -> None:
    """Make sure ``path`` exists with mode 0600 (created empty if missing)."""
    p = str(path)
    if not p or p == ":memory:" or p.startswith("file:"):
        return
    fd = os.open(p, os.O_CREAT | os.O_RDWR, MODE)
    try:
        os.fchmod(fd, MODE)
    finally:
        os.close(fd)


def write_private(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (replacing any existing file)."""
    p = Path(path)
    if is_special(p):  # /dev/null or a FIFO: written through, never renamed over (see atomic_file)
        with open(p, "wb") as f:
            f.write(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=str(p.parent or "."))  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, MODE)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
