"""What the scenario drives: each node under test (its process, config, and what its handheld intake
answered) and each simulated scale bound to it (a pty, the scale model, its batch, the sales made on it).

Plain records filled in by the phases and read by the tests; :meth:`ScaleBench.sell` and
:meth:`ScaleBench.load_entry` act on the scale model under its runner's lock.
"""

from __future__ import annotations

import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class NodeUnderTest:
    code: str
    name: str
    node_type: str  #: city node type (farmers_market, …)
    role: str  #: records.toml node type (retail, …)
    key: str
    port: int
    config: Path
    workdir: Path
    operators: list  #: simulators.city Operator of this node
    scales: list = field(default_factory=list)  #: ScaleBench of this node
    proc: subprocess.Popen | None = None
    command: list[str] = field(default_factory=list)
    log: Path | None = None
    handheld: list = field(default_factory=list)  #: (t answered, rtype, canon record, verdict)
    refused_intake: dict | None = None  #: the slaughterhouse's uncertified intake and its verdict
    devices: list = field(default_factory=list)  #: [[devices]] tables of its config
    operator_edits: dict = field(default_factory=dict)  #: operator code -> details changed in its config
    operator_change: dict | None = None  #: the ``operators`` phase: what changed, when, restart times
    transfer: dict | None = None  #: the stall transfer of the ``handheld`` phase (retail)
    ledger_probes: list = field(default_factory=list)  #: NODE-WHOL-03 entries that must be refused, with verdicts
    guest: object | None = None  #: NODE-WHOL-01: an operator of another node trading here
    guest_entry: str | None = None  #: canonical entry record registered for the guest

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ScaleBench:
    """One simulated scale on a pty, its batch, and the sales the harness made on it."""

    id: str
    line: object
    model: object
    runner: object
    operator: str
    stall: str
    batch: str
    commodity: str
    entry: tuple = ()  #: (commodity name, limit g, price fen) of the batch, from the entry records
    sales: list = field(default_factory=list)  #: (epoch seconds, SaleRecord, phase)
    unacked_during_outage: int | None = None
    pushed_at: float | None = None  #: when the harness saw the node's push of ``batch`` (None: it loaded it itself)
    table_at_push: list = field(default_factory=list)  #: the scale's batch table when the push was seen

    def sell(self, rng: random.Random, phase: str) -> None:
        # at most 1/40 of the batch per sale: every sale of the scenario (about 20) stays within the limit
        hi = max(150, min(2500, self.entry[1] // 40)) if self.entry else 2500
        with self.runner.lock:
            sale = self.model.sell(self.batch, weight_g=rng.randint(min(150, hi), hi))
        self.sales.append((time.time(), sale, phase))

    def load_entry(self) -> None:
        """The harness loads the batch itself (no node push to wait for, or the node did not push it)."""
        name, limit, price = self.entry
        with self.runner.lock:
            self.model.load_batch(self.batch, self.commodity, name, limit, price)
