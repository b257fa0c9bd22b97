"""Run a platform under uvicorn: validated config, JSON logs, graceful shutdown.

``serve(config)`` blocks until SIGINT/SIGTERM.  On a signal uvicorn stops
accepting connections, lets requests in flight finish (at most
``GRACE_S`` seconds), then the app's lifespan closes the feed thread and the
store; an upload whose transaction committed has been answered or will be
answered before exit, and one that did not commit stored nothing.

The first log line after start-up is ``{"event": "listening", "host", "port",
"url", …}`` with the real port (useful with ``--port 0``).
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from . import logs, slowloris
from .config import PlatformConfig

GRACE_S = 10


class _Server(uvicorn.Server):
    """uvicorn.Server that logs the bound address once sockets are up."""

    def __init__(self, config: uvicorn.Config, pconf: PlatformConfig):
        super().__init__(config)
        self._pconf = pconf

    stop_signal: str | None = None  #: the signal that stopped the server (SIGINT, SIGTERM), if one did

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Graceful stop on SIGINT/SIGTERM (uvicorn would re-raise the signal afterwards; the command
        reports it and exits 3, the project's code for interrupted work).

        A second SIGINT forces the exit, as in uvicorn."""
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True
            self.stop_signal = self.stop_signal or signal.Signals(sig).name
            logs.event("shutdown_requested", signal=signal.Signals(sig).name)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                logs.always(
                    "listening",
                    host=host,
                    port=port,
                    url=f"{self._pconf.scheme}://{host}:{port}",
                    role=self._pconf.role,
                    db=self._pconf.db if not self._pconf.is_postgres else "postgresql",
                )
                return


def build_server(pconf: PlatformConfig, app: ASGIApp | None = None) -> _Server:
    """A uvicorn server for ``pconf`` (the app is built from it unless given)."""
    from .app import create_app

    app = app or create_app(pconf)
    config = uvicorn.Config(
        app,
        host=pconf.host,
        port=pconf.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACE_S,
        timeout_keep_alive=5,
        limit_concurrency=1000,
        server_header=False,
        http=slowloris.protocol(),
        loop="uvloop",  # header deadline (issue 13)
        ssl_certfile=pconf.tls_cert,
        ssl_keyfile=pconf.tls_key,
    )
    return _Server(config, pconf)


def serve(pconf: PlatformConfig, app: ASGIApp | None = None) -> int:
    """Validate, start, block until a signal; returns the process exit code (the app is built from ``pconf``
    unless given): 3 if it could not start or a signal (SIGINT, SIGTERM) stopped it, the house's code for
    interrupted work; 0 otherwise."""
    logs.setup(pconf.log_level)
    server = build_server(pconf, app)
    try:
        server.run()
    except OSError as exc:  # port in use, permission denied…
        logs.event("start_failed", logging.ERROR, error=str(exc))
        return 3
    if not server.started:
        return 3
    logs.event("stopped")
    return 3 if server.stop_signal else 0


async def serve_async(pconf: PlatformConfig) -> None:  # pragma: no cover - convenience for embedding
    await build_server(pconf).serve()
