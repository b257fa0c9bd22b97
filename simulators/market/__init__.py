"""Market traffic: a SimPy model of a city's meat and vegetable days, with a ground-truth ledger.

    from simulators.market import run_market
    ledger = run_market("tiny", seed=1, start=datetime.date(2025, 3, 10))
    ledger.kpis(); ledger.chain(trace_code); ledger.conservation()

See ``model.py`` (the model), ``ledger.py`` (the truth and its queries), ``rates.toml``
(every rate with its source) and docs/market-model.md.
"""

from __future__ import annotations

import datetime as dt
from typing import IO

from .errors import MarketConfigError
from .ledger import Ledger
from .model import MarketModel
from .rates import Rates
from .retail import RETAIL_UPLOADS

__all__ = ["run_market", "MarketModel", "Ledger", "Rates", "MarketConfigError"]


def run_market(
    preset: str,
    seed: int,
    start: dt.date,
    days: int = 1,
    *,
    city_seed: int | None = None,
    profile=None,
    fault_rates: dict | None = None,
    stream: IO[str] | None = None,
    ledger_sink: IO[str] | None = None,
    env=None,
    progress=None,
    mode: str = "fast",
    record_hooks: list | None = None,
    rates: Rates | None = None,
    retail_upload: str = RETAIL_UPLOADS[0],
) -> Ledger:
    """Generate the city of ``preset`` (seed ``city_seed``, default ``seed``) and run the days (``rates``: the
    model's rates, default ``rates.toml``; ``retail_upload``: what retail nodes upload of their sales,
    :data:`~simulators.market.retail.RETAIL_UPLOADS`).

    :raises MarketConfigError: impossible configuration (nothing has run yet).
    :raises simulators.city.PresetError: unknown or bad preset.
    """
    from profiles import load_profile
    from simulators.city import generate_city

    prof = profile or load_profile()
    city = generate_city(preset, seed if city_seed is None else city_seed, prof)
    rates = rates or Rates.load()
    ledger = Ledger(ledger_sink, deadline_grace_s=rates.upload["deadline_grace_s"])
    model = MarketModel(
        city,
        prof,
        seed=seed,
        start=start,
        days=days,
        rates=rates,
        fault_rates=fault_rates,
        ledger=ledger,
        stream=stream,
        env=env,
        progress=progress,
        mode=mode,
        record_hooks=record_hooks,
        retail_upload=retail_upload,
    )
    led = model.run()
    led.finish()
    return led
