"""Free TCP ports on 127.0.0.1 for the servers the harness starts (its platform, the nodes under test)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port of 127.0.0.1 that was free when asked (the OS's choice; the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
