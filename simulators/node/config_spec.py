"""The node's configuration file as data: every section and key, its type, default, bounds, checks and
zh/en description (:data:`SECTIONS`), read by :func:`simulators.node.tomlspec.read_sections`.

Defaults and bounds that come from the profile's requirement catalogue are read from it
(``profile_values`` of TRAN-UPL-01/06/07 and the envelope's ``max_count``), so a city's profile changes
them in one place.  Every check names the key in its zh and en message.  ``docs/node-config.md`` is
rendered from :data:`SECTIONS` (:func:`simulators.node.config_doc.render`; a test compares).
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .sales import SaleMapper, SaleMappingError
from .tomlspec import OMIT, Check, ConfigError, Context, Derived, Field, Row, Section, typed

#: scheme-less device URLs that are paths (a pty symlink or /dev/tty*)
_DEVICE_SCHEMES = ("sim", "socket", "serial", "")
KEY_ENV = "ROUCAI_NODE_KEY"


def _requirement_value(profile: Any, rid: str, key: str, default: float) -> Any:
    try:
        return profile.requirements.get(rid).profile_values.get(key, default)
    except Exception:  # a profile without the requirement keeps the built-in default
        return default


def device_port_url(url: str, where: str) -> tuple[str, int | None]:
    """What pyserial opens for a configured device URL, and a baud rate given in it (``?baud=``)."""
    u = urlsplit(url)
    scheme = u.scheme.lower()
    if scheme not in _DEVICE_SCHEMES:
        raise ConfigError(
            f"{where}：不支持的设备地址 {url!r}（可用 sim://、socket://、serial://、设备路径）",
            f"{where}: unsupported device URL {url!r} (use sim://, socket://, serial:// or a path)",
        )
    baud = None
    q = parse_qs(u.query)
    if "baud" in q:
        try:
            baud = int(q["baud"][0])
        except ValueError:
            raise ConfigError(f"{where}：baud 应为整数", f"{where}: baud must be an integer") from None
    if scheme == "serial":
        path = u.path or u.netloc
        if not path.startswith("/"):
            raise ConfigError(
                f"{where}：serial:// 后应为绝对路径，如 serial:///dev/ttyUSB0",
                f"{where}: serial:// needs an absolute path, e.g. serial:///dev/ttyUSB0",
            )
        return path, baud
    if scheme == "":
        if not url.startswith("/"):
            raise ConfigError(
                f"{where}：设备路径应为绝对路径：{url!r}", f"{where}: a device path must be absolute: {url!r}"
            )
        return u.path, baud
    if scheme == "socket":
        if not u.hostname or not u.port:
            raise ConfigError(f"{where}：socket:// 需要主机和端口", f"{where}: socket:// needs host and port")
        return f"socket://{u.hostname}:{u.port}", baud
    if not u.netloc:
        raise ConfigError(f"{where}：sim:// 需要线路名", f"{where}: sim:// needs a line name")
    return f"sim://{u.netloc}", baud


def load_key(plat: dict[str, Any], base: Path, node_code: str) -> str:
    """The node key: ``[platform] key``, else ``key_file`` (plain or JSON by node code), else ``$ROUCAI_NODE_KEY``."""
    if "key" in plat:
        key = typed(plat["key"], "[platform] key", str)
    elif "key_file" in plat:
        path = base / typed(plat["key_file"], "[platform] key_file", str)
        try:
            text = path.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"无法读取 [platform] key_file {path}：{exc.strerror}",
                f"cannot read [platform] key_file {path}: {exc.strerror}",
            ) from None
        if text.startswith("{"):
            try:
                key = json.loads(text).get(node_code)
            except (ValueError, AttributeError):
                raise ConfigError(f"{path} 不是有效的 JSON 密钥文件", f"{path} is not a valid JSON key file") from None
            if not isinstance(key, str):
                raise ConfigError(f"{path} 中没有节点 {node_code} 的密钥", f"{path} holds no key for node {node_code}")
        else:
            key = text
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV]
    else:
        raise ConfigError(
            f"缺少节点密钥：[platform] key、key_file 或环境变量 {KEY_ENV}",
            f"no node key: set [platform] key, key_file or the environment variable {KEY_ENV}",
        )
    if not key or len(key) > 512 or any(ord(c) < 0x21 for c in key):
        raise ConfigError(
            "节点密钥为空或含空白/控制字符", "the node key is empty or holds whitespace/control characters"
        )
    return str(key)  # a str here (checked above); str() for the type checker


def from_profile(rid: str, key: str, fallback: float, scale: float = 1.0) -> Derived:
    """The profile's ``profile_values[key]`` of requirement ``rid`` (``fallback`` without it), times ``scale``."""
    times = "" if scale == 1 else f" × {scale:g}"
    return Derived(
        lambda ctx, row: float(_requirement_value(ctx.profile, rid, key, fallback) * scale),
        f"配置（profile）{rid} {key}{times}（缺省 {fallback * scale:g}）",
        f"the profile's {rid} {key}{times} (else {fallback * scale:g})",
    )


