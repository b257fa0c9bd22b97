"""Shared runs of the market model on the tiny city (each takes well under a second)."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from profiles import load_profile
from simulators.city import generate_city
from simulators.market.ledger import Ledger
from simulators.market.model import MarketModel
from simulators.market.rates import Rates

DAY = dt.date(2025, 3, 10)  # a Monday, no festival


def run_tiny(
    seed=1,
    start=DAY,
    days=1,
    faults=None,
    overrides=None,
    city=None,
    hooks=None,
    keep_ledger_text=False,
    retail_upload="summary",
):
    """Run tiny; returns (model, ledger, stream text, ledger text or None)."""
    prof = load_profile()
    rates = Rates.load(overrides=overrides)
    stream = io.StringIO()
    led_sink = io.StringIO() if keep_ledger_text else None
    ledger = Ledger(led_sink, deadline_grace_s=rates.upload["deadline_grace_s"])
    m = MarketModel(
        city or generate_city("tiny", 1, prof),
        prof,
        seed=seed,
        start=start,
        days=days,
        rates=rates,
        fault_rates=faults,
        ledger=ledger,
        stream=stream,
        record_hooks=hooks,
        retail_upload=retail_upload,
    )
    m.run()
    if led_sink is not None:
        ledger.finish()
    return m, ledger, stream.getvalue(), (led_sink.getvalue() if led_sink is not None else None)


@pytest.fixture(scope="session")
def tiny_day():
    return run_tiny(keep_ledger_text=True)
