"""profiles/problems.py: the problem-discovery rules load, and a malformed file is refused."""

import copy
import tomllib

import pytest

from profiles import load_profile
from profiles.problems import ProblemRules, ProblemRulesError
from profiles.profile import PROFILES_DIR

RAW = tomllib.loads((PROFILES_DIR / "reference" / "problems.toml").read_text("utf-8"))


def test_reference_rules_load_with_every_issue_kind():
    rules = load_profile().problems
    assert set(rules.kinds) == {
        "chain-break",
        "stock-imbalance",
        "silent-node",
        "silent-scale",
        "late-upload",
        "duplicate-trace-code",
        "price-outlier",
        "trade-after-stop",
        "certificate-overuse",
    }
    for k in rules.kinds.values():
        assert k.name("zh") != k.name("en")
        assert k.evidence in ("profile", "practice")
    assert rules.kind("price-outlier").get("factor") == 2.5
    assert rules.state_name("closed", "en") == "closed" and rules.state_name("closed") == "已办结"


def test_no_rule_claims_the_standards_words():
    for k in load_profile().problems.kinds.values():
        assert k.evidence == "profile", k.id  # nothing found in the standards or practice names a rule
        assert "第" not in k.source and "clause" not in k.source.lower()


@pytest.mark.parametrize(
    "mutate, why",
    [
        (lambda d: d["kind"]["price-outlier"].pop("name_en"), "name_en"),
        (lambda d: d["kind"]["price-outlier"].update(evidence="folklore"), "evidence"),
        (lambda d: d["kind"]["price-outlier"].update(factor=-1), "factor"),
        (lambda d: d["kind"]["price-outlier"].update(status="maybe"), "status"),
        (lambda d: d["kind"]["certificate-overuse"]["max_carcass_kg"].update({"21111": -1}), "max_carcass_kg"),
        (lambda d: d["kind"]["certificate-overuse"].update(max_carcass_kg={"21111": "heavy"}), "max_carcass_kg"),
        (lambda d: d["kind"]["late-upload"].update(status="planned"), "planned"),  # without planned_zh/en
        (lambda d: d["states"].update(order=["open", "closed"]), "order"),
    ],
)
def test_malformed_rules_are_refused(mutate, why):
    d = copy.deepcopy(RAW)
    mutate(d)
    with pytest.raises(ProblemRulesError, match=why):
        ProblemRules.from_data(d)
