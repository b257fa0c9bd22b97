"""Device mode: retail sales travel as frames through simulated scales (placeholder until wired).

:func:`unavailable` says why device mode cannot run (``None`` when it can);
:func:`attach` wires a :class:`~simulators.market.model.MarketModel` to the scales.
"""
from __future__ import annotations


def unavailable() -> tuple[str, str] | None:
    return ("设备模式尚未接入（simulators/market/devices.py），请使用 --mode fast",
            "device mode is not wired yet (simulators/market/devices.py); use --mode fast")


def attach(model) -> None:
    raise RuntimeError("device mode is not wired yet")
