"""A real HTTP server for tests: 127.0.0.1, a free port, served from a daemon thread while entered."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log to stderr (test output stays readable)."""

    def log_message(self, *args) -> None:
        return None


class BackgroundHTTPServer:
    """``with`` it to serve ``handler`` (a :class:`BaseHTTPRequestHandler` subclass) at :attr:`base_url`;
    leaving shuts the server down and closes its socket (the thread is joined, at most 5 s)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