def _valid_code(kind: str, zh_kind: str, en_kind: str) -> Check:
    def check(code: str, where: str, row: Row, ctx: Context) -> str:
        codes = ctx.profile.codes
        if not codes.is_valid(code, kind):
            fs = codes.findings(code, kind)
            raise ConfigError(
                f"{where} code {code!r} 不是有效的{zh_kind}：{fs[0].zh}",
                f"{where} code {code!r} is not a valid {en_kind}: {fs[0].en}",
            )
        return code

    return check


def _platform_url(url: str, where: str, row: Row, ctx: Context) -> str:
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(
            f"{where} url 应为 http(s)://主机:端口：{url!r}", f"{where} url must be http(s)://host:port: {url!r}"
        )
    return url


def _absolute_path(path: str, where: str, row: Row, ctx: Context) -> str:
    if not path.startswith("/"):
        raise ConfigError(f"{where} path 应以 / 开头", f"{where} path must start with /")
    return path


def _one_of(*allowed: str) -> Check:
    def check(value: str, where: str, row: Row, ctx: Context) -> str:
        if value not in allowed:
            raise ConfigError(f"{where} format 只能是 xml 或 json", f"{where} format is xml or json")
        return value

    return check


def _outbox_file(path: str, where: str, row: Row, ctx: Context) -> str:
    opath = Path(path)
    opath = opath if opath.is_absolute() else ctx.base / opath
    if opath.is_dir():
        raise ConfigError(f"{where} path 是目录：{opath}", f"{where} path is a directory: {opath}")
    if not opath.parent.is_dir() or not os.access(opath.parent, os.W_OK):
        raise ConfigError(
            f"{where} path 所在目录不存在或不可写：{opath.parent}",
            f"{where} path: directory missing or not writable: {opath.parent}",
        )
    return str(opath)


def _ip_address(host: str, where: str, row: Row, ctx: Context) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"{where} host 应为 IP 地址：{host!r}", f"{where} host must be an IP address: {host!r}"
        ) from None
    return host


def _to_fen(yuan: float, where: str, row: Row, ctx: Context) -> int:
    return round(yuan * 100)


def _unique_id(did: str, where: str, row: Row, ctx: Context) -> str:
    if any(x["id"] == did for x in ctx.items):
        raise ConfigError(f"{where}：设备 id {did!r} 重复", f"{where}: device id {did!r} is used twice")
    return did


def _scale_kind(kind: str, where: str, row: Row, ctx: Context) -> str:
    if kind != "scale":
        raise ConfigError(
            f'{where}：节点只从电子秤采集数据（kind = "scale"），不支持 {kind!r}',
            f'{where}: the node collects from scales only (kind = "scale"), not {kind!r}',
        )
    return kind


def _device_url(url: str, where: str, row: Row, ctx: Context) -> str:
    row["port_url"], row["url_baud"] = device_port_url(url, where)
    return url


