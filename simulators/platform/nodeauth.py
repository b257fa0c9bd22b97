"""Signed requests for the platform's non-envelope endpoints (stop-trade fetch/ack, upward feed).

The platform's own definition (evidence ``profile``), reusing the profile's
VerifyCode recipe (``p.envelope.verify_code``: HMAC-MD5 keyed with the node's
key) so that a node needs one key and one algorithm.  Three headers::

    X-Node-Id:      the 9-digit node code (or a city platform's 6-digit id at a central platform)
    X-Request-Time: yyyyMMddHHmmssSSS, Beijing time, within the profile's clock window
    X-Verify-Code:  verify_code(key, NodeId, RequestTime, Index="HTTP", Count="0",
                                DataDate=RequestTime[:8], digest=SHA256(METHOD + " " + PATH + "\\n" + BODY))

``PATH`` is the request path with its query string.  The fixed Index ``HTTP``
is not a record Index, so a request signature can never pass as an envelope's.
Replays (the same three headers twice) are refused: by the platform with its
durable memory (:mod:`.replaystore`, across restarts), else with a bounded
in-memory :class:`~profiles.envelope.ReplayGuard`.  Comparison is constant time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
from collections.abc import Callable

from profiles.envelope import EnvelopeSpec, beijing, format_request_time, parse_request_time
from profiles.errors import RoucaiError
from profiles.signature import RecipeUnavailable

INDEX = "HTTP"


def digest(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    h.update(body)
    return h.hexdigest()


def sign(
    spec, key: str, node_id: str, method: str, path: str, body: bytes = b"", now: _dt.datetime | None = None
) -> dict[str, str]:
    """The three headers for a request (client side: nodes, city platforms, tests)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    rtime = format_request_time(beijing(now, spec.utc_offset))
    vc = spec.verify_code(key, node_id, rtime, INDEX, "0", rtime[:8], digest(method, path, body))
    return {"X-Node-Id": node_id, "X-Request-Time": rtime, "X-Verify-Code": vc}


def signed_get(spec, key: str, node_id: str, path: str, params: dict | None = None) -> tuple[str, dict[str, str]]:
    """``(path with its query string, headers)`` of a signed GET: the query is encoded once (urlencode, keys in
    the given order, ``None`` values left out) so that what is signed is exactly what is sent."""
    from urllib.parse import urlencode

    query = urlencode([(k, str(v)) for k, v in (params or {}).items() if v is not None])
    target = f"{path}?{query}" if query else path
    return target, sign(spec, key, node_id, "GET", target)


class AuthError(RoucaiError):
    """A signed request refused with HTTP ``status`` (answered over HTTP; if it ever reached the CLI: exit 1)."""

    exit_code = 1

    def __init__(self, status: int, zh: str, en: str):
        super().__init__(zh, en)
        self.status = status


class RequestVerifier:
    def __init__(
        self,
        spec: EnvelopeSpec,
        key_of: Callable[[str], str | None],
        clock: Callable[[], _dt.datetime] | None = None,
        remember: Callable[[str, str, str], bool] | None = None,
    ) -> None:
        """:param remember: ``(node, request_time, verify_code) -> bool`` (True the first time), e.g. the durable
        :meth:`.replaystore.StoredReplayMemory.seen_first`; without it an in-memory guard is used."""
        self.spec = spec
        self.key_of = key_of
        self.guard = spec.replay_guard()
        self.remember = remember
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))

    def verify(self, headers, method: str, path: str, body: bytes, replay: bool = True) -> str:
        """The authenticated node id; raises :class:`AuthError` (401/409) otherwise.  ``replay=False`` leaves the
        replay memory out (a caller's reads that may be repeated: :mod:`.regulator_gate`); the clock window holds."""
        node = headers.get("x-node-id", "")
        rtime = headers.get("x-request-time", "")
        vc = headers.get("x-verify-code", "")
        if not (node and rtime and vc):
            raise AuthError(
                401,
                "缺少签名头 X-Node-Id / X-Request-Time / X-Verify-Code",
                "missing signature headers X-Node-Id / X-Request-Time / X-Verify-Code",
            )
        when = parse_request_time(rtime)
        if when is None:
            raise AuthError(401, "X-Request-Time 应为 yyyyMMddHHmmssSSS", "X-Request-Time must be yyyyMMddHHmmssSSS")
        now = self.clock()
        if abs(when - beijing(now, self.spec.utc_offset)) > self.spec.window:
            raise AuthError(401, "X-Request-Time 超出允许的时钟偏差", "X-Request-Time is outside the clock window")
        key = self.key_of(node) if len(node) <= 20 and node.isdigit() else None
        if key is None:
            raise AuthError(401, "节点未注册或无密钥", "node not registered or has no key")
        try:
            want = self.spec.verify_code(key, node, rtime, INDEX, "0", rtime[:8], digest(method, path, body))
        except RecipeUnavailable:  # the profile's recipe is unknown (a dialect): only the code's form is checkable,
            want = None  # as on the upload path; the clock window and the replay guard still hold
        if want is None:
            n = self.spec.recipe.hex_length
            if len(vc) != n or any(c not in "0123456789abcdefABCDEF" for c in vc):
                raise AuthError(401, f"X-Verify-Code 应为 {n} 位十六进制", f"X-Verify-Code must be {n} hex characters")
        elif not hmac.compare_digest(want.encode(), vc.lower().encode("ascii", "replace")):
            raise AuthError(401, "X-Verify-Code 校验失败", "X-Verify-Code does not match")
        if not replay:
            return node
        first = (
            self.remember(node, rtime, vc)
            if self.remember is not None
            else self.guard.check_and_remember(node, rtime, vc, beijing(now, self.spec.utc_offset))
        )
        if not first:
            raise AuthError(409, "重复提交的请求（重放）", "replayed request")
        return node
