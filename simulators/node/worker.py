"""The lifecycle shared by the node's background loops (uploader, stop-trade poller).

A subclass sets ``thread_name``, ``cfg`` (with ``timeout_s``), ``client`` (an httpx client), ``_stop``
(a ``threading.Event``) and ``_thread = None``, and implements ``run()``, a loop that ends when ``_stop``
is set.  :meth:`stop` waits at most one request timeout plus a second for the loop to end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

import httpx


class BackgroundLoop:
    thread_name = "node-worker"
    # what a subclass sets (see the module doc); declared for the type checker only
    cfg: Any
    client: httpx.Client
    _stop: threading.Event
    _thread: threading.Thread | None
    run: Callable[[], None]

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.cfg.timeout_s + 1 if timeout is None else timeout)
            self._thread = None
        self.client.close()
