"""The node uploader's HTTP client: one envelope per request, fired as one Locust request event.

Imported only inside a Locust process (it uses geventhttpclient, whose sockets are gevent's).
:meth:`ExchangeClient.send` POSTs a stamped envelope, reads the answer and fires
``request_event`` (``environment.events.request``) with ``request_type="POST"``,
``name=NAME``, the response time in ms, the body length, ``exception`` (``None`` when the
platform answered 200 with exactly the verdicts the plan expects) and ``context``
(node, record type, records, accepted/duplicate/rejected).  It returns an :class:`Outcome`:
``done`` (answered, verdicts recorded), ``retry`` (503/1199 or a connection failure: nothing
known to be stored) or ``refused`` (4xx: the envelope as a whole was refused, never retried).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from geventhttpclient import HTTPClient
from geventhttpclient.url import URL

from simulators.tls import gevent_options

NAME = "POST /api/v1/exchange"
PATH = "/api/v1/exchange"
_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}


class UploadError(Exception):
    """The platform's answer to an envelope was wrong or missing (the message says how)."""


@dataclass(slots=True)
class Outcome:
    kind: str  # done | retry | refused
    status: int = 0
    body: bytes = b""
    verdicts: tuple = ()


class ExchangeClient:
    """Keep-alive HTTP/1.1 client for one uploader (one connection).

    :param base_url: ``http://host:port`` of the platform.
    :param request_event: the Locust ``events.request`` hook.
    :param timeout: connect and network timeout, seconds.
    """

    def __init__(self, base_url: str, request_event, timeout: float = 30.0, path: str = PATH):
        url = URL(base_url)
        self.http = HTTPClient.from_url(
            url, concurrency=1, connection_timeout=timeout, network_timeout=timeout, **gevent_options()
        )
        self.base = base_url.rstrip("/")
        self.path = path
        self.fire = request_event.fire

    def close(self) -> None:
        self.http.close()

    def post(self, body: bytes) -> tuple[int, bytes]:
        resp = self.http.post(self.path, body=body, headers=_HEADERS)
        return resp.status_code, resp.read()

    def send(self, body: bytes, context: dict, judge) -> Outcome:
        """POST ``body``; ``judge(status, data) -> (Outcome, problem or None)`` classifies the answer."""
        start = time.time()
        t0 = time.perf_counter()
        status, data, exc = 0, b"", None
        try:
            status, data = self.post(body)
            outcome, problem = judge(status, data)
            if problem:
                exc = UploadError(problem)
        except Exception as e:  # connection refused/reset, timeout: unknown whether it was stored
            outcome, exc = Outcome("retry"), e
        self.fire(
            request_type="POST",
            name=NAME,
            response_time=(time.perf_counter() - t0) * 1000.0,
            response_length=len(data),
            exception=exc,
            context=context,
            start_time=start,
            url=self.base + self.path,
            response=None,
        )
        return outcome
