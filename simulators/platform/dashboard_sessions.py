"""Sessions of the regulator's dashboard (监管驾驶舱, issue 14 item 4): a regulator logs in once with its key.

The platform's own design (evidence ``profile``).  ``login(regulator_id, key)`` compares the key, in constant time,
with the regulator's current key (:meth:`.regulators.Regulators.current_key`: a node's key never matches, its
namespace differs) and returns a new session: a random token (the cookie) and a random CSRF token (a hidden
field of every form).  Sessions live in memory only: they end after ``ttl_s``, at logout, when a newer key is
issued to the regulator (checked at every use), and when the platform restarts.  At most ``max_sessions`` are
kept; the oldest is dropped first.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from .regulators import Regulators

#: the session cookie (path /regulator)
COOKIE = "roucai_regulator"
TTL_S = 8 * 3600
MAX_SESSIONS = 1000


@dataclass(frozen=True)
class Session:
    regulator_id: str
    csrf: str
    key_fingerprint: str
    expires: float


class DashboardSessions:
    def __init__(
        self, regulators: Regulators, ttl_s: int = TTL_S, max_sessions: int = MAX_SESSIONS, clock=time.monotonic
    ):
        self.regulators = regulators
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def login(self, regulator_id: str, key: str) -> tuple[str, Session] | None:
        """``(token, session)`` if ``key`` is ``regulator_id``'s current key, else ``None``."""
        if not (len(regulator_id) == 6 and regulator_id.isascii() and regulator_id.isdigit()):
            return None
        want = self.regulators.current_key(regulator_id)
        if want is None or not hmac.compare_digest(want.encode(), (key or "").strip().encode()):
            return None
        token = secrets.token_urlsafe(32)
        session = Session(regulator_id, secrets.token_urlsafe(24), _fp(want), self.clock() + self.ttl_s)
        with self._lock:
            while len(self._by_token) >= self.max_sessions:
                self._by_token.pop(next(iter(self._by_token)))
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token``, else ``None`` (expired, logged out, or the regulator's key changed)."""
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
        if s is None:
            return None
        key = self.regulators.current_key(s.regulator_id)
        if self.clock() > s.expires or key is None or _fp(key) != s.key_fingerprint:
            self.logout(token)
            return None
        return s

    def logout(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


def _fp(key: str) -> str:
    return hmac.new(b"dashboard-session", key.encode(), "sha256").hexdigest()
