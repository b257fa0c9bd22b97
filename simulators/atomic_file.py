"""Files that appear under their final name only when complete.

Every file a command writes for the user goes through :func:`atomic_open` (a stream)
or :func:`atomic_write_bytes` (a whole buffer): the data are written to
``<name>.partial`` beside the final path, flushed and fsync'ed, then renamed over the
final name (``os.replace``: atomic on POSIX), and the directory is fsync'ed so the
rename survives a power cut.  If the writer fails or is interrupted (an exception,
Ctrl-C), the ``.partial`` file is removed and the final name is left as it was: an
interrupted run leaves nothing that looks complete.

Contract: the final name is either absent, the previous complete file, or the new
complete file; never a truncated one.  A final name that exists and is not a regular file
(``/dev/null``, ``/dev/stdout``, a FIFO) is written straight through, never renamed over: a
rename would replace the device itself with a regular file.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO, Any, Iterator

PARTIAL_SUFFIX = ".partial"


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where the data of ``path`` are written until complete."""
    p = Path(path)
    return p.with_name(p.name + PARTIAL_SUFFIX)


def is_special(path: str | os.PathLike[str]) -> bool:
    """``path`` exists and is not a regular file (a device, FIFO or socket): written in place, never renamed over."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not every platform opens directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; nothing else to do
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = "\n",
    perms: int | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing (``mode`` ``"w"`` or ``"wb"``); it appears only on a clean exit.

    :param perms: file mode bits to set before the rename (e.g. ``0o600`` for secrets).
    :raises OSError: the directory is not writable (nothing is left behind).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    final = Path(path)
    kw: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
    if is_special(final):  # /dev/null, /dev/stdout, a FIFO: there is no file to replace
        with open(final, mode, **kw) as direct:
            yield direct
        return
    tmp = partial_path(final)
    fh = open(tmp, mode, **kw)
    try:
        if perms is not None:
            os.chmod(tmp, perms)
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, final)
    except BaseException:
        fh.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(final.parent if str(final.parent) else Path("."))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, perms: int | None = None) -> None:
    """Write ``data`` as the whole content of ``path``, atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb", perms=perms) as fh:
        fh.write(data)
