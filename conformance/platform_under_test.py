"""The platform a suite judges: the built-in reference (a subprocess) or the user's platform at a URL.

Built-in (``--target builtin``, ``builtin?variant=NAME``): :func:`launch_builtin` writes the
seeded city to a temporary folder, registers it with ``roucai serve admin import-city`` (run in-process; keys
issued there), and starts ``roucai serve platform`` on 127.0.0.1 with a temporary SQLite
database; a variant whose actor is ``city_platform`` is served instead by
``python -m conformance.proofs.platform_variant NAME`` (the fault installed from outside, through the
platform's public seams: ``conformance/proofs/platform_faults.py``).  It can be restarted (kill -9
or graceful) on the same port and database, and a node's last contact can be moved into the past
in its database (:meth:`PlatformUnderTest.age_contact`: the only way to see "offline" without
waiting 15 minutes).

External (``--target http://host:port``): :func:`connect_external` reads from the capability
statement's ``[capabilities]`` table:

================== =======================================================================
``keys_file``      the nodes' keys for the nodes of the city fixture (``roucai fixtures city
                   --preset tiny --seed SEED``) registered on the platform: the JSON object
                   ``roucai serve admin import-city --keys-out`` writes (``{"NODE": "KEY"}``) or
                   TOML ``[keys] "NODE" = "KEY"`` (path relative to the statement); required
``upload_path``    path of the upload endpoint (default ``/api/v1/exchange``)
``health_path``    the health endpoint (default ``/healthz``): 200 with a JSON ``status`` of
                   ``ok``/``healthy``/``up`` means ready (pre-flight, and after a restart)
``restart_command`` command restarting the platform (durability tests; without it they are not
                   applicable), run detached in the statement's folder (no shell; ``{python}`` is
                   the harness's Python; stdin, stdout, stderr not inherited: its output goes to
                   ``restart.log`` in the report folder); it must return once the restart is
                   under way or done; ``restart_timeout_s`` bounds it and the wait for health
                   (default 120).  The reference: ``roucai serve restart --pid-file FILE``
``offline_after_s`` seconds without contact after which the platform shows a node offline
                   (monitoring test waits that long when it is at most 120, else partial;
                   the reference: ``roucai serve platform --offline-after``)
``log_file``       the platform's JSON-lines operating log (path relative to the statement)
``central_url``    the central platform this city platform feeds (upward feed test); its summary is read
                   signed as ``central_regulator_id`` with the key in ``central_regulator_key_file`` when
                   declared, else unsigned
================== =======================================================================

Every wait is bounded; errors are :class:`PlatformError` (an ``error`` verdict: the harness
could not set the target up) with a bilingual message.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from profiles.errors import RoucaiError
from simulators import keysfile
from simulators.tls import client_verify

from .proofs import platform_variant

UPLOAD_PATH = "/api/v1/exchange"
HEALTH_PATH = "/healthz"
HEALTHY = ("ok", "healthy", "up", "pass")
CITY_ID_KEY = "city_platform"


class PlatformError(RoucaiError):
    """The platform under test cannot be used or reached (a harness error, exit 3)."""

    exit_code = 3

    def __str__(self) -> str:  # both languages: it ends up in verdicts and logs read by either reader
        return f"{self.zh} / {self.en}"


class PlatformUnderTest:
    """What the suites need of the platform: its URL, the nodes' keys, and (built-in) control."""

    def __init__(
        self,
        url: str,
        keys: dict[str, str],
        *,
        upload_path: str = UPLOAD_PATH,
        builtin: bool = False,
        capabilities: dict | None = None,
    ):
        self.url = url.rstrip("/")
        self.keys = keys
        self.upload_path = upload_path
        self.builtin = builtin
        self.capabilities = capabilities or {}
        self.proc = None  # builtin: the PlatformProcess
        self.db: str | None = None
        self.workdir: Path | None = None
        self.command: list[str] | None = None  #: the launcher argv of a broken variant (None: the reference)
        self.args: list[str] = []
        self.restart_command: str | None = self.capabilities.get("restart_command")
        self.health_path = str(self.capabilities.get("health_path", HEALTH_PATH))
        self.restart_log: Path | None = None  #: where restart_command's output goes (set by the session)
        self.log_file: Path | None = None  #: the external platform's operating log (``log_file``)
        self.statement_dir: Path | None = None  #: where restart_command runs (the statement's folder)

    # -- control --------------------------------------------------------------
    @property
    def can_restart(self) -> bool:
        return self.builtin or bool(self.restart_command)

    @property
    def log_lines(self) -> list[str] | None:
        """The platform's log lines (built-in only; ``None`` for an external platform)."""
        return self.proc.log_lines if self.proc is not None else None

    def restart(self, kill: bool = True, args: list[str] | None = None) -> None:
        """Restart on the same URL and data: kill -9 (``kill``) or SIGTERM, then start again."""
        if self.builtin:
            from simulators.platform.launcher import LaunchError, PlatformProcess

            port = self.url.rsplit(":", 1)[1]
            if args is not None:
                self.args = list(args)
            self.proc.kill() if kill else self.proc.stop()
            try:
                self.proc = PlatformProcess(
                    self.db, args=[*self.args, "--port", port], command=self.command, timeout=20
                ).start()
            except LaunchError as exc:
                raise PlatformError("参考平台重启失败", f"the reference platform did not restart: {exc}")
            return
        if not self.restart_command:
            raise PlatformError("能力声明未给出 restart_command", "the capability statement has no restart_command")
        limit = float(self.capabilities.get("restart_timeout_s", 120))
        run_detached(self.restart_command, limit, self.restart_log, self.statement_dir)
        self.wait_ready(limit)

    def wait_ready(self, limit: float) -> None:
        """Wait (bounded by ``limit`` seconds) until the health endpoint answers healthy."""
        end = time.monotonic() + limit
        last = "no answer"
        with httpx.Client(timeout=2, trust_env=False, verify=client_verify()) as c:
            while True:
                ok, last = health(c, self.url, self.health_path)
                if ok:
                    return
                if time.monotonic() > end:
                    raise PlatformError(
                        f"平台在 {limit:g} 秒内未恢复健康（{last}）",
                        f"the platform was not healthy within {limit:g} s ({last})",
                    )
                time.sleep(0.2)

    def age_contact(self, node_id: str, seconds: float) -> bool:
        """Move the node's last contact ``seconds`` into the past (built-in only; False elsewhere)."""
        if not self.builtin:
            return False
        then = int((time.time() - seconds) * 1000)
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                n = con.execute(
                    "UPDATE nodes SET last_seen_ms = ?, last_upload_ms = ? WHERE node_id = ?", (then, then, node_id)
                ).rowcount
        finally:
            con.close()
        return n == 1

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@contextlib.contextmanager
def admin(db: str):
    """The reference platform database's registry (``simulators.platform.admin``, the library behind
    ``roucai serve admin``); its errors become :class:`PlatformError` (a harness error, never a verdict)."""
    from simulators.platform import admin as lib

    try:
        with lib.registry(db) as reg:
            yield reg
    except PlatformError:
        raise
    except Exception as exc:  # noqa: BLE001 - the registry's and storage's own errors, all bilingual or plain
        zh = getattr(exc, "zh", None) or str(exc)
        en = getattr(exc, "en", None) or str(exc)
        raise PlatformError(
            f"参考平台管理操作失败：{zh}", f"administering the reference platform failed: {en}"
        ) from exc


