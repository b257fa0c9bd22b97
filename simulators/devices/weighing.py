"""The weighing unit of a class III retail scale: noise, divisions, limits, tare.

Model (SimProfile, devices.md §1.2 a and §6): a dual-range scale, division
``e1`` up to ``switch_g`` and ``e2`` above it up to ``max_g`` (案秤 15 kg,
e = 2/5 g, switch 6 kg; 台秤 150 kg, e = 20/50 g).  Min = ``min_divisions`` ×
e1 (class III: 20 e).  Beyond Max + 9 e2 the scale shows overload.  A reading
is the true load plus Gaussian noise of ``noise_sigma_divisions`` divisions,
rounded to the division of the range the gross load falls in; for
``settle_s`` after a load change the reading is unstable (noise ×10, not
``stable``).  Tare takes the stable gross (0 < tare ≤ Max); the net is gross −
tare.  Zero is allowed within ±``zero_range_fraction`` × Max.

Units: grams (int on the wire, float internally for the true load).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Metrology:
    """Capacity and divisions of one scale model (grams)."""

    name: str
    max_g: int
    e1_g: int
    e2_g: int
    switch_g: int
    min_divisions: int = 20
    noise_sigma_divisions: float = 0.2
    settle_s: float = 0.8
    zero_range_fraction: float = 0.10
    overload_divisions: int = 9

    @property
    def min_g(self) -> int:
        return self.min_divisions * self.e1_g

    @classmethod
    def from_profile(cls, data: dict, model: str) -> "Metrology":
        s = data["scale"]
        m, d = s["models"][model], s["defaults"]
        return cls(
            name=model,
            max_g=int(m["max_g"]),
            e1_g=int(m["e1_g"]),
            e2_g=int(m["e2_g"]),
            switch_g=int(m["switch_g"]),
            min_divisions=int(m.get("min_divisions", 20)),
            noise_sigma_divisions=float(d["noise_sigma_divisions"]),
            settle_s=float(d["settle_s"]),
            zero_range_fraction=float(d["zero_range_fraction"]),
            overload_divisions=int(d["overload_divisions"]),
        )


@dataclass(frozen=True)
class Reading:
    gross_g: int
    tare_g: int
    net_g: int
    division_g: int
    stable: bool
    overload: bool


class WeighingUnit:
    """Load cell + indicator.  ``rng`` makes the noise reproducible."""

    def __init__(self, metro: Metrology, rng: random.Random, time_source: Callable[[], float]):
        self.m = metro
        self.rng = rng
        self.time_source = time_source
        self.load_g = 0.0
        self.zero_offset_g = 0.0
        self.tare_g = 0
        self._changed_at = -math.inf

    def division(self, gross_g: float) -> int:
        return self.m.e1_g if gross_g <= self.m.switch_g else self.m.e2_g

    def place(self, load_g: float, settled: bool = False) -> None:
        """Put ``load_g`` grams (total, incl. any container) on the platter.

        ``settled``: the load has been there long enough to be stable (a
        simulation shortcut for "the operator waited").
        """
        if load_g < 0:
            raise ValueError("load must be >= 0 g")
        self.load_g = float(load_g)
        self._changed_at = -math.inf if settled else self.time_source()

    def clear(self) -> None:
        self.place(0.0)

    def stable(self) -> bool:
        return self.time_source() - self._changed_at >= self.m.settle_s - 1e-9

    def read(self) -> Reading:
        true = self.load_g - self.zero_offset_g
        e = self.division(true)
        stable = self.stable()
        sigma = self.m.noise_sigma_divisions * e * (1 if stable else 10)
        raw = true + self.rng.gauss(0.0, sigma)
        e = self.division(raw)
        gross = int(round(raw / e)) * e
        overload = raw > self.m.max_g + self.m.overload_divisions * self.m.e2_g
        return Reading(gross, self.tare_g, gross - self.tare_g, e, stable, overload)

    def tare(self) -> bool:
        """Take the stable gross as tare; False if unstable, overload or out of range.  With the pan
        empty (stable gross 0) it clears the tare, as a scale's tare key does."""
        r = self.read()
        if r.stable and r.gross_g == 0 and self.tare_g:
            self.tare_g = 0
            return True
        if not r.stable or r.overload or not 0 < r.gross_g <= self.m.max_g:
            return False
        self.tare_g = r.gross_g
        return True

    def clear_tare(self) -> None:
        self.tare_g = 0

    def zero(self) -> bool:
        """Zero the scale; False if the load is outside the zero range or unstable."""
        if not self.stable() or abs(self.load_g) > self.m.zero_range_fraction * self.m.max_g:
            return False
        self.zero_offset_g = self.load_g
        return True

    def saleable(self, r: Reading) -> bool:
        """A reading a sale may use: stable, not overloaded, net ≥ Min, gross ≤ Max."""
        return r.stable and not r.overload and r.net_g >= self.m.min_g and r.gross_g <= self.m.max_g
