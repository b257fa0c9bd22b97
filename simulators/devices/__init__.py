"""Simulated devices (scale, service card + reader, handheld) and their host-side drivers.

    from simulators.serial import open_line
    from simulators.devices import ScaleModel, serve, ScaleDriver

    line = open_line("scale-01")                     # or backend="pty" / "socket"
    scale = ScaleModel("scale.db", seed=1)           # durable store (SQLite WAL)
    with serve(scale, line.device) as runner:         # a thread; SimRunner for SimPy time
        drv = ScaleDriver(line.host_url)             # any pyserial URL or port
        drv.identify(); drv.read_records(1, 10)

Models are state machines apart from any transport (:mod:`.scale`, :mod:`.reader`
+ :mod:`.card`, :mod:`.handheld`); :mod:`.endpoint` puts a model behind the
profile's wire protocol; :mod:`.runner` serves it on a port.
"""

from __future__ import annotations

from .driver import DeviceDriver, DeviceError, DeviceNak, DeviceTimeout, HostSession, ReaderDriver, ScaleDriver
from .endpoint import DeviceEndpoint
from .faults import FAULTS, FaultError, FaultSet
from .fleet import run_fleet
from .handheld import HandheldTerminal
from .reader import ReaderModel
from .runner import SimRunner, ThreadRunner
from .scale import ScaleModel


def serve(model, port, *, protocol=None, poll_s: float = 0.005, tick=None) -> ThreadRunner:
    """A (not yet started) :class:`ThreadRunner` serving ``model`` on ``port``; use as a context manager."""
    from profiles.device import get_protocol

    ep = DeviceEndpoint(protocol or get_protocol(profile=getattr(model, "profile", None)), model)
    return ThreadRunner(ep, port, poll_s=poll_s, tick=tick)


__all__ = [
    "DeviceDriver",
    "DeviceError",
    "DeviceNak",
    "DeviceTimeout",
    "HostSession",
    "ReaderDriver",
    "ScaleDriver",
    "DeviceEndpoint",
    "FAULTS",
    "FaultError",
    "FaultSet",
    "SimRunner",
    "ThreadRunner",
    "ScaleModel",
    "serve",
    "run_fleet",
    "HandheldTerminal",
    "ReaderModel",
]
