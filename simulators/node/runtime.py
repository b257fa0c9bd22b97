"""The node's moving parts wired together: outbox, scale workers, uploader, stop-trade poller, handheld intake.

``NodeRuntime(config).start()`` starts one thread per scale, the uploader and the
stop-trade poller; :meth:`NodeRuntime.stop` stops them in order (scales first, so
nothing new is read; the poller; then the uploader, which finishes the envelope
in flight within the client timeout) and closes the outbox.  Usable without the
HTTP server (tests embed it); :mod:`.app` serves it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from profiles import load_profile
from profiles.profile import Profile

from . import logs
from .batchpush import EntryBatches
from .collector import ScaleWorker
from .config import NodeConfig
from .handheld_api import HandheldIntake
from .operators import queue_operators
from .outbox import Outbox
from .sales import SaleMapper
from .stoptrade import StopTradePoller
from .uploader import Uploader


class NodeRuntime:
    """The node's parts, built from the classes named below: a subclass may name its own (a test lab
    installs a defect that way, from outside the product; ``conformance/proofs/node_faults.py``)."""

    outbox_class = Outbox
    worker_class = ScaleWorker
    uploader_class = Uploader
    intake_class = HandheldIntake

    def __init__(
        self,
        config: NodeConfig,
        profile: Profile | None = None,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        self.cfg = config
        self.profile = profile or load_profile(config.profile)
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.outbox = self.outbox_class(config.outbox_path)
        self.workers: list[ScaleWorker] = []
        if config.devices:
            mapper = SaleMapper(
                config.node_code, config.node_name, config.node_type, config.operator_name, self.profile.codes
            )
            entries = EntryBatches(self.outbox, mapper.role) if config.push_batches else None
            self.workers = [
                self.worker_class(
                    d,
                    self.outbox,
                    mapper,
                    self.profile,
                    config.node_code,
                    config.node_name,
                    self.clock,
                    entries,
                    config.default_price_fen,
                )
                for d in config.devices
            ]
        self.uploader = self.uploader_class(config, self.outbox, self.profile, self.clock)
        self.poller = (
            StopTradePoller(config, self.outbox, self.workers, self.profile, self.clock)
            if config.stop_enabled
            else None
        )
        self.intake = self.intake_class(config, self.outbox, self.profile, self.clock)
        self.started = False

    def start(self) -> "NodeRuntime":
        logs.event(
            "node_starting",
            node=self.cfg.node_code,
            devices=len(self.workers),
            platform=self.cfg.upload_url,
            outbox=self.cfg.outbox_path,
            recovered=self.outbox.recovered,
            **self.outbox.counts(),
        )
        if self.cfg.report_operators:
            self.announce_operators()
        for w in self.workers:
            w.start()
        if self.poller:
            self.poller.start()
        self.uploader.start()
        self.started = True
        return self

    def announce_operators(self) -> int:
        """Queue the operators' base information before their business (NODE-REC-06); how many were queued."""
        return queue_operators(self.cfg, self.outbox, self.profile.records, self.clock())

    def stop(self) -> None:
        if not self.started:
            self.outbox.close()
            return
        for w in self.workers:
            w.stop()
        if self.poller:
            self.poller.stop()
        self.uploader.stop()
        counts = self.outbox.counts()
        self.outbox.close()
        self.started = False
        logs.event("node_stopped", **counts)

    def __enter__(self) -> "NodeRuntime":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self) -> dict[str, Any]:
        counts = self.outbox.counts()
        devices = [dict(w.status) for w in self.workers]
        up = dict(self.uploader.status)
        ok = all(d["connected"] for d in devices) and up["last_error"] is None
        return {
            "status": "ok" if ok else "degraded",
            "node": self.cfg.node_code,
            "outbox": counts,
            "uploader": up,
            "devices": devices,
            "stoptrade": dict(self.poller.status) if self.poller else None,
        }
