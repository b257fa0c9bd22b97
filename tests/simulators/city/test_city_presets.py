"""simulators/city/presets.py: validation before generation."""

from __future__ import annotations

import copy
import tomllib

import pytest

from profiles import load_profile
from simulators.city import PresetError, available_presets, generate_city, load_preset
from simulators.city.presets import PRESETS_DIR, validate_preset

P = load_profile()
RAW = tomllib.loads((PRESETS_DIR / "tiny.toml").read_text("utf-8"))


def test_shipped_presets_load():
    assert {"tiny", "urumqi", "lanzhou"} <= set(available_presets())
    for name in available_presets():
        assert load_preset(name, P).node_count > 0
    lz = load_preset("lanzhou", P)
    assert (lz.node_count, lz.stall_count) == (428, 1046)


def _bad(mutate):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(PresetError) as exc:
        validate_preset("x", raw, P)
    assert exc.value.zh and exc.value.en
    return exc.value


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r["nodes"]["farmers_market"].update(count=-1),
        lambda r: r["nodes"]["farmers_market"].update(stalls=-5),
        lambda r: r["nodes"]["farmers_market"].update(count="3"),
        lambda r: r["nodes"]["farmers_market"].update(stalls=0),
        lambda r: r["nodes"]["slaughter_pig"].update(registered=[3, 1]),
        lambda r: r["nodes"]["canteen"].update(registered=[1, 2]),
        lambda r: r["nodes"]["canteen"].update(stalls=3),
        lambda r: r["nodes"]["supermarket"].update(hours=["25:00", "10:00"]),
        lambda r: r["nodes"].update(spaceship={"count": 1}),
        lambda r: r["nodes"]["canteen"].update(cout=1),
        lambda r: r.update(city="650102"),
        lambda r: r.update(city="999900"),
        lambda r: r.update(districts=["620102"]),
        lambda r: r.update(reference_date="2025-02-30"),
        lambda r: r["origins"][0].update(regions=["650100"]),
        lambda r: r["origins"][0].update(type="fish_farm"),
        lambda r: r["origins"][0].update(count=-2),
        lambda r: r["nodes"]["vegetable_wholesale"].update(named=[{"name": "X", "district": "650121"}]),
    ],
)
def test_bad_presets_are_refused(mutate):
    _bad(mutate)


def test_unknown_preset_name_lists_known():
    with pytest.raises(PresetError) as exc:
        load_preset("atlantis", P)
    assert "tiny" in exc.value.en
    with pytest.raises(PresetError):
        load_preset("../etc/passwd", P)


def test_preset_from_a_file(tmp_path):
    f = tmp_path / "mini.toml"
    f.write_text('city = "620100"\nreference_date = "2024-06-01"\n[nodes.canteen]\ncount = 3\n', "utf-8")
    c = generate_city(str(f), 2)
    assert len(c.nodes) == 3 and c.city_name == "兰州市" and c.preset == "mini"
    f.write_text("city = [", "utf-8")
    with pytest.raises(PresetError):
        load_preset(str(f), P)


def test_negative_seed_refused():
    with pytest.raises(PresetError):
        generate_city("tiny", -1)
