"""Targets are URLs (DESIGN.md): what the suites judge.

=====================================  ===========================================
``builtin``                            the reference implementations and simulated devices
``builtin?variant=NAME``               the same with one deliberately broken variant (conformance/variants.toml)
``serial:///dev/ttyUSB0?baud=9600``    a device on a serial port (baud, bytesize, parity, stopbits)
``sim://scale-01``                     a simulated device in this process (pyserial ``sim://``)
``socket://127.0.0.1:7001``            a device (or a simulator) in another process, over TCP
``http://127.0.0.1:8080``              a platform (the harness plays nodes and consumers)
``node``                               node software, started from the statement's ``[target] start_command``
=====================================  ===========================================

Errors: :class:`TargetError` (a usage error, exit 2) for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from profiles.errors import RoucaiError

_SERIAL_OPTS = {
    "baud": ("baudrate", int),
    "bytesize": ("bytesize", int),
    "parity": ("parity", str),
    "stopbits": ("stopbits", float),
    "timeout": ("timeout", float),
}


class TargetError(RoucaiError):
    """A ``--target`` that cannot be parsed (exit 2)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str

    variant: str | None = None

    @property
    def is_builtin(self) -> bool:
        return self.scheme == "builtin"

    @property
    def is_device(self) -> bool:
        return self.scheme in ("serial", "sim", "socket")

    @property
    def is_node(self) -> bool:
        return self.scheme == "node"

    @property
    def is_platform(self) -> bool:
        return self.scheme in ("http", "https")

    def serial_open_args(self) -> tuple[str, dict]:
        """(url-or-path for ``serial.serial_for_url``, keyword options) of a device target."""
        parts = urlsplit(self.url)
        if self.scheme != "serial":
            return self.url, {}
        opts: dict = {}
        for key, vals in parse_qs(parts.query).items():
            name, conv = _SERIAL_OPTS[key]
            opts[name] = conv(vals[-1])
        return parts.path, opts


def parse_target(url: str) -> Target:
    """Validate a target URL; raise :class:`TargetError` with a bilingual message."""
    if url == "builtin":
        return Target(url, "builtin")
    if url == "node":
        return Target(url, "node")
    if url.startswith("builtin?"):
        q = parse_qs(url.partition("?")[2])
        names = q.pop("variant", [])
        if q or len(names) != 1:
            raise TargetError(
                "内置目标只接受一个参数 variant，例如 builtin?variant=reuses-trace-codes",
                "the builtin target takes one option, variant, e.g. builtin?variant=reuses-trace-codes",
            )
        from .variants import load_variants

        known = load_variants()
        if names[0] not in known:
            raise TargetError(
                f"未知的缺陷变体「{names[0]}」，可选：{', '.join(sorted(known))}",
                f"unknown variant {names[0]!r}; known: {', '.join(sorted(known))}",
            )
        return Target(url, "builtin", names[0])
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "serial":
        if not parts.path:
            raise TargetError(
                "串口目标需要设备路径，例如 serial:///dev/ttyUSB0?baud=9600",
                "a serial target needs a device path, e.g. serial:///dev/ttyUSB0?baud=9600",
            )
        for key, vals in parse_qs(parts.query).items():
            if key not in _SERIAL_OPTS:
                raise TargetError(
                    f"串口参数「{key}」未知，可用：{', '.join(_SERIAL_OPTS)}",
                    f"unknown serial option {key!r}; known: {', '.join(_SERIAL_OPTS)}",
                )
            try:
                _SERIAL_OPTS[key][1](vals[-1])
            except ValueError:
                raise TargetError(
                    f"串口参数 {key}={vals[-1]} 不是数值", f"serial option {key}={vals[-1]} is not a number"
                )
        return Target(url, "serial")
    if scheme == "sim":
        if not parts.netloc:
            raise TargetError(
                "sim 目标需要设备名，例如 sim://scale-01", "a sim target needs a name, e.g. sim://scale-01"
            )
        return Target(url, "sim")
    if scheme in ("socket", "http", "https"):
        if not parts.hostname or (scheme == "socket" and not parts.port):
            raise TargetError(
                f"{scheme} 目标需要主机和端口，例如 {scheme}://127.0.0.1:8080",
                f"a {scheme} target needs host and port, e.g. {scheme}://127.0.0.1:8080",
            )
        return Target(url.rstrip("/"), scheme)
    raise TargetError(
        f"无法识别的目标「{url}」：可用 builtin、node、serial://、sim://、socket://、http://",
        f"unrecognised target {url!r}: use builtin, node, serial://, sim://, socket:// or http://",
    )
