"""Restarting a running reference platform from outside: its pid file, SIGHUP, and ``roucai serve restart``.

A contractor's capability statement names a ``restart_command`` (durability and replay-after-restart tests);
this is the reference platform's:

* ``roucai serve platform --pid-file FILE`` writes FILE once the server listens: one JSON object
  ``{"pid", "url", "started_ns"}`` (atomically), and removes it on a clean stop;
* SIGHUP asks for a restart: the server stops gracefully (requests in flight finish, the store closes), then
  the process re-executes its own command line (:func:`reexec`): same pid, same process group, same stdin,
  stdout and stderr (its log file), same port and database;
* ``roucai serve restart --pid-file FILE`` (:func:`restart`) sends SIGHUP and returns once the file names a
  new start and the health endpoint answers healthy, bounded by ``timeout`` seconds.

Errors: :class:`RestartError` (zh, en) — no pid file, no such process, not healthy in time.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from simulators.atomic_file import atomic_write_bytes
from profiles.errors import RoucaiError


class RestartError(RoucaiError):
    """A restart that failed (exit 3)."""

    exit_code = 3


def write_pid_file_when_listening(server, path: str | os.PathLike, scheme: str = "http") -> threading.Thread:
    """Write ``path`` from a daemon thread as soon as ``server`` (a uvicorn.Server) listens (bounded: 60 s)."""

    def wait_and_write():
        end = time.monotonic() + 60
        while time.monotonic() < end and not server.should_exit:
            socks = [s for srv in getattr(server, "servers", []) for s in srv.sockets] if server.started else []
            if socks:
                host, port = socks[0].getsockname()[:2]
                doc = {"pid": os.getpid(), "url": f"{scheme}://{host}:{port}", "started_ns": time.time_ns()}
                atomic_write_bytes(path, (json.dumps(doc) + "\n").encode("utf-8"))
                return
            time.sleep(0.05)

    t = threading.Thread(target=wait_and_write, name="pid-file", daemon=True)
    t.start()
    return t


class RestartOnHangup:
    """Install with ``with RestartOnHangup(server) as r:`` around ``server.run()``; ``r.requested`` afterwards."""

    def __init__(self, server):
        self.server = server
        self.requested = False
        self._old = None

    def _on_hup(self, signum, frame):
        self.requested = True
        self.server.handle_exit(signal.SIGTERM, frame)

    def __enter__(self):
        self._old = signal.signal(signal.SIGHUP, self._on_hup)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGHUP, self._old)


def reexec() -> None:
    """Replace this process by a fresh run of its own command line (never returns)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def read_pid_file(path: str | os.PathLike) -> dict:
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
        return {"pid": int(doc["pid"]), "url": str(doc["url"]), "started_ns": int(doc["started_ns"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RestartError(
            f"无法读取平台的 pid 文件 {path}（平台须以 --pid-file 启动）",
            f"cannot read the platform's pid file {path} (start it with --pid-file): {exc}",
        ) from None


def restart(path: str | os.PathLike, timeout: float = 60.0) -> dict:
    """SIGHUP the platform of pid file ``path``; return its new pid-file content once healthy again."""
    import httpx

    before = read_pid_file(path)
    try:
        os.kill(before["pid"], signal.SIGHUP)
    except ProcessLookupError:
        raise RestartError(f"进程 {before['pid']} 不存在", f"no process {before['pid']}") from None
    end = time.monotonic() + timeout
    from simulators.tls import client_verify

    with httpx.Client(timeout=2, trust_env=False, verify=client_verify()) as c:
        while time.monotonic() < end:
            try:
                now = read_pid_file(path)
            except RestartError:
                now = before
            if now["started_ns"] != before["started_ns"]:
                try:
                    r = c.get(now["url"] + "/healthz")
                    if r.status_code == 200 and r.json().get("status") == "ok":
                        return now
                except (httpx.HTTPError, ValueError):
                    pass
            time.sleep(0.1)
    raise RestartError(
        f"平台在 {timeout:g} 秒内未完成重启", f"the platform did not come back healthy within {timeout:g} s"
    )
