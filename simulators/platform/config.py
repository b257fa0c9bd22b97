"""Start-up configuration of a platform instance, validated before anything starts.

Every problem is a :class:`ConfigError` with a Chinese and an English message;
the CLI reports it and exits 2.  Nothing is bound or opened by validation
except the secret file, which is created (0600) on first start when missing.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from profiles.errors import RoucaiError

#: defaults (profile-independent; each is the platform's own choice, see docs/platform.md)
DEFAULT_PORT = 8553  # the port of the Changchun platform in practice (standards.md §4.3)
DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_FEED_INTERVAL_S = 60.0


class ConfigError(RoucaiError):
    """The configuration cannot be used (exit 2)."""


@dataclass
class PlatformConfig:
    """Settings of one platform instance.

    :param db: ``postgresql://…`` or a SQLite file path (default ``platform.db``).
    :param secret_file: the platform secret (keys are derived from it); default: beside
        the SQLite file as ``<db>.secret``; required for PostgreSQL.
    :param role: ``city`` (nodes upload to it) or ``central`` (city platforms feed it).
    :param upstream: a city's central platform (``http://host:port``) to feed, or ``None``.
    :param platform_id: this city's id at the central platform (6-digit GB/T 2260 code).
    :param upstream_key: the key the central platform issued to this city.
    :param max_body: largest request body accepted, bytes (413 above it, before reading it).
    :param stop_ack_deadline_s: a stop-trade instruction not acknowledged within this many seconds is
        flagged ``overdue`` (the alert of PLAT-STOP-02; the profile's value is 600 s), 1..86400.
    :param offline_after_s: a node silent for longer than this many seconds shows ``offline``
        (PLAT-MON-01); ``None``: ``platform.toml [monitor] offline_after_s`` (900 s), else 1..86400.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    db: str = "platform.db"
    role: str = "city"
    upstream: str | None = None
    platform_id: str | None = None
    upstream_key: str | None = None
    secret_file: str | None = None
    profile: str = "reference"
    max_body: int = DEFAULT_MAX_BODY
    feed_interval_s: float = DEFAULT_FEED_INTERVAL_S
    stop_ack_deadline_s: float = 600.0
    offline_after_s: int | None = None
    log_level: str = "info"
    tls_cert: str | None = None  #: PEM certificate: serve HTTPS (with tls_key); see simulators/tls.py
    tls_key: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def is_postgres(self) -> bool:
        return self.db.startswith(("postgresql://", "postgres://"))

    def resolved_secret_file(self) -> str:
        if self.secret_file:
            return self.secret_file
        if self.is_postgres or self.db == ":memory:":
            raise ConfigError(
                "使用 PostgreSQL 或内存数据库时必须给出 --secret-file FILE（文件不存在时自动创建，权限 0600；"
                "同一数据库须始终用同一个文件，节点密钥由它派生）",
                "--secret-file FILE is required with PostgreSQL or an in-memory database (created, "
                "mode 0600, if it does not exist; keep the same file for the same database: node keys "
                "derive from it)",
            )
        path = self.db[len("sqlite:///") :] if self.db.startswith("sqlite:///") else self.db
        return path + ".secret"

    def validate(self) -> "PlatformConfig":
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            if self.host != "localhost":
                raise ConfigError(f"--host 应为 IP 地址：{self.host!r}", f"--host must be an IP address: {self.host!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port 超出范围：{self.port}", f"--port out of range: {self.port}")
        if self.role not in ("city", "central"):
            raise ConfigError("--role 只能是 city 或 central", "--role is city or central")
        if self.upstream is not None:
            if self.role != "city":
                raise ConfigError(
                    "只有城市平台（--role city）可以设置 --upstream",
                    "only a city platform (--role city) has an --upstream",
                )
            u = urlsplit(self.upstream)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise ConfigError(
                    f"--upstream 应为 http(s)://主机:端口：{self.upstream!r}",
                    f"--upstream must be http(s)://host:port: {self.upstream!r}",
                )
            if not (self.platform_id and len(self.platform_id) == 6 and self.platform_id.isdigit()):
                raise ConfigError(
                    "使用 --upstream 时须给出 --platform-id（6位行政区划代码）",
                    "--upstream needs --platform-id (a 6-digit GB/T 2260 code)",
                )
            if not self.upstream_key:
                raise ConfigError(
                    "使用 --upstream 时须给出中央平台签发的密钥：--upstream-key-file 或环境变量 ROUCAI_UPSTREAM_KEY",
                    "--upstream needs the key the central platform issued: --upstream-key-file or "
                    "the environment variable ROUCAI_UPSTREAM_KEY",
                )
        if not 1024 <= self.max_body <= 512 * 1024 * 1024:
            raise ConfigError("--max-body 应在 1 KiB 到 512 MiB 之间", "--max-body must be 1 KiB..512 MiB")
        if not 0.2 <= self.feed_interval_s <= 86400:
            raise ConfigError("--feed-interval 应在 0.2 到 86400 秒之间", "--feed-interval must be 0.2..86400 s")
        if not 1 <= self.stop_ack_deadline_s <= 86400:
            raise ConfigError("--stop-ack-deadline 应在 1 到 86400 秒之间", "--stop-ack-deadline must be 1..86400 s")
        if self.offline_after_s is not None and not 1 <= self.offline_after_s <= 86400:
            raise ConfigError("--offline-after 应在 1 到 86400 秒之间", "--offline-after must be 1..86400 s")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError("--log-level 只能是 debug/info/warning/error", "--log-level: debug|info|warning|error")
        if not self.is_postgres and self.db != ":memory:":
            path = Path(self.db[len("sqlite:///") :] if self.db.startswith("sqlite:///") else self.db)
            if path.is_dir():
                raise ConfigError(f"--db 是目录而不是文件：{path}", f"--db is a directory, not a file: {path}")
            parent = path.resolve().parent
            if not parent.is_dir():
                raise ConfigError(f"--db 所在目录不存在：{parent}", f"--db directory does not exist: {parent}")
            if not os.access(parent, os.W_OK):
                raise ConfigError(f"--db 所在目录不可写：{parent}", f"--db directory is not writable: {parent}")
        self.resolved_secret_file()
        from profiles import ProfileError, load_profile

        try:
            prof = load_profile(self.profile)
        except ProfileError as exc:
            raise ConfigError(f"配置（profile）错误：{exc}", f"profile error: {exc}") from exc
        self._validate_tls(prof)
        return self

    def _validate_tls(self, prof) -> None:
        """Both of tls_cert/tls_key or neither, loadable; a profile whose transport requires TLS needs them
        to serve (``extra["serving"]``: the admin commands work on the database without a certificate)."""
        from simulators.tls import TlsError, check_pair

        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--tls-cert 与 --tls-key 须同时给出", "--tls-cert and --tls-key go together")
        if self.tls_cert:
            try:
                check_pair(self.tls_cert, self.tls_key)
            except TlsError as exc:
                raise ConfigError(exc.zh, exc.en) from None
        elif prof.transport.get("tls", {}).get("mode") == "required" and self.extra.get("serving"):
            raise ConfigError(
                f"配置 {prof.name} 要求 HTTPS：请加 --tls-self-signed DIR 或 --tls-cert/--tls-key",
                f"profile {prof.name} requires HTTPS: add --tls-self-signed DIR or --tls-cert/--tls-key",
            )
