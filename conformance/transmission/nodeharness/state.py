"""The state one node scenario builds up and the phases share: the harness platform and its recorder, the
nodes under test, the day's records, the phases' times and time-outs, and what the stop-trade and outage
phases left for the tests.

:meth:`SessionState._phase` marks a phase (the recorder tags each exchange with it; :attr:`phases` keeps its
start and end); :meth:`SessionState._wait` is the phases' bounded wait, which records a time-out in
:attr:`timeouts` instead of raising, and waits at most 3 s once anything timed out; :meth:`require` turns a
phase that timed out or did not run into ``TimeoutError`` for the test that needs it.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from ..recorder import Recorder
from .city_platform import HarnessPlatform
from .readers import SessionReaders
from .under_test import NodeUnderTest, ScaleBench
from .waiting import wait_for


class SessionState(SessionReaders):
    """Everything a run of the scenario records; :class:`~.session.NodeSession` adds running and closing."""

    # set by the start phase (annotations only: before it ran they are absent, as they always were)
    city: Any  #: the generated city (simulators.city)
    ledger: Any  #: the market model's ledger of the simulated day
    day_records: list[dict]  #: the day's records ({"node", "type", "data", …}), certificates added

    def __init__(
        self,
        workdir: Path,
        profile,
        seed: int,
        roles: list[str],
        start_command: str,
        handheld: bool = True,
        scales: bool = True,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.profile = profile
        self.spec = profile.envelope
        self.seed = seed
        self.rng = random.Random(seed)
        self.roles = roles
        self.start_command = start_command
        self.with_handheld = handheld
        self.with_scales = scales
        self.recorder = Recorder()
        self.platform = HarnessPlatform(self.workdir, self.recorder)
        self.nodes: dict[str, NodeUnderTest] = {}
        self.timeouts: dict[str, str] = {}
        self.phases: dict[str, tuple[float, float]] = {}
        #: (stopped, started again) epoch seconds of each time the harness platform was down: the node's attempts
        #: then fail unseen at the platform side
        self.platform_down: list[tuple[float, float]] = []
        self.keys: dict[str, str] = {}
        self.day = None
        self.backlog: list[str] = []  #: canonical records of the outage backlog (retail node)
        self.stop_batch: str | None = None
        self.stop_scale: ScaleBench | None = None
        self.stop_result: dict = {}
        self.harness_records: set[str] = set()
        self._uploads = None
        self._closed = False

    # -- helpers -------------------------------------------------------------------------------------
    def _phase(self, name: str):
        sess = self

        class _P:
            def __enter__(self):
                sess.recorder.phase = name
                self.t0 = time.time()

            def __exit__(self, *exc):
                sess.phases[name] = (self.t0, time.time())

        return _P()

    def _wait(self, phase: str, cond, timeout: float, what: str) -> bool:
        if self.timeouts:  # once something timed out, do not wait long again
            timeout = min(timeout, 3.0)
        if wait_for(cond, timeout):
            return True
        self.timeouts.setdefault(phase, f"{what}: not within {timeout:g} s")
        return False

    def require(self, *phases: str) -> None:
        """Raise ``TimeoutError`` if any of ``phases`` did not finish in its time bound."""
        for p in phases:
            if p in self.timeouts:
                raise TimeoutError(f"phase {p!r}: {self.timeouts[p]}")
            if p not in self.phases:
                raise TimeoutError(f"phase {p!r} did not run")

    def _scales(self) -> list[ScaleBench]:
        return [b for n in self.nodes.values() for b in n.scales]
