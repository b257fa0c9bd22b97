"""Pre-flight of a certification run: is the target there and set up, before any test runs?

A setup problem is never a verdict.  :func:`reachable` comes first (is anything there at all?
before even a capability statement is required), then :func:`preflight` checks, per target kind, what every test
would otherwise trip over, and raises :class:`PreflightError` with ONE line (zh and en) and the
exit code of ``roucai certify``: 2 (usage or configuration: a statement that does not fit the
target, a missing or malformed keys file, keys the platform refuses, a node program that does not
exist) or 3 (unreachable: nothing answers, or an unhealthy answer).  ``log`` receives every step
and every detail (the report folder's ``preflight.log``).

* device (``serial://``, ``socket://``, ``sim://``): the statement's kind is a device; the port
  opens and the device answers IDENTIFY (roucai-dp/1) within the protocol's timing;
* platform (``http(s)://``): the statement's kind is a platform; ``keys_file`` reads (the JSON of
  ``import-city --keys-out`` or TOML) and holds a key for every node of the city fixture
  (``city_preset``, ``--seed``); the health endpoint answers healthy (bounded: 5 s); when the
  statement declares ``stop_trade_broadcast``, one signed ``GET /api/v1/stoptrade`` (no side
  effect) per node is not refused (401/403 = wrong keys);
* node (``--target node``): ``[target] start_command`` is given, parses, and its program exists;
  that the node comes up is checked when the scenario starts it: a node that exits or never listens
  raises :class:`TargetDown` there, and the run ends with no verdict (exit 3) all the same;
* builtin: nothing (the harness starts the reference itself).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Callable

from profiles.errors import RoucaiError

from .capabilities import CapabilityStatement
from .targets import Target

EXIT_USAGE, EXIT_UNREACHABLE = 2, 3
PLATFORM_KINDS = {"city_platform", "central_platform"}
DEVICE_KINDS = {"scale", "card_reader", "handheld"}
HEALTH_BUDGET_S = 5.0


class TargetDown(RoucaiError):
    """Raised by a session fixture when the target does not come up once the run started (a node whose
    start_command exits or never listens): the run ends with no verdict, like a refused pre-flight, exit 3."""

    exit_code = EXIT_UNREACHABLE

    def __str__(self) -> str:  # both languages: it ends up in the run's results
        return f"{self.zh} / {self.en}"


class PreflightError(RoucaiError):
    """The run cannot start: ``zh``/``en`` is the one line to show, ``exit_code`` 2 or 3."""

    def __init__(self, zh: str, en: str, exit_code: int):
        super().__init__(zh, en, exit_code)


def reachable(target: Target, log: Callable[[str], None]) -> None:
    """Raise :class:`PreflightError` (exit 3) when nothing answers at a platform's host and port (TCP
    connect, at most 5 s); devices and nodes are checked by :func:`preflight`."""
    if not target.is_platform:
        return
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(target.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=HEALTH_BUDGET_S):
            log(f"TCP {parts.hostname}:{port}: connected")
    except OSError as exc:
        log(f"TCP {parts.hostname}:{port}: {exc}")
        raise PreflightError(
            f"无法连接被测平台 {target.url}（{exc.strerror or exc}）",
            f"cannot connect to the platform at {target.url} ({exc.strerror or exc})",
            EXIT_UNREACHABLE,
        ) from None


def preflight(target: Target, statement: CapabilityStatement, seed: int, log: Callable[[str], None]) -> None:
    """Raise :class:`PreflightError` if the run cannot start; every step goes to ``log``."""
    if target.is_builtin:
        log("builtin target: the harness starts the reference implementations itself")
        return
    kinds = set(statement.kinds)
    if target.is_platform:
        _kinds_fit(kinds, PLATFORM_KINDS, target, "city_platform")
        _platform(target, statement, seed, log)
    elif target.is_device:
        _kinds_fit(kinds, DEVICE_KINDS, target, "scale")
        _device(target, log)
    elif target.is_node:
        _kinds_fit(kinds, {"node"}, target, "node")
        _node(statement, log)


def _kinds_fit(kinds: set, allowed: set, target: Target, example: str) -> None:
    if not kinds & allowed:
        raise PreflightError(
            f"能力声明的类型 {'/'.join(sorted(kinds))} 与目标 {target.url} 不符（应为 {'/'.join(sorted(allowed))}，如 {example}）",
            f"the statement's kind {'/'.join(sorted(kinds))} does not fit target {target.url} "
            f"(expected {'/'.join(sorted(allowed))}, e.g. {example})",
            EXIT_USAGE,
        )


# -- platform ---------------------------------------------------------------------------------------
def _platform(target: Target, statement: CapabilityStatement, seed: int, log) -> None:
    import httpx

    from profiles import load_profile
    from simulators.tls import client_verify

    from .platform_under_test import PlatformError, connect_external, health
    from .queries import stop_pending

    base = Path(statement.source).parent if statement.source != "built-in" else Path.cwd()
    try:
        put = connect_external(target.url, statement.capabilities, base)
    except PlatformError as exc:
        raise PreflightError(exc.zh, exc.en, EXIT_USAGE) from None
    log(f"keys file: {len(put.keys)} keys")
    from .recipe import target_profile

    profile = target_profile(load_profile(), statement)  # signed with the recipe the target declares
    from simulators.city import generate_city

    preset = str(statement.capabilities.get("city_preset", "tiny"))
    nodes = sorted(n.code for n in generate_city(preset, seed, profile).nodes)
    missing = [n for n in nodes if n not in put.keys]
    if missing:
        raise PreflightError(
            f"密钥文件缺少城市样例（{preset}，种子 {seed}）的节点 {', '.join(missing[:3])} 等 {len(missing)} 个的密钥",
            f"the keys file has no key for {len(missing)} node(s) of the city fixture ({preset}, seed {seed}), "
            f"e.g. {', '.join(missing[:3])}: import the same city "
            f"(roucai fixtures city --preset {preset} --seed {seed})",
            EXIT_USAGE,
        )
    log(f"every node of the city fixture ({preset}, seed {seed}) has a key: {', '.join(nodes)}")
    for prefix in ("", "central_"):
        _declared_regulator(statement.capabilities, base, prefix, log)
    with httpx.Client(
        timeout=httpx.Timeout(HEALTH_BUDGET_S, connect=HEALTH_BUDGET_S), trust_env=False, verify=client_verify()
    ) as c:
        ok, seen = health(c, put.url, put.health_path)
        log(f"GET {put.url}{put.health_path}: {seen}")
        if not ok:
            raise PreflightError(
                f"平台 {put.url} 不可达或不健康（{put.health_path}：{seen}）",
                f"the platform at {put.url} is unreachable or unhealthy ({put.health_path}: {seen})",
                EXIT_UNREACHABLE,
            )
        if not statement.capabilities.get("stop_trade_broadcast"):
            log(
                "keys not checked against the platform: it declares no signed read-only endpoint "
                "(stop_trade_broadcast); a wrong key shows in the first upload"
            )
            return
        refused = []
        for node in nodes:
            status, body = stop_pending(c, put.url, profile, node, put.keys[node])
            log(f"signed GET /api/v1/stoptrade as {node}: HTTP {status} {str(body)[:200]}")
            if status in (401, 403):
                refused.append(node)
        if refused:
            raise PreflightError(
                f"平台拒绝了密钥文件中节点 {', '.join(refused[:3])} 等 {len(refused)} 个的签名：密钥不对",
                f"the platform refused the signature of {len(refused)} node(s) of the keys file "
                f"(e.g. {', '.join(refused[:3])}): wrong keys",
                EXIT_USAGE,
            )


def _declared_regulator(caps: dict, base: Path, prefix: str, log) -> None:
    """A regulator the statement declares (``{prefix}regulator_id`` + ``{prefix}regulator_key_file``) must be
    whole and its key readable: half a declaration or a missing key file is a setup problem (exit 2), never 401
    answers judged as the platform's fault.  Declaring neither is fine (those reads are sent unsigned)."""
    rid, key_file = caps.get(f"{prefix}regulator_id"), caps.get(f"{prefix}regulator_key_file")
    if not rid and not key_file:
        return
    if not (rid and key_file):
        raise PreflightError(
            f"能力声明须同时给出 {prefix}regulator_id 与 {prefix}regulator_key_file（或都不给）",
            f"the capability statement must declare both {prefix}regulator_id and {prefix}regulator_key_file "
            "(or neither)",
            EXIT_USAGE,
        )
    path = (base / str(key_file)).resolve()
    try:
        key = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        key, why = "", type(exc).__name__
    else:
        why = "empty"
    if not key:
        raise PreflightError(
            f"监管部门 {rid} 的密钥文件 {path} 不可读或为空（{why}）：先登记监管部门，例如 "
            f"roucai serve admin --db 平台.db register-regulator {rid} --name 名称 --key-out {key_file}",
            f"the key file {path} of regulator {rid} cannot be read or is empty ({why}): register the regulator "
            f"first, e.g. roucai serve admin --db PLATFORM.db register-regulator {rid} --name NAME --key-out {key_file}",
            EXIT_USAGE,
        )
    log(f"{prefix}regulator {rid}: key file {path} read")


