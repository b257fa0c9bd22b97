"""Time-varying arrival rates and sizes of the market day (data: ``rates.toml``).

Contract:

* :meth:`Rates.shape` gives an activity's 24 hourly weights normalised to sum 1
  (a probability per local clock hour).  Activities are the ``[hourly.*]`` tables.
* :meth:`Rates.sample_time` draws a time of day (seconds, ``0 <= t < 86400``) from that
  density, shifted by ``shift_h`` hours (festival clock shifts) and kept inside the day.
* :meth:`Rates.intensity` gives λ(t) in arrivals per second for an expected daily count;
  with :meth:`Rates.peak_intensity` it drives the thinning arrivals (``arrivals.py``).
* Every number is checked on load: an hourly table has 24 non-negative weights with a
  positive sum, volumes are non-negative, shares lie in [0, 1].  A bad file raises
  :class:`~simulators.market.errors.MarketConfigError` before any run starts.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from .errors import MarketConfigError

RATES_FILE = Path(__file__).with_name("rates.toml")
DAY_S = 86400.0
HOUR_S = 3600.0

_SHARES = (
    "stock_cover",
    "wholesale_cover",
    "veg_spoilage",
    "cash_buyer_share",
    "regular_share",
    "detection_sample_share",
    "detection_pass_rate",
    "quarantine_sample_share",
)


class Rates:
    """The loaded, validated ``rates.toml`` (or a dict of the same shape, for tests)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self._validate()
        self._shapes = {name: self._normalise(t["weights"]) for name, t in data["hourly"].items()}
        self.volume: dict[str, Any] = data["volume"]
        self.species: dict[str, Any] = data["species"]
        self.price: dict[str, Any] = data["price"]
        self.day: dict[str, Any] = data["day"]
        self.festivals: dict[str, Any] = data.get("festival", {})
        self.faults: dict[str, float] = {k: float(v) for k, v in data["faults"].items() if k != "source"}
        self.upload: dict[str, Any] = data["upload"]
        self.fault_sets: dict[str, dict[str, float]] = {
            name: {k: float(v) for k, v in t.items() if k != "source"} for name, t in data.get("fault_sets", {}).items()
        }

    @classmethod
    def load(cls, path: Path | None = None, overrides: dict | None = None) -> "Rates":
        """Load ``rates.toml`` (or ``path``); ``overrides`` deep-merge over it."""
        p = path or RATES_FILE
        try:
            data = tomllib.loads(p.read_text("utf-8"))
        except FileNotFoundError:
            raise MarketConfigError(f"找不到速率文件 {p}", f"rates file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise MarketConfigError(f"速率文件格式错误 {p}: {exc}", f"malformed rates file {p}: {exc}") from None
        if overrides:
            data = _merge(data, overrides)
        return cls(data)

    # -- checks ------------------------------------------------------------
    def _validate(self) -> None:
        d = self.data
        for key in ("hourly", "volume", "species", "price", "day", "faults", "upload"):
            if not isinstance(d.get(key), dict):
                raise MarketConfigError(f"速率文件缺少 [{key}]", f"rates: missing table [{key}]")
        for name, table in d["hourly"].items():
            w = table.get("weights")
            if not isinstance(w, list) or len(w) != 24:
                raise MarketConfigError(
                    f"[hourly.{name}] weights 须为24个数", f"[hourly.{name}] weights must be 24 numbers"
                )
            if any((not isinstance(x, (int, float))) or x < 0 or math.isnan(x) for x in w) or sum(w) <= 0:
                raise MarketConfigError(
                    f"[hourly.{name}] 权重须非负且总和为正",
                    f"[hourly.{name}] weights must be non-negative with a positive sum",
                )
        for key, val in d["volume"].items():
            for x in _numbers(val):
                if x < 0:
                    raise MarketConfigError(
                        f"[volume] {key} 不能为负数（{x}）", f"[volume] {key} must not be negative ({x})"
                    )
        for key in _SHARES:
            x = d["volume"].get(key)
            if x is None:
                raise MarketConfigError(f"[volume] 缺少 {key}", f"[volume] missing {key}")
            limit = 3.0 if key.endswith("cover") else 1.0
            if not 0 <= x <= limit:
                raise MarketConfigError(f"[volume] {key} 超出范围（{x}）", f"[volume] {key} out of range ({x})")
        for key, x in d["faults"].items():
            if key != "source" and not (isinstance(x, (int, float)) and 0 <= x <= 1):
                raise MarketConfigError(
                    f"故障 {key} 的比率须在0到1之间（{x}）", f"fault {key}: rate must be 0..1 ({x})"
                )
        for name, t in d.get("fault_sets", {}).items():
            for key, x in t.items() if isinstance(t, dict) else [("", None)]:
                if key != "source" and not (key in d["faults"] and isinstance(x, (int, float)) and 0 <= x <= 1):
                    raise MarketConfigError(
                        f"故障集 {name}：{key} 须为 [faults] 中的开关，比率在0到1之间",
                        f"fault set {name}: {key} must be a [faults] switch with a rate 0..1",
                    )
        for key, x in d["upload"].items():
            for v in _numbers(x):
                if v < 0:
                    raise MarketConfigError(f"[upload] {key} 不能为负数", f"[upload] {key} must not be negative")

    @staticmethod
    def _normalise(w: list[float]) -> list[float]:
        s = float(sum(w))
        return [x / s for x in w]

    # -- queries -----------------------------------------------------------
    @property
    def activities(self) -> list[str]:
        return sorted(self._shapes)

    def shape(self, activity: str) -> list[float]:
        """24 hourly probabilities of ``activity`` (sum 1)."""
        return self._shapes[activity]

    def peaks(self, activity: str) -> list[int]:
        """The hours ``rates.toml`` declares as this activity's peaks."""
        return list(self.data["hourly"][activity].get("peak", []))

    def intensity(self, activity: str, expected: float, t_of_day: float, shift_h: float = 0.0) -> float:
        """λ(t) in arrivals/second at ``t_of_day`` seconds for ``expected`` arrivals a day."""
        h = int(((t_of_day / HOUR_S) - shift_h) % 24)
        return expected * self._shapes[activity][h] / HOUR_S

    def peak_intensity(self, activity: str, expected: float) -> float:
        """The largest λ(t) of the day (the thinning envelope λmax), arrivals/second."""
        return expected * max(self._shapes[activity]) / HOUR_S

    def sample_time(self, activity: str, rng, shift_h: float = 0.0) -> float:
        """A time of day in seconds drawn from the activity's hourly density.

        The hour is drawn by weight, the second inside it uniformly; a festival
        ``shift_h`` moves the time and the result is clamped to ``[0, 86400)``.
        """
        h = rng.choices(range(24), weights=self._shapes[activity])[0]
        t = (h + rng.random()) * HOUR_S + shift_h * HOUR_S
        return min(max(t, 0.0), DAY_S - 1.0)


def _numbers(val) -> list[float]:
    if isinstance(val, bool):
        return []
    if isinstance(val, (int, float)):
        return [float(val)]
    if isinstance(val, list):
        return [float(x) for x in val if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if isinstance(val, dict):
        return [x for v in val.values() for x in _numbers(v)]
    return []


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
