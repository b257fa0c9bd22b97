"""Named, seedable fault switches of the market day (field failures, standards.md §6).

Each switch has a rate in ``[0, 1]`` (defaults in ``rates.toml`` ``[faults]``; the CLI's
``--fault NAME=RATE`` overrides, ``--no-faults`` sets all to 0):

==================  ===========================================================================
name                meaning of the rate, and the effect
==================  ===========================================================================
network_outage      chance per node per day of one outage (start uniform over the day,
                    duration exponential with mean ``upload.outage_mean_s``); records made
                    during it are stored and uploaded when it ends (store-and-forward)
scale_no_paper      chance per stall scale per day of running out of paper at a uniform time
                    for 1–4 h: sales are still recorded, but no receipt (追溯小票) is printed
second_scale        share of stalls whose vendor also keeps a non-traceability scale;
                    ``second_scale_use`` of that vendor's sales happen on it: the sale is real,
                    no record exists (the truth marks it untraceable; 追溯秤使用率 drops)
second_scale_use    (parameter of ``second_scale``, not a switch of its own)
late_upload         chance per record of an upload delayed by ``U(upload.late_s)`` seconds
duplicate_upload    chance per record of a second upload ``U(upload.duplicate_s)`` s later
clock_drift         share of nodes whose clock is off by ``N(0, upload.drift_sd_s)`` seconds;
                    the records' own time fields carry the error, the ledger the true time
==================  ===========================================================================

Record-level switches for problem discovery (``silent_node``, ``price_outlier``,
``duplicate_trace_code``, ``chain_break``, ``stock_imbalance``): :mod:`.recordfaults`.
``rates.toml [fault_sets.NAME]`` names a set of rates (``roucai simulate --fault-set NAME``).

Every decision comes from ``random.Random(f"{seed}:fault:{name}:{subject}:{day}")``, so
switching one fault on or off never changes another fault's draws, nor the business
flows (which use their own streams).
"""

from __future__ import annotations

import random

from .errors import MarketConfigError
from .recordfaults import RECORD_SWITCHES

SWITCHES = (
    "network_outage",
    "scale_no_paper",
    "second_scale",
    "late_upload",
    "duplicate_upload",
    "clock_drift",
    *RECORD_SWITCHES,
)
PARAMETERS = ("second_scale_use",)


def parse_fault_options(items: list[str] | None, base: dict[str, float], none: bool = False) -> dict[str, float]:
    """``["name=rate", ...]`` over ``base``; raises :class:`MarketConfigError` on bad input."""
    out = {k: (0.0 if none and k in SWITCHES else float(v)) for k, v in base.items()}
    for item in items or []:
        name, sep, val = item.partition("=")
        name = name.strip()
        if not sep or name not in SWITCHES + PARAMETERS:
            raise MarketConfigError(
                f"故障开关格式为 NAME=RATE，NAME 取 {', '.join(SWITCHES + PARAMETERS)}（收到 {item!r}）",
                f"a fault switch is NAME=RATE with NAME one of {', '.join(SWITCHES + PARAMETERS)} (got {item!r})",
            )
        try:
            rate = float(val)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            raise MarketConfigError(
                f"故障 {name} 的比率须在0到1之间（收到 {val!r}）", f"fault {name}: the rate must be 0..1 (got {val!r})"
            )
        out[name] = rate
    return out


class Faults:
    """Decisions of the fault switches, each a pure function of (seed, name, subject, day)."""

    def __init__(self, rates: dict[str, float], upload: dict, seed: int):
        self.rates = rates
        self.up = upload
        self.seed = seed
        self._drift: dict[str, float] = {}
        self._second: dict[str, bool] = {}

    def _rng(self, name: str, subject: str, day: int) -> random.Random:
        return random.Random(f"{self.seed}:fault:{name}:{subject}:{day}")

    def rate(self, name: str) -> float:
        return float(self.rates.get(name, 0.0))

    def outage(self, node: str, day: int) -> tuple[float, float] | None:
        """``(start, end)`` seconds of day of the node's outage, or ``None``."""
        r = self._rng("network_outage", node, day)
        if r.random() >= self.rate("network_outage"):
            return None
        start = r.uniform(0, 86400)
        return start, start + r.expovariate(1.0 / float(self.up["outage_mean_s"]))

    def no_paper(self, stall: str, day: int) -> tuple[float, float] | None:
        r = self._rng("scale_no_paper", stall, day)
        if r.random() >= self.rate("scale_no_paper"):
            return None
        start = r.uniform(6 * 3600, 20 * 3600)
        return start, start + r.uniform(3600, 4 * 3600)

    def second_scale(self, stall: str) -> bool:
        """Whether this stall's vendor keeps a second scale (decided once per run)."""
        v = self._second.get(stall)
        if v is None:
            v = self._second[stall] = self._rng("second_scale", stall, 0).random() < self.rate("second_scale")
        return v

    def drift(self, node: str) -> float:
        """Seconds the node's clock is off (0.0 for most nodes; decided once per run)."""
        v = self._drift.get(node)
        if v is None:
            r = self._rng("clock_drift", node, 0)
            v = 0.0 if r.random() >= self.rate("clock_drift") else round(r.gauss(0.0, float(self.up["drift_sd_s"])), 3)
            self._drift[node] = v
        return v

    def upload_extras(self, r: random.Random) -> tuple[float, float | None]:
        """``(delay added, duplicate offset or None)`` for one record, from the caller's stream."""
        late = 0.0
        if r.random() < self.rate("late_upload"):
            late = r.uniform(*self.up["late_s"])
        dup = None
        if r.random() < self.rate("duplicate_upload"):
            dup = r.uniform(*self.up["duplicate_s"])
        return late, dup