# -- device -----------------------------------------------------------------------------------------
def _device(target: Target, log) -> None:
    import serial

    from simulators.devices.driver import DeviceDriver, DeviceError

    url, opts = target.serial_open_args()
    try:
        port = serial.serial_for_url(url, timeout=0.01, **opts)
    except (serial.SerialException, ValueError, OSError) as exc:
        log(f"open {url} {opts}: {exc}")
        raise PreflightError(
            f"无法打开设备端口 {target.url}", f"cannot open the device port {target.url}: {exc}", EXIT_UNREACHABLE
        ) from None
    try:
        ident = DeviceDriver(port).identify()
        log(f"IDENTIFY: {ident}")
    except (DeviceError, serial.SerialException, OSError) as exc:
        log(f"IDENTIFY on {target.url}: {type(exc).__name__}: {exc}")
        raise PreflightError(
            f"设备 {target.url} 未应答 IDENTIFY",
            f"the device at {target.url} does not answer IDENTIFY (roucai-dp/1)",
            EXIT_UNREACHABLE,
        ) from None
    finally:
        port.close()


# -- node -------------------------------------------------------------------------------------------
def _node(statement: CapabilityStatement, log) -> None:
    command = statement.info.get("start_command")
    if not command:
        raise PreflightError(
            "节点目标的能力声明须给出 [target] start_command",
            "a node target's capability statement needs [target] start_command",
            EXIT_USAGE,
        )
    try:
        argv = shlex.split(str(command))
    except ValueError as exc:
        raise PreflightError(
            f"start_command 无法解析：{exc}", f"start_command cannot be parsed: {exc}", EXIT_USAGE
        ) from None
    program = argv[0].replace("{python}", sys.executable) if argv else ""
    found = shutil.which(program) or (Path(program).is_file() and program)
    log(f"start_command {command!r}: program {program!r} -> {found or 'not found'}")
    if not found:
        raise PreflightError(
            f"start_command 的程序不存在：{program}", f"start_command's program does not exist: {program}", EXIT_USAGE
        )
