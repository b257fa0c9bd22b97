"""Line faults: named switches with parameters and a seed, scoped to one line.

A :class:`Fault` is a frozen description.  A line binds each fault once per
direction (:meth:`Fault.bind`), which gives an applier with its own
``random.Random`` seeded from ``(fault name, seed, direction)``: the same seed
and the same sequence of writes give the same corrupted bytes, whatever the
clock and whatever other lines do.

Appliers transform a *burst*: a list of ``(start_s, data)`` pieces, each piece
sent back to back at the sender's byte time ``bt`` starting at ``start_s`` (an
absolute clock time).  Times ``at`` in fault parameters are seconds from the
line's opening.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DIRECTIONS = ("host->device", "device->host")
_DIR_CHOICES = ("both",) + DIRECTIONS

Piece = tuple[float, bytes]


@dataclass(frozen=True)
class Context:
    """What an applier needs to know about the line: sender byte time (s), open time, data mask."""

    bt: float
    t_open: float
    mask: int = 0xFF


@dataclass(frozen=True)
class Fault:
    """Base of all faults.  ``name`` is the switch name used on the CLI."""

    name = "fault"
    #: transmit-stage faults change when the sender's UART is busy (split); others act on the wire.
    stage = "wire"

    def applies(self, direction: str) -> bool:
        d = getattr(self, "direction", "both")
        return d == "both" or d == direction

    def bind(self, direction: str) -> "Applier":
        seed = getattr(self, "seed", 0)
        return Applier(self, random.Random(f"{self.name}:{seed}:{direction}"))

    # overridden by subclasses -------------------------------------------------
    def apply(self, pieces: list[Piece], ctx: Context, rng: random.Random) -> list[Piece]:
        return pieces

    def idle_pieces(self, ctx: Context, rng: random.Random) -> list[Piece]:
        """Bytes this fault puts on an idle line by itself (noise), scheduled at bind time."""
        return []

    def unplugged(self, t: float, t_open: float) -> bool:
        return False

    def to_dict(self) -> dict:
        d = {"name": self.name}
        d.update({k: v for k, v in self.__dict__.items()})
        return d


@dataclass
class Applier:
    """A fault bound to one direction of one line, with its own random stream."""

    fault: Fault
    rng: random.Random
    changed: int = field(default=0)

    def apply(self, pieces: list[Piece], ctx: Context) -> list[Piece]:
        return self.fault.apply(pieces, ctx, self.rng)


def _check_direction(d: str) -> None:
    if d not in _DIR_CHOICES:
        raise ValueError(f"direction must be one of {_DIR_CHOICES}, got {d!r}")


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within 0..1, got {rate!r}")


def _check_nonneg(name: str, v: float) -> None:
    if not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}")


def _drop(pieces: list[Piece], bt: float, lost) -> list[Piece]:
    """Remove the characters for which ``lost(start_time_of_char)`` is true; the survivors
    keep their times (a lost character's wire time still passes), so pieces split into runs."""
    out: list[Piece] = []
    for start, data in pieces:
        run_start, run = None, bytearray()
        for k, b in enumerate(data):
            t0 = start + k * bt
            if lost(t0):
                if run:
                    out.append((run_start, bytes(run)))
                run_start, run = None, bytearray()
                continue
            if run_start is None:
                run_start = t0
            run.append(b)
        if run:
            out.append((run_start, bytes(run)))
    return out


@dataclass(frozen=True)
class ByteLoss(Fault):
    """Each character is lost with probability ``rate`` (its wire time still passes)."""

    rate: float
    seed: int = 0
    direction: str = "both"
    name = "byte_loss"

    def __post_init__(self):
        _check_rate(self.rate)
        _check_direction(self.direction)

    def apply(self, pieces, ctx, rng):
        return _drop(pieces, ctx.bt, lambda t0: rng.random() < self.rate)


@dataclass(frozen=True)
class BitErrors(Fault):
    """Each data bit is flipped with probability ``rate`` (start/stop bits are left alone)."""

    rate: float
    seed: int = 0
    direction: str = "both"
    name = "bit_errors"

    def __post_init__(self):
        _check_rate(self.rate)
        _check_direction(self.direction)

    def apply(self, pieces, ctx, rng):
        nbits = ctx.mask.bit_length()
        out = []
        for start, data in pieces:
            buf = bytearray(data)
            for i in range(len(buf)):
                flip = 0
                for k in range(nbits):
                    if rng.random() < self.rate:
                        flip |= 1 << k
                buf[i] ^= flip
            out.append((start, bytes(buf)))
        return out


@dataclass(frozen=True)
class Split(Fault):
    """An idle gap of ``gap_s`` seconds inside each write: after every ``every`` bytes,
    or (``every=None``) once at a seeded random point.  The sender is busy for the gap."""

    gap_s: float
    every: int | None = None
    seed: int = 0
    direction: str = "both"
    name = "split"
    stage = "transmit"

    def __post_init__(self):
        _check_nonneg("gap_s", self.gap_s)
        _check_direction(self.direction)
        if self.every is not None and self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every!r}")

    def apply(self, pieces, ctx, rng):
        out: list[Piece] = []
        shift = 0.0
        for start, data in pieces:
            if len(data) < 2:
                out.append((start + shift, data))
                continue
            if self.every:
                cuts = list(range(self.every, len(data), self.every))
            else:
                cuts = [rng.randrange(1, len(data))]
            prev = 0
            for c in cuts + [len(data)]:
                out.append((start + shift + prev * ctx.bt, data[prev:c]))
                if c != len(data):
                    shift += self.gap_s
                prev = c
        return out


