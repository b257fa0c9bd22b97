"""Start a reference platform for a test, a suite or a benchmark: in a thread or as a subprocess.

* :class:`ThreadedPlatform` — a real uvicorn server on 127.0.0.1 (port 0) in a
  daemon thread of this process; ``.services`` gives direct access to the
  registry and store.  Never use it in a process that imports locust
  (toolchain.md §4).
* :class:`PlatformProcess` — ``python -m roucai.cli serve platform …`` as a
  child process; waits (bounded) for the ``listening`` log line to learn the
  port; ``kill()`` sends SIGKILL (durability tests), ``stop()`` SIGTERM with a
  bounded wait (graceful shutdown).

Both are context managers and bound every wait (``timeout``), raising
:class:`LaunchError` instead of hanging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from profiles.errors import RoucaiError

from ..lifetime import die_with_parent
from .config import PlatformConfig


class LaunchError(RoucaiError):
    """The platform did not come up (a harness error, exit 3)."""

    exit_code = 3


class ThreadedPlatform:
    def __init__(self, config: PlatformConfig, timeout: float = 10.0):
        from .app import build_services, create_app
        from .server import build_server

        config.host, config.port = "127.0.0.1", config.port or 0
        self.config = config
        self.services = build_services(config)
        self.app = create_app(config, self.services)
        self.server = build_server(config, self.app)
        self.timeout = timeout
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> "ThreadedPlatform":
        self._thread = threading.Thread(target=self.server.run, name="platform", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise LaunchError("the platform did not start")
            time.sleep(0.01)
        sock = self.server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread:
            self._thread.join(self.timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class PlatformProcess:
    def __init__(
        self,
        db: str,
        *,
        args: list[str] = (),
        cwd: str | None = None,
        timeout: float = 20.0,
        env: dict | None = None,
        log_file: str | Path | None = None,
        command: list[str] | None = None,
    ):
        """``command``: what to run instead of ``python -m roucai.cli serve platform`` (the bench's no-op
        server, built from the same factories); it gets ``--db DB --port 0 *args`` and must log ``listening``."""
        self.db = db
        self.args = list(args)
        self.command = list(command) if command else [sys.executable, "-m", "roucai.cli", "serve", "platform"]
        self.timeout = timeout
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.port = 0
        self.scheme = "http"
        self.log_lines: list[str] = []
        self._reader: threading.Thread | None = None
        self.log_file = log_file

    def start(self) -> "PlatformProcess":
        cmd = [*self.command, "--db", self.db, "--port", "0", *self.args]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        ready = threading.Event()

        def read():
            sink = open(self.log_file, "a", encoding="utf-8") if self.log_file else None
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if sink:
                    sink.write(line + "\n")
                    sink.flush()
                if len(self.log_lines) < 100_000:
                    self.log_lines.append(line)
                if not self.port and '"listening"' in line:
                    try:
                        listening = json.loads(line)
                        self.port = int(listening["port"])
                        self.scheme = str(listening.get("url", "http:")).split(":", 1)[0]  # https with TLS
                        ready.set()
                    except (ValueError, KeyError):
                        pass
            ready.set()
            if sink:
                sink.close()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(self.timeout) or not self.port:
            self.kill()
            raise LaunchError("platform process did not start: " + " | ".join(self.log_lines[-5:]))
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (durability tests)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(self.timeout)

    def stop(self) -> int:
        """SIGTERM and wait for a graceful exit; returns the exit code (SIGKILL after the timeout)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._reader:
            self._reader.join(2)
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
