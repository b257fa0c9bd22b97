"""The simulated day the platform suite uploads, and the truth it compares answers with."""

from __future__ import annotations

import pytest

from conformance.simday import SimulatedDay
from profiles import load_profile

P = load_profile()


@pytest.fixture(scope="module")
def day():
    return SimulatedDay(P, "tiny", 1)


def test_envelopes_carry_every_record_once_plus_the_repeats(day):
    envs = day.envelopes(200)
    first = sum(len(r) for _n, _t, r, rep in envs if not rep)
    assert first == len(day.records)
    assert all(len(r) <= 200 for _n, _t, r, _rep in envs)
    repeats = [r for *_, r, rep in envs if rep]
    assert repeats, "the tiny day has duplicate-upload faults"
    assert sum(c[0] for c in day.expected_stats().values()) == len(day.records)


def test_truth_of_every_issued_code_starts_with_it_and_ends_at_an_origin(day):
    codes = day.own_codes()
    assert len(codes) > 50
    for code in codes:
        t = day.truth_of(code)
        assert t["issued"][0] == code and t["origin_region"], (code, t)
        assert bool(t["batch"]) != bool(t["intake"]), (code, t)  # vegetables by batch, meat by intake


def test_quarantine_records_carry_the_certificates_of_their_meat(day):
    q = [r["data"] for r in day.records if r["type"] == "quarantine_info"]
    outs = {
        (r["data"]["quarantine_animal_products_id"], r["data"]["inspection_meat_id"])
        for r in day.records
        if r["type"] == "meat_out_info_detail"
    }
    # the intake's own check carries no product certificate yet; every pair of the meat out is on a record of
    # each intake the meat came from (the model's slaughter.certificates_issued), none added twice
    keyed = [
        (d["quarantine_animal_products_id"], d.get("inspection_meat_id"), d["quarantine_id"])
        for d in q
        if d.get("quarantine_animal_products_id")
    ]
    assert q and {k[:2] for k in keyed} == outs and len(keyed) == len(set(keyed))
