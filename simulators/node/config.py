"""Node configuration: one TOML file, validated before anything starts.

Every problem is a :class:`ConfigError` with a Chinese and an English message
naming the key (the CLI prints it and exits 2).  See
``fixtures/nodes/example-node.toml`` for a documented example, and ``docs/node-config.md``
for every key (rendered from :data:`~simulators.node.config_spec.SECTIONS`, which holds each key's
type, default, bounds, checks and description; :mod:`simulators.node.tomlspec` reads a document
against it).  Besides the sections, the top-level key ``profile`` names the profile the node speaks
(default: the command's ``--profile``, ``$ROUCAI_PROFILE``, else ``reference``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from profiles import ProfileError, load_profile
from profiles.profile import Profile, default_profile_name

from .config_spec import KEY_ENV, OPERATOR_DETAILS, SECTIONS, device_port_url, node_operators, scales_allowed
from .tomlspec import ConfigError, Context, read_sections, typed

__all__ = [
    "KEY_ENV",
    "OPERATOR_DETAILS",
    "ConfigError",
    "DeviceConfig",
    "NodeConfig",
    "device_port_url",
    "load_config",
    "parse_config",
]
#: the top-level keys: the sections and ``profile``
TOP_KEYS = frozenset(s.name for s in SECTIONS) | {"profile"}


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    kind: str
    url: str  #: as written in the file
    port_url: str  #: what pyserial opens (path or sim:// / socket:// URL)
    baud: int = 9600
    poll_s: float = 1.0
    read_max: int = 20
    response_timeout_s: float | None = None
    operator: str | None = None
    stall: str | None = None


@dataclass
class NodeConfig:
    node_code: str
    node_name: str
    node_type: str
    operators: dict[str, str]
    platform_url: str
    key: str
    outbox_path: str
    platform_path: str = "/api/v1/exchange"
    timeout_s: float = 7.0
    fmt: str = "xml"
    max_count: int = 100
    batch_wait_s: float = 5.0
    interval_s: float = 0.2
    backoff_first_s: float = 1.0
    backoff_max_s: float = 300.0
    stop_poll_s: float = 30.0
    stop_enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    devices: list[DeviceConfig] = field(default_factory=list)
    profile: str = "reference"
    source: str = ""
    #: details of operators for manager_base_info (code -> {property, type, reg_id, legal_represent, tel})
    operator_info: dict[str, dict[str, str]] = field(default_factory=dict)
    report_operators: bool = True  #: queue manager_base_info per operator at start (NODE-REC-06)
    push_batches: bool = True  #: load entered batches onto the operators' bound scales (NODE-WHOL-05)
    default_price_fen: int = 1000  #: fen/kg pushed when an entry record has no price

    @property
    def upload_url(self) -> str:
        return self.platform_url.rstrip("/") + self.platform_path

    def operator_name(self, code: str) -> str:
        return self.operators.get(code, "")


def load_config(path: str | Path, profile: Profile | None = None) -> NodeConfig:
    """Read and validate a node configuration file.  Raises :class:`ConfigError` only; a problem in the
    document is :func:`parse_config`'s error with the file's path in front (``node.toml: [upload] …``)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"找不到配置文件 {path}", f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取配置文件 {path}：{exc}", f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件不是有效的 TOML：{exc}", f"config file is not valid TOML: {exc}") from None
    try:
        return parse_config(data, path.resolve().parent, profile, str(path))
    except ConfigError as exc:  # the same error, naming the file too
        raise ConfigError(f"{path}：{exc.zh}", f"{path}: {exc.en}") from None


def parse_config(data: dict[str, Any], base: Path, profile: Profile | None = None, source: str = "") -> NodeConfig:
    """Validate a parsed TOML document (relative paths against ``base``) against
    :data:`~simulators.node.config_spec.SECTIONS`; the first problem raises :class:`ConfigError`."""
    for k in data:
        if k not in TOP_KEYS:
            raise ConfigError(f"未知的配置项 {k!r}", f"unknown configuration key {k!r}")
    prof_name = typed(data.get("profile", default_profile_name()), "profile", str)  # else the command's --profile
    if profile is None:
        try:
            profile = load_profile(prof_name)
        except ProfileError as exc:
            raise ConfigError(f"配置（profile）错误：{exc}", f"profile error: {exc}") from None
    ctx = Context(profile, base)
    doc = read_sections(SECTIONS, data, ctx)
    if doc["devices"]:
        scales_allowed(doc["node"]["node_type"])
    flat = {
        k: v
        for name in ("node", "platform", "outbox", "upload", "stoptrade", "batches", "server")
        for k, v in doc[name].items()
    }
    device_fields = [f.name for f in fields(DeviceConfig)]
    return NodeConfig(
        **flat,
        operators=node_operators(ctx),
        operator_info={
            op["code"]: info for op in doc["operators"] if (info := {k: op[k] for k in OPERATOR_DETAILS if k in op})
        },
        devices=[DeviceConfig(**{k: row[k] for k in device_fields}) for row in doc["devices"]],
        profile=prof_name,
        source=source,
    )
