"""The platform a suite judges: the built-in reference (a subprocess) or the user's platform at a URL.

Built-in (``--target builtin``, ``builtin?variant=NAME``): :func:`launch_builtin` writes the
seeded city to a temporary folder, registers it with ``roucai serve admin import-city`` (run in-process; keys
issued there), and starts ``roucai serve platform`` on 127.0.0.1 with a temporary SQLite
database; a variant whose actor is ``city_platform`` is applied through
``ROUCAI_PLATFORM_VARIANT`` (``simulators/platform/variants.py``).  It can be restarted (kill -9
or graceful) on the same port and database, and a node's last contact can be moved into the past
in its database (:meth:`PlatformUnderTest.age_contact`: the only way to see "offline" without
waiting 15 minutes).

External (``--target http://host:port``): :func:`connect_external` reads from the capability
statement's ``[capabilities]`` table:

================== =======================================================================
``keys_file``      TOML with ``[keys] "NODE" = "KEY"`` for the nodes of the city fixture
                   (``roucai fixtures city --preset tiny --seed SEED``) registered on the
                   platform (path relative to the statement); required
``upload_path``    path of the upload endpoint (default ``/api/v1/exchange``)
``restart_command`` shell command restarting the platform (durability tests; without it they
                   are not applicable); ``restart_timeout_s`` bounds it (default 120)
``offline_after_s`` seconds without contact after which the platform shows a node offline
                   (monitoring test waits that long when it is at most 120, else partial)
``central_url``    the central platform this city platform feeds (upward feed test)
================== =======================================================================

Every wait is bounded; errors are :class:`PlatformError` (an ``error`` verdict: the harness
could not set the target up) with a bilingual message.
"""
from __future__ import annotations

import contextlib
import io
import json
import shlex
import sqlite3
import subprocess
import time
import tomllib
from pathlib import Path

import httpx

UPLOAD_PATH = "/api/v1/exchange"
CITY_ID_KEY = "city_platform"


class PlatformError(Exception):
    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")


class PlatformUnderTest:
    """What the suites need of the platform: its URL, the nodes' keys, and (built-in) control."""

    def __init__(self, url: str, keys: dict[str, str], *, upload_path: str = UPLOAD_PATH,
                 builtin: bool = False, capabilities: dict | None = None):
        self.url = url.rstrip("/")
        self.keys = keys
        self.upload_path = upload_path
        self.builtin = builtin
        self.capabilities = capabilities or {}
        self.proc = None            # builtin: the PlatformProcess
        self.db: str | None = None
        self.workdir: Path | None = None
        self.env: dict = {}
        self.args: list[str] = []
        self.restart_command: str | None = self.capabilities.get("restart_command")

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
                self.proc = PlatformProcess(self.db, args=[*self.args, "--port", port], env=self.env,
                                            timeout=20).start()
            except LaunchError as exc:
                raise PlatformError("参考平台重启失败", f"the reference platform did not restart: {exc}")
            return
        if not self.restart_command:
            raise PlatformError("能力声明未给出 restart_command", "the capability statement has no restart_command")
        limit = float(self.capabilities.get("restart_timeout_s", 120))
        try:
            subprocess.run(shlex.split(self.restart_command), timeout=limit, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (OSError, subprocess.SubprocessError) as exc:
            raise PlatformError("restart_command 执行失败", f"restart_command failed: {exc}")
        self.wait_ready(limit)

    def wait_ready(self, limit: float) -> None:
        """Wait (bounded) until the upload endpoint answers at all."""
        end = time.monotonic() + limit
        with httpx.Client(timeout=2, trust_env=False) as c:
            while True:
                try:
                    c.post(self.url + self.upload_path, content=b"")
                    return
                except httpx.HTTPError:
                    if time.monotonic() > end:
                        raise PlatformError(f"平台在 {limit:g} 秒内未恢复服务", f"the platform did not answer within {limit:g} s")
                    time.sleep(0.2)

    def age_contact(self, node_id: str, seconds: float) -> bool:
        """Move the node's last contact ``seconds`` into the past (built-in only; False elsewhere)."""
        if not self.builtin:
            return False
        then = int((time.time() - seconds) * 1000)
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                n = con.execute("UPDATE nodes SET last_seen_ms = ?, last_upload_ms = ? WHERE node_id = ?",
                                (then, then, node_id)).rowcount
        finally:
            con.close()
        return n == 1

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def _admin(db: str, *args: str) -> dict:
    """``roucai serve admin --db DB ARGS --json``, run in this process (the database is not in use yet)."""
    from roucai.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["serve", "admin", "--db", db, *args, "--json"])
    if rc != 0:
        raise PlatformError("参考平台管理命令失败", f"{' '.join(args[:1])} failed: {err.getvalue()[-500:]}")
    return json.loads(out.getvalue() or "{}")


def launch_builtin(city, workdir: Path, variant: str | None = None, args: list[str] = ()) -> PlatformUnderTest:
    """The reference city platform with ``city`` registered, in a subprocess on 127.0.0.1."""
    from simulators.city import dumps
    from simulators.platform.launcher import LaunchError, PlatformProcess
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "city.json").write_text(dumps(city), "utf-8")
    db = str(workdir / "platform.db")
    keys_file = workdir / "keys.json"
    _admin(db, "import-city", str(workdir / "city.json"), "--keys-out", str(keys_file))
    keys = json.loads(keys_file.read_text("utf-8"))
    env = {"ROUCAI_PLATFORM_VARIANT": variant} if variant else {"ROUCAI_PLATFORM_VARIANT": ""}
    try:
        proc = PlatformProcess(db, args=list(args), env=env, timeout=20,
                               log_file=workdir / "platform.log").start()
    except LaunchError as exc:
        raise PlatformError("参考平台未能启动", f"the reference platform did not start: {exc}")
    put = PlatformUnderTest(proc.url, keys, builtin=True)
    put.proc, put.db, put.workdir, put.env, put.args = proc, db, workdir, env, list(args)
    return put


def launch_central(workdir: Path, city_id: str, city_name: str) -> tuple[object, str]:
    """A reference *central* platform (subprocess) with ``city_id`` registered: (process, the city's key)."""
    from simulators.platform.launcher import LaunchError, PlatformProcess
    workdir.mkdir(parents=True, exist_ok=True)
    db = str(workdir / "central.db")
    key = _admin(db, "register-city", city_id, "--name", city_name)["key"]
    try:
        proc = PlatformProcess(db, args=["--role", "central"], env={"ROUCAI_PLATFORM_VARIANT": ""}, timeout=20,
                               log_file=workdir / "central.log").start()
    except LaunchError as exc:
        raise PlatformError("中央平台未能启动", f"the central platform did not start: {exc}")
    return proc, key


def connect_external(url: str, capabilities: dict, statement_dir: Path) -> PlatformUnderTest:
    """The user's platform; keys from ``keys_file`` (see the module docstring)."""
    name = capabilities.get("keys_file")
    if not name:
        raise PlatformError("能力声明须给出 [capabilities] keys_file（节点密钥 TOML）",
                            "the capability statement must name [capabilities] keys_file (the nodes' keys, TOML)")
    path = (statement_dir / str(name)).resolve()
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
        keys = {str(k): str(v) for k, v in doc["keys"].items()}
    except (OSError, tomllib.TOMLDecodeError, KeyError, AttributeError) as exc:
        raise PlatformError(f"无法读取节点密钥文件 {path}", f"cannot read the keys file {path}: {exc}")
    return PlatformUnderTest(url, keys, upload_path=str(capabilities.get("upload_path", UPLOAD_PATH)),
                             capabilities=capabilities)
