"""Seeded city fixtures: every node, operator, stall, card, device, vehicle and origin of a city.

    from simulators.city import generate_city, dumps
    city = generate_city("urumqi", seed=1)      # -> City
    text = dumps(city)                           # canonical JSON, byte-stable per seed

Presets live in ``presets/*.toml``; :func:`load_preset` validates one
(:class:`PresetError` otherwise); :func:`check_city` validates every code and
identifier of a city's JSON form.
"""

from .canonical import dump_bytes, dumps
from .check import CityCheck, check_city
from .errors import CityError, NotACityError, PresetError
from .generate import generate_city
from .model import Card, City, Handheld, Node, Operator, Origin, Scale, Stall, Vehicle
from .presets import Preset, available_presets, load_preset

__all__ = [
    "generate_city",
    "dumps",
    "dump_bytes",
    "check_city",
    "CityCheck",
    "City",
    "Node",
    "Operator",
    "Stall",
    "Card",
    "Scale",
    "Handheld",
    "Vehicle",
    "Origin",
    "Preset",
    "PresetError",
    "CityError",
    "NotACityError",
    "available_presets",
    "load_preset",
]
