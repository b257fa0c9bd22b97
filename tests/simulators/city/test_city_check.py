"""simulators/city/check.py: a broken city is judged field by field, never with a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from simulators.city import check_city
from simulators.city import NotACityError

GOLDEN = json.loads((Path(__file__).parents[3] / "fixtures/cities/tiny-seed1.json").read_text("utf-8"))


def rules_after(mutate):
    d = copy.deepcopy(GOLDEN)
    mutate(d)
    return {(f.rule, f.field.split(".")[0].split("[")[0]) for f in check_city(d).findings}


def test_golden_is_clean():
    res = check_city(GOLDEN)
    assert res.ok and res.findings == []


@pytest.mark.parametrize(
    "mutate,rule",
    [
        (lambda d: d["nodes"][0].update(code="650100001"), "CODE-NODE-02"),
        (lambda d: d["operators"][1].update(code=d["operators"][1]["code"][:-1] + "Ｘ"), "CODE-OPER-01"),
        (lambda d: d["operators"][0].update(uscc=d["operators"][0]["uscc"][:-1] + "0"), "CODE-USCC-02"),
        (lambda d: d["vehicles"][0].update(plate="新A-12345"), "CODE-PLATE-01"),
        (lambda d: d["vehicles"][0].update(plate="新AI2345"), "CODE-PLATE-02"),
        (lambda d: d["vehicles"][0].update(disinfection_cert="AQ650102202501060001"), "CODE-CERT-01"),
        (lambda d: d["origins"][0].update(certificate="AQ650121202502300001"), "CODE-CERT-01"),
        (lambda d: d["cards"][0].update(uid="04a1b2c3"), "CODE-CARD-01"),
        (lambda d: d["cards"][1].update(uid=d["cards"][0]["uid"]), "NODE-REG-01"),
        (lambda d: d["cards"][0].update(card_kind="03"), "NODE-REG-01"),
        (lambda d: d["stalls"][0].update(operator_code="6501020019999"), "NODE-REG-01"),
        (lambda d: d["nodes"][0].update(district_code="650105"), "NODE-REG-01"),
        (lambda d: d["scales"][0].update(node_code="650102999"), "NODE-REG-01"),
        (lambda d: d["nodes"][0].update(supply_type="0009"), "NODE-REG-01"),
        (lambda d: d["nodes"][0].update(operator_code=d["nodes"][0]["code"] + "0001"), "CODE-OPER-02"),
        (lambda d: d["origins"][0].update(region_code="659999"), "CODE-ORIG-01"),
        (lambda d: d["origins"][0].update(region_name="火星"), "CODE-ORIG-01"),
    ],
)
def test_each_defect_is_found(mutate, rule):
    found = {r for r, _ in rules_after(mutate)}
    assert rule in found, found


def test_resident_id_checked():
    def mut(d):
        o = next(o for o in d["operators"] if o["resident_id"])
        o["resident_id"] = o["resident_id"][:-1] + ("0" if o["resident_id"][-1] != "0" else "1")

    assert ("CODE-RESID-02", "operators") in rules_after(mut)


def test_not_a_city():
    for bad in ([], "x", {"nodes": []}, {"format": "other"}):
        with pytest.raises(NotACityError):
            check_city(bad)


@settings(max_examples=150)
@given(
    st.dictionaries(
        st.sampled_from(["nodes", "operators", "stalls", "cards", "scales", "handhelds", "vehicles", "origins"]),
        st.one_of(
            st.lists(
                st.one_of(
                    st.dictionaries(
                        st.sampled_from(
                            [
                                "code",
                                "uscc",
                                "uid",
                                "plate",
                                "node_code",
                                "operator_code",
                                "kind",
                                "stall",
                                "resident_id",
                                "certificate",
                                "last_certificates",
                                "region_code",
                                "type",
                            ]
                        ),
                        st.one_of(
                            st.text(max_size=20),
                            st.integers(),
                            st.none(),
                            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
                        ),
                        max_size=6,
                    ),
                    st.integers(),
                    st.text(max_size=3),
                ),
                max_size=4,
            ),
            st.text(max_size=3),
            st.none(),
        ),
    )
)
def test_garbage_city_content_never_raises(parts):
    res = check_city({"format": "roucai-city", **parts})
    assert isinstance(res.ok, bool)


def test_every_rule_id_used_is_in_the_requirement_catalogue():
    import re
    from profiles import load_profile

    root = Path(__file__).parents[3]
    used = set()
    for f in ("profiles/identifiers.py", "simulators/city/check.py"):
        used |= set(re.findall(r'"((?:CODE|NODE)-[A-Z]+-\d\d)"', (root / f).read_text("utf-8")))
    assert {"CODE-USCC-03", "CODE-PLATE-02", "NODE-REG-01"} <= used
    cat = load_profile().requirements
    assert sorted(r for r in used if r not in cat) == []
