"""Node configuration: one TOML file, validated before anything starts.

Every problem is a :class:`ConfigError` with a Chinese and an English message
naming the key (the CLI prints it and exits 2).  See
``fixtures/nodes/example-node.toml`` for a documented example; the keys::

    [node]      code (9-digit node code), name, type (city node type, e.g. farmers_market),
                report_operators (default true: upload each operator's manager_base_info first, NODE-REC-06)
    [[operators]] code (13 digits), name; optional property (1 company, 2 individual),
                type (4-digit business type), reg_id, legal_represent, tel (for manager_base_info).
                A code under another node is an operator registered there: it trades here under that
                code and is not registered again (no manager_base_info from this node, NODE-WHOL-01)
    [platform]  url (http(s)://host:port), path (default /api/v1/exchange),
                key | key_file (a file holding the key, or the JSON written by
                `roucai serve admin import-city --keys-out`) | env ROUCAI_NODE_KEY,
                timeout_s (default: TRAN-UPL-07 client timeout), format xml|json
    [outbox]    path (SQLite file; relative paths are relative to the config file)
    [upload]    max_count (<= the profile's Count limit), batch_wait_s (<= TRAN-UPL-01
                deadline), interval_s, backoff_first_s, backoff_max_s (TRAN-UPL-06 defaults)
    [stoptrade] poll_s (<= 60, NODE-STOP-01), enabled
    [batches]   push (default true: load each operator's entered batches of the day onto its bound scales,
                NODE-WHOL-05), default_price (yuan/kg, default 10, when the entry record carries no price)
    [server]    host (default 127.0.0.1), port (0 = any free port)
    profile     (top-level) the profile name or folder the node speaks (its record forms, envelope, recipe);
                default: the command's ``--profile`` (``$ROUCAI_PROFILE``), else ``reference``
    [[devices]] id, kind = "scale", url (sim://NAME, /dev/pts/N or a pty symlink,
                socket://127.0.0.1:PORT, serial:///dev/ttyUSB0?baud=9600), baud,
                poll_s, read_max, response_timeout_s, operator + stall (bind at start, optional)

Defaults that come from the profile's requirement catalogue are read from it
(``profile_values`` of TRAN-UPL-01/06/07 and the envelope's ``max_count``), so a
city's profile changes them in one place.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from profiles.errors import RoucaiError

#: scheme-less device URLs that are paths (a pty symlink or /dev/tty*)
_DEVICE_SCHEMES = ("sim", "socket", "serial", "")
KEY_ENV = "ROUCAI_NODE_KEY"
#: optional [[operators]] keys that go into the operator's manager_base_info record
OPERATOR_DETAILS = ("property", "type", "reg_id", "legal_represent", "tel")


class ConfigError(RoucaiError):
    """The configuration cannot be used (exit 2)."""


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


def _req(section: dict, key: str, where: str, kind=str):
    if key not in section:
        raise ConfigError(f"缺少 [{where}] {key}", f"[{where}] {key} is missing")
    return _typed(section[key], f"[{where}] {key}", kind)


def _typed(v, name: str, kind):
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if kind is int and isinstance(v, bool) or not isinstance(v, kind):
        want = {
            str: "字符串/string",
            float: "数值/number",
            int: "整数/integer",
            bool: "true/false",
            list: "数组/array",
            dict: "表/table",
        }[kind]
        raise ConfigError(f"{name} 应为 {want.split('/')[0]}", f"{name} must be a {want.split('/')[1]}")
    return v


def _opt(section: dict, key: str, where: str, default, kind):
    return default if key not in section else _typed(section[key], f"[{where}] {key}", kind)


def _range(v: float, lo: float, hi: float, name: str, why_zh: str = "", why_en: str = "") -> None:
    if not lo <= v <= hi:
        raise ConfigError(
            f"{name} 应在 {lo:g}–{hi:g} 之间（{v:g}）{why_zh}",
            f"{name} must be within {lo:g}..{hi:g} (got {v:g}){why_en}",
        )


def _requirement_value(profile, rid: str, key: str, default):
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


def _load_key(plat: dict, base: Path, node_code: str) -> str:
    if "key" in plat:
        key = _typed(plat["key"], "[platform] key", str)
    elif "key_file" in plat:
        path = base / _typed(plat["key_file"], "[platform] key_file", str)
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
    return key


def load_config(path: str | Path, profile=None) -> NodeConfig:
    """Read and validate a node configuration file.  Raises :class:`ConfigError` only."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"找不到配置文件 {path}", f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取配置文件 {path}：{exc}", f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件不是有效的 TOML：{exc}", f"config file is not valid TOML: {exc}") from None
    return parse_config(data, path.resolve().parent, profile, str(path))


