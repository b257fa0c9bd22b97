"""Run a node under uvicorn: JSON logs, graceful shutdown on SIGTERM/SIGINT.

On a signal uvicorn stops accepting connections and lets requests in flight
finish (at most ``GRACE_S``); then the app's lifespan stops the runtime (scale
workers, poller, uploader finishing its envelope in flight) and closes the
outbox.  Anything not yet acknowledged stays in the outbox for the next start.

The first ``{"event": "listening", "host", "port", "url"}`` log line carries the
real port (``port = 0`` picks a free one).
"""

from __future__ import annotations

import signal

import uvicorn

from simulators.platform import slowloris

from . import logs
from .app import create_app
from .runtime import NodeRuntime

GRACE_S = 10


class _Server(uvicorn.Server):
    stop_signal: str | None = None  #: the signal that stopped the node (SIGINT, SIGTERM), if one did

    def handle_exit(self, sig, frame) -> None:
        """Graceful stop on SIGINT/SIGTERM, not re-raised afterwards as uvicorn would: the command reports
        the signal and exits 3 (interrupted).  A second SIGINT forces the exit, as in uvicorn."""
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True
            self.stop_signal = self.stop_signal or signal.Signals(sig).name

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                logs.event("listening", host=host, port=port, url=f"http://{host}:{port}", role="node")
                return


def build_server(config, runtime: NodeRuntime | None = None) -> uvicorn.Server:
    app = create_app(runtime or NodeRuntime(config))
    return _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACE_S,
            timeout_keep_alive=5,
            limit_concurrency=200,
            server_header=False,
            http=slowloris.protocol(),
        )
    )  # header deadline (issue 13)