def launch_builtin(city, workdir: Path, variant: str | None = None, args: list[str] = ()) -> PlatformUnderTest:
    """The reference city platform with ``city`` registered, in a subprocess on 127.0.0.1."""
    from simulators.city import dumps
    from simulators.platform.launcher import LaunchError, PlatformProcess

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "city.json").write_text(dumps(city), "utf-8")
    db = str(workdir / "platform.db")
    keys_file = workdir / "keys.json"
    from simulators.platform.admin import import_city, write_keys

    with admin(db) as reg:
        keys = import_city(reg, json.loads((workdir / "city.json").read_text("utf-8"))).keys
    write_keys(keys_file, keys)
    command = platform_variant.command(variant) if variant else None
    args = [*args, *_tls_args(workdir, args)]
    try:
        proc = PlatformProcess(
            db, args=list(args), command=command, timeout=20, log_file=workdir / "platform.log"
        ).start()
    except LaunchError as exc:
        raise PlatformError("参考平台未能启动", f"the reference platform did not start: {exc}")
    put = PlatformUnderTest(proc.url, keys, builtin=True)
    put.proc, put.db, put.workdir, put.command, put.args = proc, db, workdir, command, list(args)
    return put


def _tls_args(workdir: Path, args) -> list[str]:
    """A profile whose transport requires HTTPS (changchun) serves the built-in platform with a self-signed
    certificate made in ``workdir/tls``, which every client of this run then trusts (``ROUCAI_TLS_CA``, as
    ``--ca`` would set it); nothing for other profiles or when ``args`` already carry a certificate."""
    from profiles import load_profile
    from simulators.tls import ENV_CA, self_signed

    if load_profile().transport.get("tls", {}).get("mode") != "required" or any(
        a in ("--tls-self-signed", "--tls-cert") for a in args
    ):
        return []
    cert, _key = self_signed(workdir / "tls")
    os.environ[ENV_CA] = str(cert.resolve())
    return ["--tls-self-signed", str(workdir / "tls")]