def parse_config(data: dict, base: Path, profile=None, source: str = "") -> NodeConfig:
    """Validate a parsed TOML document (relative paths against ``base``)."""
    from profiles import ProfileError, load_profile
    from profiles.profile import default_profile_name

    known = {
        "node",
        "operators",
        "platform",
        "outbox",
        "upload",
        "stoptrade",
        "batches",
        "server",
        "devices",
        "profile",
    }
    for k in data:
        if k not in known:
            raise ConfigError(f"未知的配置项 {k!r}", f"unknown configuration key {k!r}")
    prof_name = _typed(data.get("profile", default_profile_name()), "profile", str)  # else the command's --profile
    if profile is None:
        try:
            profile = load_profile(prof_name)
        except ProfileError as exc:
            raise ConfigError(f"配置（profile）错误：{exc}", f"profile error: {exc}") from None
    codes = profile.codes
    node = _typed(data.get("node", {}), "[node]", dict)
    code = _req(node, "code", "node")
    if not codes.is_valid(code, "node"):
        fs = codes.findings(code, "node")
        raise ConfigError(
            f"[node] code {code!r} 不是有效的节点编码：{fs[0].zh}",
            f"[node] code {code!r} is not a valid node code: {fs[0].en}",
        )
    name = _req(node, "name", "node")
    ntype = _req(node, "type", "node")
    report_operators = _opt(node, "report_operators", "node", True, bool)
    operators: dict[str, str] = {}
    operator_info: dict[str, dict[str, str]] = {}
    for i, op in enumerate(_typed(data.get("operators", []), "[[operators]]", list), 1):
        op = _typed(op, f"[[operators]] #{i}", dict)
        oc = _req(op, "code", f"operators #{i}")
        if not codes.is_valid(oc, "operator"):
            raise ConfigError(
                f"[[operators]] #{i} code {oc!r} 不是有效的经营者编码：{codes.findings(oc, 'operator')[0].zh}",
                f"[[operators]] #{i} code {oc!r} is not a valid operator code: {codes.findings(oc, 'operator')[0].en}",
            )
        operators[oc] = _req(op, "name", f"operators #{i}")
        info = {k: _opt(op, k, f"operators #{i}", "", str) for k in OPERATOR_DETAILS if k in op}
        if info:
            operator_info[oc] = info
    operators.setdefault(codes.operator_code(code, 0), name)

    plat = _typed(data.get("platform", {}), "[platform]", dict)
    url = _req(plat, "url", "platform")
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(
            f"[platform] url 应为 http(s)://主机:端口：{url!r}", f"[platform] url must be http(s)://host:port: {url!r}"
        )
    ppath = _opt(plat, "path", "platform", "/api/v1/exchange", str)
    if not ppath.startswith("/"):
        raise ConfigError("[platform] path 应以 / 开头", "[platform] path must start with /")
    key = _load_key(plat, base, code)
    timeout_default = _requirement_value(profile, "TRAN-UPL-07", "client_timeout_ms", 7000) / 1000
    timeout_s = _opt(plat, "timeout_s", "platform", float(timeout_default), float)
    _range(timeout_s, 0.1, 120, "[platform] timeout_s")
    fmt = _opt(plat, "format", "platform", "xml", str)
    if fmt not in ("xml", "json"):
        raise ConfigError("[platform] format 只能是 xml 或 json", "[platform] format is xml or json")

    ob = _typed(data.get("outbox", {}), "[outbox]", dict)
    opath = Path(_opt(ob, "path", "outbox", "node-outbox.db", str))
    opath = opath if opath.is_absolute() else base / opath
    if opath.is_dir():
        raise ConfigError(f"[outbox] path 是目录：{opath}", f"[outbox] path is a directory: {opath}")
    if not opath.parent.is_dir() or not os.access(opath.parent, os.W_OK):
        raise ConfigError(
            f"[outbox] path 所在目录不存在或不可写：{opath.parent}",
            f"[outbox] path: directory missing or not writable: {opath.parent}",
        )

    up = _typed(data.get("upload", {}), "[upload]", dict)
    limit = profile.envelope.max_count
    max_count = _opt(up, "max_count", "upload", min(100, limit), int)
    _range(
        max_count,
        1,
        limit,
        "[upload] max_count",
        "（报文 Count 上限，TRAN-ENV-07）",
        " (the envelope Count limit, TRAN-ENV-07)",
    )
    deadline = _requirement_value(profile, "TRAN-UPL-01", "deadline_s", 600)
    wait = _opt(up, "batch_wait_s", "upload", 5.0, float)
    _range(
        wait,
        0,
        deadline / 2,
        "[upload] batch_wait_s",
        "（须远小于上传时限 TRAN-UPL-01）",
        " (must stay well inside the upload deadline, TRAN-UPL-01)",
    )
    interval = _opt(up, "interval_s", "upload", 0.2, float)
    _range(interval, 0.01, 60, "[upload] interval_s")
    first = _opt(
        up, "backoff_first_s", "upload", float(_requirement_value(profile, "TRAN-UPL-06", "first_retry_s", 1)), float
    )
    cap = _opt(
        up, "backoff_max_s", "upload", float(_requirement_value(profile, "TRAN-UPL-06", "max_backoff_s", 300)), float
    )
    _range(first, 0.01, 60, "[upload] backoff_first_s")
    _range(cap, first, 3600, "[upload] backoff_max_s")

    st = _typed(data.get("stoptrade", {}), "[stoptrade]", dict)
    stop_poll = _opt(st, "poll_s", "stoptrade", 30.0, float)
    _range(
        stop_poll,
        0.05,
        60,
        "[stoptrade] poll_s",
        "（至少每60秒取一次，NODE-STOP-01）",
        " (fetch at least every 60 s, NODE-STOP-01)",
    )
    stop_enabled = _opt(st, "enabled", "stoptrade", True, bool)

    bt = _typed(data.get("batches", {}), "[batches]", dict)
    push_batches = _opt(bt, "push", "batches", True, bool)
    price = _opt(bt, "default_price", "batches", 10.0, float)
    _range(price, 0.01, 99999.99, "[batches] default_price")

    srv = _typed(data.get("server", {}), "[server]", dict)
    host = _opt(srv, "host", "server", "127.0.0.1", str)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"[server] host 应为 IP 地址：{host!r}", f"[server] host must be an IP address: {host!r}"
        ) from None
    port = _opt(srv, "port", "server", 0, int)
    _range(port, 0, 65535, "[server] port")

    devices: list[DeviceConfig] = []
    for i, d in enumerate(_typed(data.get("devices", []), "[[devices]]", list), 1):
        d = _typed(d, f"[[devices]] #{i}", dict)
        where = f"[[devices]] #{i}"
        did = _req(d, "id", where)
        if any(x.id == did for x in devices):
            raise ConfigError(f"{where}：设备 id {did!r} 重复", f"{where}: device id {did!r} is used twice")
        kind = _opt(d, "kind", where, "scale", str)
        if kind != "scale":
            raise ConfigError(
                f'{where}：节点只从电子秤采集数据（kind = "scale"），不支持 {kind!r}',
                f'{where}: the node collects from scales only (kind = "scale"), not {kind!r}',
            )
        durl = _req(d, "url", where)
        port_url, qbaud = device_port_url(durl, where)
        baud = _opt(d, "baud", where, qbaud or 9600, int)
        _range(baud, 50, 4_000_000, f"{where} baud")
        poll = _opt(d, "poll_s", where, 1.0, float)
        _range(poll, 0.01, 600, f"{where} poll_s")
        read_max = _opt(d, "read_max", where, 20, int)
        _range(read_max, 1, 255, f"{where} read_max")
        rto = _opt(d, "response_timeout_s", where, None, float) if "response_timeout_s" in d else None
        if rto is not None:
            _range(rto, 0.01, 30, f"{where} response_timeout_s")
        op = _opt(d, "operator", where, None, str) if "operator" in d else None
        stall = _opt(d, "stall", where, None, str) if "stall" in d else None
        if op is not None and op not in operators:
            raise ConfigError(
                f"{where}：operator {op!r} 不在 [[operators]] 中",
                f"{where}: operator {op!r} is not listed in [[operators]]",
            )
        if (op is None) != (stall is None):
            raise ConfigError(
                f"{where}：operator 与 stall 须同时给出", f"{where}: give both operator and stall, or neither"
            )
        devices.append(DeviceConfig(did, kind, durl, port_url, baud, poll, read_max, rto, op, stall))
    if devices:
        from .sales import SaleMapper, SaleMappingError

        try:
            SaleMapper.role_for(ntype)
        except SaleMappingError as exc:
            raise ConfigError(exc.zh, exc.en) from None
    return NodeConfig(
        code,
        name,
        ntype,
        operators,
        url,
        key,
        str(opath),
        ppath,
        timeout_s,
        fmt,
        max_count,
        wait,
        interval,
        first,
        cap,
        stop_poll,
        stop_enabled,
        host,
        port,
        devices,
        prof_name,
        source,
        operator_info,
        report_operators,
        push_batches=push_batches,
        default_price_fen=round(price * 100),
    )
