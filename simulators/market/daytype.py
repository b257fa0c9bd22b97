"""What kind of day a date is: weekday/weekend and festival factors (``rates.toml``).

:func:`day_factors` returns a :class:`DayFactors` for one business date and the
city's GB/T 2260 region code:

* ``demand[klass]`` multiplies expected demand of the classes ``retail`` (farmers'
  markets and shops), ``supermarket``, ``canteen`` and ``upstream`` (slaughter and
  wholesale volumes planned for the day);
* ``category[zh category]`` multiplies demand of one commodity category (古尔邦节
  mutton in Xinjiang);
* ``shift_h[activity]`` moves an activity's hourly shape (hours; negative = earlier);
* ``labels`` names what applied (weekend, festival windows), for the summary.

Festival windows: ``before_days`` days up to the festival date (exclusive) use
``before``; the date itself uses ``on_day`` (or ``closed``); the ``closed_days``
days from the date use ``closed``.  Factors of several windows multiply.
A festival applies only where its ``regions`` list is empty or holds a prefix of
the city's region code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .rates import Rates

CLASSES = ("retail", "supermarket", "canteen", "upstream")


@dataclass
class DayFactors:
    date: dt.date
    demand: dict[str, float] = field(default_factory=lambda: {k: 1.0 for k in CLASSES})
    category: dict[str, float] = field(default_factory=dict)
    shift_h: dict[str, float] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)

    def _apply(self, factors: dict[str, float]) -> None:
        for k, v in factors.items():
            if k in self.demand:
                self.demand[k] *= float(v)


def day_factors(rates: Rates, date: dt.date, region_code: str) -> DayFactors:
    """The factors of ``date`` for a city whose region code is ``region_code``."""
    out = DayFactors(date)
    if date.weekday() >= 5:
        out._apply(rates.day["weekend"])
        out.labels.append("weekend")
    for key, fest in sorted(rates.festivals.items()):
        regions = fest.get("regions", [])
        if regions and not any(region_code.startswith(r) for r in regions):
            continue
        for ds in fest.get("dates", []):
            fday = dt.date.fromisoformat(ds)
            delta = (date - fday).days
            window = None
            if -int(fest.get("before_days", 0)) <= delta < 0:
                window = "before"
            elif delta == 0 and fest.get("on_day"):
                window = "on_day"
            elif 0 <= delta < int(fest.get("closed_days", 0)):
                window = "closed"
            if window is None:
                continue
            out._apply(fest.get(window, {}))
            if window != "closed":
                for cat, f in fest.get("commodity", {}).items():
                    out.category[cat] = out.category.get(cat, 1.0) * float(f)
            if window == "before":
                for act, h in fest.get("shift_hours", {}).items():
                    out.shift_h[act] = out.shift_h.get(act, 0.0) + float(h)
            out.labels.append(f"{key}:{window}")
    return out
