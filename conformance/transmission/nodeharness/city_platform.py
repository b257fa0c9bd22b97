"""The city platform the harness plays: the reference platform behind the harness's
:class:`~conformance.transmission.recorder.Recorder`, a real uvicorn server on a fixed port of 127.0.0.1 with a
SQLite file, stopped and started again (same port, same database) for the outage.

:meth:`HarnessPlatform.rows` reads that database read-only: what the platform stored is judged from it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..recorder import Recorder
from .errors import HarnessError
from .ports import free_port
from .waiting import wait_for


class HarnessPlatform:
    """The reference platform on a fixed port of 127.0.0.1, behind the recorder; stop and start again."""

    def __init__(self, workdir: Path, recorder: Recorder):
        self.db = str(workdir / "platform.db")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recorder = recorder
        self.server = None
        self.thread = None
        self.services = None

    def start(self, timeout: float = 15.0) -> None:
        # imported on first start: every transmission or coding run imports this package, and the platform
        # (FastAPI, uvicorn) is needed only when the target is a node
        from simulators.platform.app import build_services, create_app
        from simulators.platform.config import PlatformConfig
        from simulators.platform.server import build_server

        cfg = PlatformConfig(db=self.db, port=self.port, log_level="warning")
        self.services = build_services(cfg)
        self.recorder.app = create_app(cfg, self.services)
        self.server = build_server(cfg, self.recorder)
        self.server.config.install_signal_handlers = False
        self.thread = threading.Thread(target=self.server.run, name="harness-platform", daemon=True)
        self.thread.start()
        if not wait_for(lambda: self.server.started or not self.thread.is_alive(), timeout) or not self.server.started:
            raise HarnessError(f"the harness platform did not start on port {self.port}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout)
            self.server = None

    def rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
