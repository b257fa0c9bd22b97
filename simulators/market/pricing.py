"""Daily prices per commodity from the profile's retail price bands (``commodities.csv``).

Model (parameters in ``rates.toml`` ``[price]``):

* each commodity has a position ``u`` in its band ``[price_low, price_high]`` that walks
  day to day by ``U(-daily_step, +daily_step)``, reflected into ``[0, 1]``; the walk's
  start and steps come from ``random.Random(f"{seed}:price:{code}")``, so a price on a
  date does not depend on which other commodities a run uses;
* vegetables from November to February are multiplied by ``winter_veg_factor``;
* wholesale and ex-slaughterhouse prices are fixed ratios of the retail price;
* a stall's price is the day's price times ``U(1 - stall_spread, 1 + stall_spread)``.

All prices are yuan/kg rounded to 0.01 (the records' 2 decimals).
"""

from __future__ import annotations

import datetime as dt
import random

from .rates import Rates


class PriceBook:
    def __init__(self, commodities, rates: Rates, seed: int, first_day: dt.date):
        self.commodities = commodities
        self.p = rates.price
        self.seed = seed
        self.first_day = first_day
        self._walk: dict[str, list[float]] = {}
        self._rngs: dict[str, random.Random] = {}

    def _u(self, code: str, day: int) -> float:
        walk = self._walk.get(code)
        if walk is None:
            rng = random.Random(f"{self.seed}:price:{code}")
            self._rngs[code] = rng
            walk = self._walk[code] = [rng.random()]
        rng = self._rngs[code]
        step = float(self.p["daily_step"])
        while len(walk) <= day:
            u = walk[-1] + rng.uniform(-step, step)
            walk.append(-u if u < 0 else (2 - u if u > 1 else u))
        return walk[day]

    def retail(self, code: str, day: int) -> float:
        """The day's retail price of ``code`` (yuan/kg) on simulated day index ``day``."""
        c = self.commodities[code]
        price = c.price_low + (c.price_high - c.price_low) * self._u(code, day)
        date = self.first_day + dt.timedelta(days=day)
        if c.kind == "vegetable" and date.month in (11, 12, 1, 2):
            price *= float(self.p["winter_veg_factor"])
        return round(price, 2)

    def wholesale(self, code: str, day: int) -> float:
        c = self.commodities[code]
        ratio = self.p["wholesale_ratio_meat"] if c.kind == "meat" else self.p["wholesale_ratio_veg"]
        return max(0.01, round(self.retail(code, day) * float(ratio), 2))

    def ex_slaughter(self, code: str, day: int) -> float:
        return max(0.01, round(self.retail(code, day) * float(self.p["slaughter_ratio"]), 2))

    def stall(self, base: float, rng: random.Random) -> float:
        s = float(self.p["stall_spread"])
        return max(0.01, round(base * rng.uniform(1 - s, 1 + s), 2))
