"""A deadline for request headers (issue 13, finding 5: slow-loris), for uvicorn's httptools protocol.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no deadline for a request whose
headers trickle in.  :func:`protocol` returns an ``HttpToolsProtocol`` subclass that closes a connection whose
request line and headers are not complete within ``seconds`` of the connection opening (first request) or of the
request's first byte (later requests on a keep-alive connection), or whose request line and headers pass
``MAX_HEADER_BYTES`` (httptools itself sets no bound).  The body has its own deadline in
:class:`.webguard.Guard`.  ``HEADER_TIMEOUT_S`` is this project's choice (evidence ``profile``).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024  #: request line + headers of one request; more closes the connection


def protocol(seconds: float | None = None) -> type[HttpToolsProtocol]:
    """An httptools protocol class with a header deadline of ``seconds`` (``HEADER_TIMEOUT_S`` by default)."""
    limit = HEADER_TIMEOUT_S if seconds is None else float(seconds)

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        header_timeout_s = limit
        _header_timer = None
        _header_bytes = 0

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = 0
            self._arm()

        def _count(self, n: int) -> bool:
            self._header_bytes += n
            if self._header_bytes > MAX_HEADER_BYTES:
                if not self.transport.is_closing():
                    self.transport.close()
                return False
            return True

        def on_url(self, url: bytes) -> None:
            if self._count(len(url)):
                super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            if self._count(len(name) + len(value) + 4):
                super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol
