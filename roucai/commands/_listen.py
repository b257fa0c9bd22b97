"""What the long-running servers (``serve platform``, ``serve node``) share at start and at stop.

* :func:`port_in_use`: checked before any log output, so a busy port is one plain line, exit 3;
* :func:`stopped_by_signal`: a server stopped by SIGINT or SIGTERM says so in one line and exits 3,
  the README's code for interrupted work.
"""

from __future__ import annotations

import socket

from ..console import EXIT_HARNESS, EXIT_OK


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on now (``None``: it can; port 0 is always free)."""
    if not port:
        return None
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
            s.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def stopped_by_signal(con, server) -> int:
    """Exit code of a server whose ``run()`` returned: 3 with one line if a signal stopped it, else 0."""
    sig = getattr(server, "stop_signal", None)
    if sig:
        con.err(f"已停止（{sig}）", f"stopped ({sig})")
        return EXIT_HARNESS
    return EXIT_OK
