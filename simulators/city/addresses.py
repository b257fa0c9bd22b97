"""Street addresses built from real district names and the catalogue's own street parts.

Never Faker's addresses (toolchain.md §1: province, city and district mixed at
random).  The district, city and province are the real GB/T 2260 names; the
street is generated (``{part}{suffix}{n}号``) and does not claim to exist.
"""

from __future__ import annotations

import random


def address(rng: random.Random, province: str, city: str, district: str, parts: dict) -> str:
    """``新疆维吾尔自治区乌鲁木齐市天山区友好北路128号``-style address."""
    street = rng.choice(parts["street"]) + rng.choice(parts["street_suffix"])
    return f"{province}{city}{district}{street}{rng.randint(1, 999)}号"
