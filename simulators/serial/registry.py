"""Named lines of this process: :func:`open_line`, :func:`get_line`, :func:`line_names`.

Names are what ``sim://NAME`` refers to; a name is taken from ``open_line`` until
``line.close()``.
"""

from __future__ import annotations

import re
import threading

from .clock import WallClock
from .faults import Fault
from .line import Line, LineError
from .settings import LineSettings
from .trace import WireTrace

BACKENDS = ("sim", "pty", "socket")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_lines: dict[str, Line] = {}
_lock = threading.Lock()


def open_line(
    name: str,
    backend: str = "sim",
    settings: LineSettings | None = None,
    clock=None,
    faults: list[Fault] | None = None,
    trace: WireTrace | None = None,
    *,
    paced: bool = True,
    link: str | None = None,
    port: int = 0,
) -> Line:
    """Open a line named ``name`` (see the package docstring).

    :param name: 1-64 characters ``[A-Za-z0-9._-]``, not starting with ``.``/``-``/``_``.
    :param link: ``pty`` only: symlink path for the host (default under the temp dir).
    :param port: ``socket`` only: TCP port on 127.0.0.1 (0 = ephemeral).
    :raises LineError: bad or duplicate name, unknown backend, SimClock with pty/socket.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise LineError(f"bad line name {name!r}: use 1-64 of [A-Za-z0-9._-], starting alphanumeric")
    if backend not in BACKENDS:
        raise LineError(f"unknown backend {backend!r}; choose from {BACKENDS}")
    clock = clock or WallClock()
    if backend != "sim" and not clock.realtime:
        raise LineError(f"the {backend!r} backend runs in real time; SimClock needs backend='sim'")
    if link is not None and backend != "pty":
        raise LineError("link= applies to the 'pty' backend only")
    if port and backend != "socket":
        raise LineError("port= applies to the 'socket' backend only")
    with _lock:
        if name in _lines:
            raise LineError(f"a line named {name!r} is already open")
        _lines[name] = None  # reserve
    try:
        if backend == "sim":
            line = Line(name, settings, clock, faults, trace, paced)
        elif backend == "pty":
            from .pty import PtyLine

            line = PtyLine(name, settings, clock, faults, trace, paced, link=link)
        else:
            from .socket import SocketLine

            line = SocketLine(name, settings, clock, faults, trace, paced, port=port)
    except BaseException:
        with _lock:
            _lines.pop(name, None)
        raise
    with _lock:
        _lines[name] = line
    return line


def get_line(name: str) -> Line:
    """The open line named ``name``. :raises LineError: if there is none."""
    with _lock:
        line = _lines.get(name)
    if line is None:
        raise LineError(f"no open line named {name!r}")
    return line


def line_names() -> list[str]:
    with _lock:
        return sorted(n for n, v in _lines.items() if v is not None)


def _forget(line: Line) -> None:
    with _lock:
        if _lines.get(line.name) is line:
            del _lines[line.name]
