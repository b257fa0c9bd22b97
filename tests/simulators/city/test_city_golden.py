"""fixtures/cities/tiny-seed1.json is what `generate_city("tiny", 1)` gives, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.city import dump_bytes, generate_city
from simulators.city.people import FAKER_VERSION

GOLDEN = Path(__file__).parents[3] / "fixtures" / "cities" / "tiny-seed1.json"


def test_regenerating_tiny_seed1_gives_the_golden_bytes():
    want = GOLDEN.read_bytes()
    made_with = json.loads(want)["generator"]["faker"]
    if made_with != FAKER_VERSION:
        pytest.skip(
            f"golden made with Faker {made_with}, installed {FAKER_VERSION}: names may differ; "
            f"regenerate with `roucai fixtures city --preset tiny --seed 1 --out {GOLDEN.name}`"
        )
    assert dump_bytes(generate_city("tiny", 1)) == want
