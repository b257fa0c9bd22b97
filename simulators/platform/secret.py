"""The platform secret and per-node keys.

The VerifyCode recipe is a keyed MAC, so the platform needs each node's key
itself, not a hash of it.  We therefore store **no key** in the database: a
node's key is derived on demand as

    key = HMAC-SHA256(platform_secret, "roucai-node-key|" + node_id + "|" + key_version)[:32 hex]

from a 32-byte platform secret kept in a separate file (mode 0600, never in the
database, never logged), and ``key_version`` (in the database) is bumped to
revoke a key and issue a new one.  A copy of the database alone reveals no
key; the secret file and the database together reveal all of them, so back
them up apart.  The database keeps a fingerprint (first 12 hex of SHA-256 of
the key) so an operator can confirm which key a node holds.

Errors: :class:`SecretError` (configuration: unreadable, malformed, too-open file).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from profiles.errors import RoucaiError

_HEX64 = frozenset("0123456789abcdef")


class SecretError(RoucaiError):
    """The platform secret cannot be used (configuration, exit 2)."""


class PlatformSecret:
    """A 32-byte secret; :meth:`node_key` derives the keys handed to nodes."""

    def __init__(self, raw: bytes):
        if len(raw) != 32:
            raise ValueError("the platform secret is 32 bytes")
        self._raw = raw

    def __repr__(self) -> str:  # never print the secret
        return "PlatformSecret(***)"

    @classmethod
    def load(cls, path: str | Path, *, create: bool = False) -> "PlatformSecret":
        """Read the secret file (64 hex characters); create it (0600) when ``create`` and missing."""
        p = Path(path)
        if not p.exists():
            if not create:
                raise SecretError(f"平台密钥文件不存在：{p}", f"platform secret file not found: {p}")
            try:
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return cls.load(p)  # created by a concurrent start
            except OSError as exc:
                raise SecretError(
                    f"无法创建平台密钥文件 {p}：{exc.strerror}",
                    f"cannot create platform secret file {p}: {exc.strerror}",
                ) from exc
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        try:
            mode = p.stat().st_mode
            text = p.read_text("ascii").strip().lower()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(f"无法读取平台密钥文件 {p}", f"cannot read platform secret file {p}: {exc}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(
                f"平台密钥文件 {p} 权限过宽（应为 600）",
                f"platform secret file {p} is readable by others (chmod 600 it)",
            )
        if len(text) != 64 or not set(text) <= _HEX64:
            raise SecretError(
                f"平台密钥文件 {p} 格式错误（应为 64 位十六进制）",
                f"platform secret file {p} must hold 64 hex characters",
            )
        return cls(bytes.fromhex(text))

    def node_key(self, node_id: str, version: int) -> str:
        """The key of ``node_id`` at ``version`` (≥ 1): 32 lowercase hex characters."""
        msg = f"roucai-node-key|{node_id}|{version}".encode()
        return hmac.new(self._raw, msg, hashlib.sha256).hexdigest()[:32]


def fingerprint(key: str) -> str:
    """First 12 hex of SHA-256 of the key: safe to show and store."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]