def launch_central(workdir: Path, city_id: str, city_name: str) -> tuple[object, str]:
    """A reference *central* platform (subprocess) with ``city_id`` registered: (process, the city's key)."""
    from simulators.platform.launcher import LaunchError, PlatformProcess

    workdir.mkdir(parents=True, exist_ok=True)
    db = str(workdir / "central.db")
    from simulators.platform.admin import register_city

    with admin(db) as reg:
        _, key = register_city(reg, city_id, city_name)
    try:
        proc = PlatformProcess(
            db,
            args=["--role", "central"],
            timeout=20,
            log_file=workdir / "central.log",
        ).start()
    except LaunchError as exc:
        raise PlatformError("中央平台未能启动", f"the central platform did not start: {exc}")
    return proc, key


def health(client: httpx.Client, url: str, path: str = HEALTH_PATH) -> tuple[bool, str]:
    """(healthy, what was seen): healthy iff ``GET url+path`` answers 200 with a JSON object whose
    ``status`` is one of :data:`HEALTHY` (a proxy's 502, an HTML page or ``"degraded"`` is not)."""
    try:
        r = client.get(url + path)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if r.status_code != 200:
        return False, f"HTTP {r.status_code}"
    try:
        status = r.json().get("status")
    except (ValueError, AttributeError):
        return False, "HTTP 200 but not a JSON object"
    ok = str(status).lower() in HEALTHY
    return ok, f"status {status!r}"


def run_detached(command: str, limit: float, log: Path | None, cwd: Path | None = None) -> None:
    """Run ``command`` (split like a POSIX shell line, no shell; ``{python}`` = this Python) in ``cwd`` to
    completion within ``limit`` s, detached: stdin from /dev/null, stdout and stderr to ``log`` (or
    /dev/null), its own session.
    A daemon it leaves behind holds none of the harness's pipes, so it cannot hang the harness."""
    try:
        argv = [a.replace("{python}", sys.executable) for a in shlex.split(command)]
    except ValueError as exc:
        raise PlatformError(f"restart_command 无法解析：{exc}", f"restart_command cannot be parsed: {exc}")
    sink = open(log, "ab") if log is not None else subprocess.DEVNULL
    try:
        proc = subprocess.run(
            argv, timeout=limit, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        raise PlatformError(f"restart_command 超过 {limit:g} 秒未结束", f"restart_command ran past {limit:g} s")
    except OSError as exc:
        raise PlatformError(f"restart_command 无法执行：{exc}", f"restart_command cannot run: {exc}")
    finally:
        if log is not None:
            sink.close()
    if proc.returncode != 0:
        raise PlatformError(f"restart_command 退出码 {proc.returncode}", f"restart_command exited {proc.returncode}")


def read_keys(path: Path) -> dict[str, str]:
    """The nodes' keys from ``path`` (:func:`simulators.keysfile.read_keys`); :class:`PlatformError` if unusable."""
    try:
        return keysfile.read_keys(path)
    except keysfile.KeysFileError as exc:
        raise PlatformError(exc.zh, exc.en) from None


def connect_external(url: str, capabilities: dict, statement_dir: Path) -> PlatformUnderTest:
    """The user's platform; keys from ``keys_file`` (see the module docstring)."""
    name = capabilities.get("keys_file")
    if not name:
        raise PlatformError(
            "能力声明须给出 [capabilities] keys_file（节点密钥，import-city --keys-out 写出的 JSON）",
            "the capability statement must name [capabilities] keys_file (the nodes' keys: the "
            "JSON import-city --keys-out writes)",
        )
    keys = read_keys((statement_dir / str(name)).resolve())
    put = PlatformUnderTest(
        url, keys, upload_path=str(capabilities.get("upload_path", UPLOAD_PATH)), capabilities=capabilities
    )
    put.statement_dir = statement_dir
    if capabilities.get("log_file"):
        put.log_file = (statement_dir / str(capabilities["log_file"])).resolve()
    return put