def node_operators(ctx: Context) -> dict[str, str]:
    """Code -> name of the operators listed, and the node's own ``…0000`` operator (the node's name)."""
    node = ctx.doc["node"]
    operators = {op["code"]: op["name"] for op in ctx.doc["operators"]}
    operators.setdefault(ctx.profile.codes.operator_code(node["node_code"], 0), node["node_name"])
    return operators


def _listed_operator(where: str, row: Row, ctx: Context) -> None:
    op = row["operator"]
    if op is not None and op not in node_operators(ctx):
        raise ConfigError(
            f"{where}：operator {op!r} 不在 [[operators]] 中",
            f"{where}: operator {op!r} is not listed in [[operators]]",
        )


def _operator_with_stall(where: str, row: Row, ctx: Context) -> None:
    if (row["operator"] is None) != (row["stall"] is None):
        raise ConfigError(
            f"{where}：operator 与 stall 须同时给出", f"{where}: give both operator and stall, or neither"
        )


def scales_allowed(node_type: str) -> None:
    """:class:`ConfigError` when scales make no record at a node of this type."""
    try:
        SaleMapper.role_for(node_type)
    except SaleMappingError as exc:
        raise ConfigError(exc.zh, exc.en) from None


def _node_key(table: dict[str, Any], ctx: Context) -> str:
    return load_key(table, ctx.base, ctx.doc["node"]["node_code"])


#: the optional [[operators]] keys of manager_base_info (OPERATOR_DETAILS) and their descriptions
_OPERATOR_DETAIL_DOCS = (
    ("property", "性质：1 企业，2 个体（manager_base_info）", "1 company, 2 individual (manager_base_info)"),
    ("type", "4 位经营类型（manager_base_info）", "4-digit business type (manager_base_info)"),
    ("reg_id", "登记证号（manager_base_info）", "registration id (manager_base_info)"),
    ("legal_represent", "法定代表人（manager_base_info）", "legal representative (manager_base_info)"),
    ("tel", "电话（manager_base_info）", "phone (manager_base_info)"),
)
#: optional [[operators]] keys that go into the operator's manager_base_info record
OPERATOR_DETAILS = tuple(k for k, _, _ in _OPERATOR_DETAIL_DOCS)

_MAX_COUNT = Derived(
    lambda ctx, row: ctx.profile.envelope.max_count,
    "配置（profile）报文 Count 上限（TRAN-ENV-07）",
    "the profile's envelope Count limit (TRAN-ENV-07)",
)

