"""simulators/city/generate.py: determinism, exact counts, every code valid, no Faker leaks."""

from __future__ import annotations

import re

import pytest

from profiles import load_profile
from simulators.city import City, check_city, dump_bytes, dumps, generate_city

P = load_profile()


@pytest.fixture(scope="module")
def cities():
    return {name: generate_city(name, 1) for name in ("tiny", "urumqi", "lanzhou")}


def test_same_seed_same_bytes_different_seed_different():
    a, b = dump_bytes(generate_city("tiny", 7)), dump_bytes(generate_city("tiny", 7))
    assert a == b
    assert dump_bytes(generate_city("tiny", 8)) != a


def test_urumqi_is_byte_identical_across_runs(cities):
    assert dump_bytes(generate_city("urumqi", 1)) == dump_bytes(cities["urumqi"])


def test_canonical_text_shape(cities):
    text = dumps(cities["tiny"])
    assert text.endswith("}\n") and "\\u" not in text  # ensure_ascii=False
    keys = re.findall(r'^ "(\w+)":', text, re.M)
    assert keys == sorted(keys)  # sorted keys at the top level


def test_json_round_trip(cities):
    import json

    c = cities["tiny"]
    back = City.from_dict(json.loads(dumps(c)))
    assert dumps(back) == dumps(c)


@pytest.mark.parametrize("name", ["tiny", "urumqi", "lanzhou"])
def test_every_code_and_identifier_validates(cities, name):
    res = check_city(cities[name])
    assert res.ok, [f.to_dict() for f in res.findings[:5]]
    assert res.findings == []  # not even warnings
    c = cities[name]
    assert res.counts["node"] == len(c.nodes) and res.counts["operator"] == len(c.operators)
    assert res.counts["card_uid"] == len(c.cards) and res.counts["plate"] == len(c.vehicles)
    assert res.counts["uscc"] == sum(1 for o in c.operators if o.uscc)


def test_lanzhou_counts_are_exact(cities):
    c = cities["lanzhou"]
    assert len(c.nodes) == 428 and len(c.stalls) == 1046
    mix = c.nodes_by_type()
    assert mix["slaughter_pig"] + mix["slaughter_cattle_sheep"] + mix["slaughter_poultry"] == 15
    assert (
        mix["vegetable_wholesale"],
        mix["farmers_market"],
        mix["supermarket"],
        mix["community_outlet"],
        mix["canteen"],
    ) == (4, 34, 28, 101, 200)
    lanzhou_counties = {r.code for r in P.regions.counties_of("620100")}
    assert {n.district_code for n in c.nodes} <= lanzhou_counties
    assert all(s.startswith("甘A") for s in (v.plate for v in c.vehicles))


def test_urumqi_districts_and_plan(cities):
    c = cities["urumqi"]
    assert [d["code"] for d in c.districts] == [
        "650102",
        "650103",
        "650104",
        "650105",
        "650106",
        "650107",
        "650109",
        "650121",
    ]
    mix = c.nodes_by_type()
    assert mix["slaughter_pig"] + mix["slaughter_cattle_sheep"] + mix["slaughter_poultry"] == 11
    assert mix["vegetable_wholesale"] == 4
    jiuding = next(n for n in c.nodes if n.name == "新疆九鼎农产品批发交易市场")
    assert jiuding.district_code == "650103"


@pytest.mark.parametrize("name", ["tiny", "urumqi", "lanzhou"])
def test_no_faker_plate_or_address_leaks(cities, name):
    c = cities[name]
    for v in c.vehicles:
        assert "-" not in v.plate and "I" not in v.plate and "O" not in v.plate
        assert v.plate.startswith(c.plate_prefix)
    for n in c.nodes:
        assert n.address.startswith(c.province_name + c.city_name + n.district_name), n.address
        assert P.regions.get(n.district_code).name == n.district_name
    for o in c.origins:
        assert o.region_name == P.regions.full_name(o.region_code)


def test_structure_links(cities):
    c = cities["urumqi"]
    ops = {o.code: o for o in c.operators}
    for n in c.nodes:
        assert n.code[:6] == n.district_code
        own = ops[n.operator_code]
        assert own.code.endswith("0000") and own.kind == "company" and own.uscc[2:8] == n.district_code
    for o in c.operators:
        if o.kind == "individual":
            assert o.resident_id and o.legal_person is None
            assert o.uscc is None or o.uscc.startswith("92")
    # node sequences count per district from 001 without gaps
    by_d: dict[str, list[int]] = {}
    for n in c.nodes:
        by_d.setdefault(n.district_code, []).append(int(n.code[6:]))
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_d.values())
    # every stall has exactly one 15 kg counter scale; wholesalers have 150 kg platform scales
    stall_scales = [s for s in c.scales if s.stall is not None]
    assert len(stall_scales) == len(c.stalls)
    assert {(s.capacity_kg, tuple(s.divisions_g)) for s in stall_scales} == {(15, (2, 5))}
    assert all(s.capacity_kg == 150 for s in c.scales if s.stall is None)
    # 主卡 for every trading operator, 副卡 for wholesalers only
    kinds = {(k.operator_code, k.card_kind) for k in c.cards}
    for o in c.operators:
        if o.business_type == "1003":
            assert (o.code, "01") in kinds and (o.code, "02") in kinds
    handheld_nodes = {h.node_code for h in c.handhelds}
    types = {n.code: n.type for n in c.nodes}
    assert {types[x] for x in handheld_nodes} <= {
        "slaughter_pig",
        "slaughter_cattle_sheep",
        "slaughter_poultry",
        "meat_wholesale",
        "vegetable_wholesale",
        "distribution_centre",
    }


def test_resident_ids_do_not_depend_on_the_clock(cities):
    c = cities["tiny"]
    ref = c.reference_date.replace("-", "")
    for o in c.operators:
        if o.resident_id:
            birth = o.resident_id[6:14]
            assert "19590101" <= birth <= ref[:4] + "1231"
            assert int(ref[:4]) - int(birth[:4]) >= 19


def test_origins_cover_local_and_other_provinces(cities):
    c = cities["urumqi"]
    provinces = {o.region_code[:2] for o in c.origins}
    assert "65" in provinces and "37" in provinces  # Xinjiang and 山东 (寿光)
    assert any(o.region_code == "370783" and o.type == "vegetable_base" for o in c.origins)
