"""The catalogue of deliberately broken variants of the reference implementations.

Each variant (``conformance/variants.toml``) is a named defect of one
reference actor (scale, card reader, handheld, node, city platform) that
breaks one requirement.  The products hold no defect switch: a proof installs
the defect from outside (``conformance/proofs/``: ``device_firmware.py``,
``node_faults.py``, ``platform_faults.py``), or, for a device, turns on a field
or line fault the model has.  ``--target builtin?variant=NAME`` runs the suites
against the built-in target with that defect; CI runs every variant and
requires it to be caught — a ``fail`` (or ``timeout``) verdict on a test that
names the broken requirement — and the clean reference to pass (the proof
that each test can fail, see ``tests/conformance/test_variants.py``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

VARIANTS_FILE = Path(__file__).resolve().parent / "variants.toml"
ACTORS = ("scale", "card_reader", "handheld", "node", "city_platform")


@dataclass(frozen=True)
class Variant:
    name: str
    actor: str  #: which reference actor carries the switch
    switch: str  #: the switch's name in that actor's fault/variant table
    breaks: str  #: the requirement id it breaks
    suite: str  #: the suite expected to catch it
    zh: str
    en: str


@lru_cache(maxsize=1)
def load_variants() -> dict[str, Variant]:
    doc = tomllib.loads(VARIANTS_FILE.read_text("utf-8"))
    out = {}
    for name, v in doc.get("variant", {}).items():
        if v["actor"] not in ACTORS:
            raise ValueError(f"variant {name}: unknown actor {v['actor']!r}")
        out[name] = Variant(name, v["actor"], v.get("switch", name), v["breaks"], v["suite"], v["zh"], v["en"])
    return out