SECTIONS: tuple[Section, ...] = (
    Section(
        "node",
        (
            Field(
                "code",
                str,
                "9 位节点编码（CODE-NODE-01..03），每个报文的 NodeId",
                "9-digit node code (CODE-NODE-01..03), the NodeId of every envelope",
                attr="node_code",
                check=_valid_code("node", "节点编码", "node code"),
            ),
            Field(
                "name",
                str,
                "节点名称，写入记录的 `*_name` 字段",
                "node name, written into the records' `*_name` fields",
                attr="node_name",
            ),
            Field(
                "type",
                str,
                "城市节点类型（如 farmers_market），决定电子秤销售成为哪种记录",
                "city node type (e.g. farmers_market); decides which record a scale sale becomes",
                attr="node_type",
            ),
            Field(
                "report_operators",
                bool,
                "启动时先上传每个经营者的 manager_base_info（NODE-REC-06）",
                "upload each operator's manager_base_info first (NODE-REC-06)",
                default=True,
            ),
        ),
        "节点本身",
        "the node itself",
    ),
    Section(
        "operators",
        (
            Field(
                "code",
                str,
                "13 位经营者编码；其他节点下的编码是在那里登记的经营者，在此交易但不再登记（NODE-WHOL-01）",
                "13-digit operator code; a code under another node is an operator registered there: it trades here and is not registered again (NODE-WHOL-01)",
                check=_valid_code("operator", "经营者编码", "operator code"),
            ),
            Field("name", str, "经营者名称", "operator name"),
            *(Field(k, str, zh, en, default=OMIT) for k, zh, en in _OPERATOR_DETAIL_DOCS),
        ),
        "本节点读取其电子秤的经营者；节点自己的 …0000 经营者未列出时以节点名称补上",
        "operators whose scales this node reads; the node's own …0000 operator is added with the node's name when not listed",
        array=True,
    ),
    Section(
        "platform",
        (
            Field(
                "url",
                str,
                "城市平台 http(s)://主机:端口",
                "the city platform, http(s)://host:port",
                attr="platform_url",
                check=_platform_url,
            ),
            Field(
                "path",
                str,
                "上传路径，以 / 开头",
                "upload path, starting with /",
                default="/api/v1/exchange",
                attr="platform_path",
                check=_absolute_path,
            ),
            Field(
                "key",
                str,
                f"节点密钥；或 key_file（存有密钥的文件，或 `roucai serve admin import-city --keys-out` 写的 JSON，相对本文件）；或环境变量 {KEY_ENV}",
                f"the node key; or key_file (a file holding the key, or the JSON written by `roucai serve admin import-city --keys-out`, relative to this file); or the environment variable {KEY_ENV}",
                read=_node_key,
            ),
            Field(
                "timeout_s",
                float,
                "客户端超时（秒）",
                "client timeout (s)",
                default=from_profile("TRAN-UPL-07", "client_timeout_ms", 7000, 1 / 1000),
                lo=0.1,
                hi=120,
            ),
            Field(
                "format",
                str,
                "xml 或 json（配置的 JSON 形式）",
                "xml or json (the profile's JSON form)",
                default="xml",
                attr="fmt",
                check=_one_of("xml", "json"),
            ),
        ),
        "城市平台",
        "the city platform",
    ),
    Section(
        "outbox",
        (
            Field(
                "path",
                str,
                "持久发件箱（SQLite）；相对路径相对本文件",
                "durable outbox (SQLite); a relative path is relative to this file",
                default="node-outbox.db",
                attr="outbox_path",
                check=_outbox_file,
            ),
        ),
        "发件箱",
        "the outbox",
    ),
    Section(
        "upload",
        (
            Field(
                "max_count",
                int,
                "每个报文的记录数",
                "records per envelope",
                default=Derived(
                    lambda ctx, row: min(100, ctx.profile.envelope.max_count),
                    "100（不超过 Count 上限）",
                    "100 (at most the Count limit)",
                ),
                lo=1,
                hi=_MAX_COUNT,
                why=("（报文 Count 上限，TRAN-ENV-07）", " (the envelope Count limit, TRAN-ENV-07)"),
            ),
            Field(
                "batch_wait_s",
                float,
                "未满的报文等待这么久后发出（TRAN-UPL-02）",
                "a part-filled envelope leaves after this wait (TRAN-UPL-02)",
                default=5.0,
                lo=0,
                hi=from_profile("TRAN-UPL-01", "deadline_s", 600, 0.5),
                why=("（须远小于上传时限 TRAN-UPL-01）", " (must stay well inside the upload deadline, TRAN-UPL-01)"),
            ),
            Field(
                "interval_s",
                float,
                "空闲时查看发件箱的间隔",
                "how often the uploader looks at the outbox when idle",
                default=0.2,
                lo=0.01,
                hi=60,
            ),
            Field(
                "backoff_first_s",
                float,
                "失败后第一次重试的等待，此后加倍",
                "the wait before the first retry after a failure, doubled after",
                default=from_profile("TRAN-UPL-06", "first_retry_s", 1),
                lo=0.01,
                hi=60,
                late=True,
            ),
            Field(
                "backoff_max_s",
                float,
                "重试等待的上限",
                "the cap of the retry wait",
                default=from_profile("TRAN-UPL-06", "max_backoff_s", 300),
                lo=Derived(lambda ctx, row: row["backoff_first_s"], "`backoff_first_s`", "`backoff_first_s`"),
                hi=3600,
                late=True,
            ),
        ),
        "上传",
        "uploading",
    ),
    Section(
        "stoptrade",
        (
            Field(
                "poll_s",
                float,
                "获取停止交易指令的间隔",
                "how often stop-trade instructions are fetched",
                default=30.0,
                lo=0.05,
                hi=60,
                why=("（至少每60秒取一次，NODE-STOP-01）", " (fetch at least every 60 s, NODE-STOP-01)"),
                attr="stop_poll_s",
            ),
            Field(
                "enabled",
                bool,
                "是否获取停止交易指令",
                "whether stop-trade instructions are fetched",
                default=True,
                attr="stop_enabled",
            ),
        ),
        "停止交易（NODE-STOP-01）",
        "stop-trade (NODE-STOP-01)",
    ),
    Section(
        "batches",
        (
            Field(
                "push",
                bool,
                "交易前把每个经营者当天录入的批次装到其绑定的电子秤（NODE-WHOL-05）",
                "load each operator's entered batches of the day onto its bound scales before trading (NODE-WHOL-05)",
                default=True,
                attr="push_batches",
            ),
            Field(
                "default_price",
                float,
                "进场记录无价格时下发的单价（元/千克）",
                "price pushed when the entry record has none (yuan/kg)",
                default=10.0,
                lo=0.01,
                hi=99999.99,
                attr="default_price_fen",
                check=_to_fen,
            ),
        ),
        "批次下发",
        "batch push",
    ),
    Section(
        "server",
        (
            Field(
                "host",
                str,
                "节点 HTTP 端口绑定的 IP 地址",
                "the IP address the node's HTTP port binds",
                default="127.0.0.1",
                check=_ip_address,
            ),
            Field(
                "port",
                int,
                "节点 HTTP 端口；0 为任一空闲端口",
                "the node's HTTP port; 0: any free port",
                default=0,
                lo=0,
                hi=65535,
            ),
        ),
        "节点的 HTTP 服务（/healthz、手持终端上传、发件箱）",
        "the node's HTTP server (/healthz, handheld uploads, outbox)",
    ),
    Section(
        "devices",
        (
            Field("id", str, "设备 id，不可重复", "device id, unique", check=_unique_id),
            Field("kind", str, "只能是 scale", "scale only", default="scale", check=_scale_kind),
            Field(
                "url",
                str,
                "sim://线路名、设备路径或 pty 链接、socket://127.0.0.1:端口、serial:///dev/ttyUSB0?baud=9600",
                "sim://NAME, a device path or pty symlink, socket://127.0.0.1:PORT, serial:///dev/ttyUSB0?baud=9600",
                check=_device_url,
            ),
            Field(
                "baud",
                int,
                "波特率",
                "baud rate",
                default=Derived(
                    lambda ctx, row: row["url_baud"] or 9600,
                    "url 中的 ?baud=，否则 9600",
                    "the url's ?baud=, else 9600",
                ),
                lo=50,
                hi=4_000_000,
            ),
            Field(
                "poll_s", float, "读取存储记录的间隔", "how often stored records are read", default=1.0, lo=0.01, hi=600
            ),
            Field(
                "read_max",
                int,
                "每个 READ_RECORDS 请求的记录数",
                "records per READ_RECORDS request",
                default=20,
                lo=1,
                hi=255,
            ),
            Field(
                "response_timeout_s",
                float,
                "应答超时（秒），缺省为线路的",
                "response timeout (s), default: the line's",
                default=None,
                lo=0.01,
                hi=30,
            ),
            Field(
                "operator",
                str,
                "启动时把电子秤绑定到该经营者（须在 [[operators]] 中）",
                "bind the scale to this operator at start (listed in [[operators]])",
                default=None,
            ),
            Field(
                "stall",
                str,
                "……的这个摊位（与 operator 同时给出）",
                "… at this stall (given with operator)",
                default=None,
            ),
        ),
        "电子秤，每台一个表",
        "scales, one table each",
        array=True,
        rules=(_listed_operator, _operator_with_stall),
    ),
)
