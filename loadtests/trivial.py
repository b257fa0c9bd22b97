"""A trivial upload endpoint for the generator benchmark (never a platform): every record accepted.

``POST /api/v1/exchange`` answers a canned ``DataExchangeResp`` with as many ``accepted`` verdicts
as the request's ``<Count>`` says (built once per count with the profile), without parsing,
checking or storing anything, so that the benchmark measures the load generator, not a server.

    python -m uvicorn loadtests.trivial:app --host 127.0.0.1 --port 18090 --log-level warning
"""

from __future__ import annotations

import re

from profiles import load_profile
from profiles.envelope import RecordVerdict
from profiles.envelope import Response as Answer

_COUNT = re.compile(rb"<Count>([0-9]{1,4})</Count>")
_SPEC = load_profile().envelope
_CACHE: dict[int, bytes] = {}
_HEAD = [(b"content-type", b"application/xml; charset=utf-8")]


def answer(count: int) -> bytes:
    body = _CACHE.get(count)
    if body is None:
        res = Answer(
            "000000000",
            "20250101000000000",
            "20250101000000000",
            "0000",
            "0000",
            "ok",
            count,
            [RecordVerdict(i + 1, "accepted") for i in range(count)],
        )
        body = _CACHE[count] = _SPEC.build_response(res)
    return body


async def app(scope, receive, send):
    """Plain ASGI (no framework: the endpoint must cost as little as possible)."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    chunks, more = [], True
    while more:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    m = _COUNT.search(b"".join(chunks)) if scope["method"] == "POST" else None
    body = answer(int(m.group(1))) if m else b""
    await send({"type": "http.response.start", "status": 200 if m else 404, "headers": _HEAD})
    await send({"type": "http.response.body", "body": body})
