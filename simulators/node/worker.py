"""The lifecycle shared by the node's background loops (uploader, stop-trade poller).

A subclass sets ``thread_name``, ``cfg`` (with ``timeout_s``), ``client`` (an httpx client), ``_stop``
(a ``threading.Event``) and ``_thread = None``, and implements ``run()``, a loop that ends when ``_stop``
is set.  :meth:`stop` waits at most one request timeout plus a second for the loop to end.
"""

from __future__ import annotations

import threading


class BackgroundLoop:
    thread_name = "node-worker"

    def start(self):
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.cfg.timeout_s + 1 if timeout is None else timeout)
            self._thread = None
        self.client.close()