@dataclass(frozen=True)
class Delay(Fault):
    """Every character arrives ``seconds`` later (latency; throughput unchanged)."""

    seconds: float
    direction: str = "both"
    name = "delay"

    def __post_init__(self):
        _check_nonneg("seconds", self.seconds)
        _check_direction(self.direction)

    def apply(self, pieces, ctx, rng):
        return [(s + self.seconds, d) for s, d in pieces]


@dataclass(frozen=True)
class NoiseBurst(Fault):
    """During ``[at, at + duration)`` characters on the wire are garbled and about
    ``density`` of the idle line's character slots carry random bytes."""

    duration: float
    at: float
    seed: int = 0
    density: float = 0.3
    direction: str = "both"
    name = "noise_burst"

    def __post_init__(self):
        _check_nonneg("duration", self.duration)
        _check_nonneg("at", self.at)
        _check_rate(self.density)
        _check_direction(self.direction)

    def apply(self, pieces, ctx, rng):
        lo, hi = ctx.t_open + self.at, ctx.t_open + self.at + self.duration
        out = []
        for start, data in pieces:
            end = start + len(data) * ctx.bt
            if end <= lo or start >= hi:
                out.append((start, data))
                continue
            buf = bytearray(data)
            for k in range(len(buf)):
                t0 = start + k * ctx.bt
                if t0 + ctx.bt > lo and t0 < hi:
                    buf[k] ^= rng.randrange(1, 256) & ctx.mask or 1
            out.append((start, bytes(buf)))
        return out

    def idle_pieces(self, ctx, rng):
        slots = int(self.duration / ctx.bt)
        n = int(slots * self.density)
        if n == 0:
            return []
        t0 = ctx.t_open + self.at
        picks = sorted(rng.sample(range(slots), n))
        return [(t0 + k * ctx.bt, bytes([rng.randrange(256) & ctx.mask])) for k in picks]


@dataclass(frozen=True)
class Unplug(Fault):
    """The cable is pulled at ``at`` for ``duration`` seconds: characters on the wire
    then are lost and host operations raise ``serial.SerialException``."""

    at: float
    duration: float
    direction: str = "both"
    name = "unplug"

    def __post_init__(self):
        _check_nonneg("at", self.at)
        _check_nonneg("duration", self.duration)
        _check_direction(self.direction)

    def unplugged(self, t, t_open):
        return t_open + self.at <= t < t_open + self.at + self.duration

    def apply(self, pieces, ctx, rng):
        lo, hi = ctx.t_open + self.at, ctx.t_open + self.at + self.duration
        return _drop(pieces, ctx.bt, lambda t0: t0 + ctx.bt > lo and t0 < hi)


# the switch names, as the CLI spells them ------------------------------------------
def byte_loss(rate: float, seed: int = 0, direction: str = "both") -> ByteLoss:
    return ByteLoss(rate, seed, direction)


def bit_errors(rate: float, seed: int = 0, direction: str = "both") -> BitErrors:
    return BitErrors(rate, seed, direction)


def split(gap_s: float, every: int | None = None, seed: int = 0, direction: str = "both") -> Split:
    return Split(gap_s, every, seed, direction)


def delay(seconds: float, direction: str = "both") -> Delay:
    return Delay(seconds, direction)


def noise_burst(duration: float, at: float, seed: int = 0, density: float = 0.3, direction: str = "both") -> NoiseBurst:
    return NoiseBurst(duration, at, seed, density, direction)


def unplug(at: float, duration: float, direction: str = "both") -> Unplug:
    return Unplug(at, duration, direction)


FAULTS = {
    "byte_loss": byte_loss,
    "bit_errors": bit_errors,
    "split": split,
    "delay": delay,
    "noise_burst": noise_burst,
    "unplug": unplug,
}


def fault_from_spec(spec: str, default_seed: int = 0) -> Fault:
    """Parse ``"NAME:key=value,key=value"`` (e.g. ``"byte_loss:rate=0.01,seed=3"``).

    ``seed`` defaults to ``default_seed`` for faults that take one.
    :raises ValueError: unknown name, unknown or malformed parameter (message names the choices).
    """
    name, _, rest = spec.strip().partition(":")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; choose from {', '.join(FAULTS)}")
    fn = FAULTS[name]
    params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    kwargs: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = item.partition("=")
        if not eq or key not in params:
            raise ValueError(f"fault {name}: bad parameter {item!r}; expected key=value with key in {params}")
        if key == "direction":
            kwargs[key] = val
        elif key in ("seed", "every"):
            kwargs[key] = int(val)
        else:
            kwargs[key] = float(val)
    if "seed" in params and "seed" not in kwargs:
        kwargs["seed"] = default_seed
    try:
        return fn(**kwargs)
    except TypeError as e:
        raise ValueError(f"fault {name}: {e}") from None
