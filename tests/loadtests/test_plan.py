"""loadtests.plan: the market model's day as upload batches, its truth, its scale and its cache."""

from __future__ import annotations

import json

import pytest

from loadtests.plan import PlanError, prepare, read_meta, read_truth


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return prepare("tiny", 1, 2.0, tmp_path_factory.mktemp("plans"))


def _batches(plan):
    return [json.loads(line) for line in (plan / "batches.jsonl").open(encoding="utf-8")]


def test_plan_holds_every_node_type_in_send_order_with_the_truth(tiny):
    meta, truth, batches = read_meta(tiny), read_truth(tiny), _batches(tiny)
    assert meta["days"] == 2 and meta["envelopes"] == len(batches)
    assert [b["at"] for b in batches] == sorted(b["at"] for b in batches)
    assert all(0 <= b["at"] <= 86400 and len(b["date"]) == 8 and b["records"] for b in batches)
    assert {0, 1} <= {b["day"] for b in batches} <= {0, 1, 2, 3}  # late uploads may fall on later dates
    kinds = {b["rtype"] for b in batches}
    assert {
        "animal_in_info",
        "market_in_info_base",
        "retail_market_tran_info_summ",
        "super_market_in_info_base",
        "team_buy_acceptance_info",
    } <= kinds
    unique = {(b["node"], b["rtype"], i) for b in batches for i in b["ids"]}
    assert truth["unique"] == len(unique) == sum(c[0] for c in truth["cells"].values())
    assert truth["sends"] == sum(len(b["records"]) for b in batches) == meta["sends"]
    assert truth["sends"] > truth["unique"]  # the model's duplicated uploads are in the plan
    assert sum(meta["curve"]["envelopes"]) == len(batches)
    assert meta["codes"]["retail"] > 0 and all(
        k in ("retail", "wholesale", "slaughter") for b in batches for k, _ in b["codes"]
    )


def test_same_inputs_same_bytes_and_the_cache_is_reused(tiny, tmp_path):
    again = prepare("tiny", 1, 2.0, tmp_path)
    assert (again / "batches.jsonl").read_bytes() == (tiny / "batches.jsonl").read_bytes()
    mtime = (again / "meta.json").stat().st_mtime_ns
    assert prepare("tiny", 1, 2.0, tmp_path) == again and (again / "meta.json").stat().st_mtime_ns == mtime


def test_a_fractional_scale_keeps_that_share_of_whole_batches(tiny, tmp_path):
    half = read_meta(prepare("tiny", 1, 1.0, tmp_path))["envelopes"]
    part = read_meta(prepare("tiny", 1, 0.5, tmp_path))["envelopes"]
    assert 0.35 * half < part < 0.65 * half


@pytest.mark.parametrize("scale", [0, -1, 31.5, float("nan")])
def test_scale_out_of_range(scale, tmp_path):
    with pytest.raises(PlanError):
        prepare("tiny", 1, scale, tmp_path)


def test_unknown_preset(tmp_path):
    with pytest.raises(PlanError) as exc:
        prepare("atlantis", 1, 1.0, tmp_path)
    assert "atlantis" in exc.value.en and not list(tmp_path.glob("atlantis*"))


def test_not_a_plan(tmp_path):
    with pytest.raises(PlanError):
        read_meta(tmp_path)
