"""The coding suite's checks added for issue 12 judge what they name: seen failing on records that break them,
passing on the same records without the defect.  The records are fed to the suite's own test functions through
the harness's CodedRecords (the data a node session yields), so no node has to be broken for the proof."""
from __future__ import annotations

import random

import pytest

from conformance.coding import test_record_codes as suite
from conformance.coding.codedrecords import CodedRecords
from conformance.evidence import Evidence
from profiles import load_profile
from profiles.record_examples import example_record

P = load_profile()
NODE = "650102001"


def _coded(**over) -> CodedRecords:
    rec = example_record(P.records, "retail_market_in_info_detail", random.Random(3), node=NODE)
    rec.update(over)
    return CodedRecords(P, [(NODE, "retail_market_in_info_detail", rec)], [], [NODE])


def _evidence(tmp_path):
    return Evidence(tmp_path, "proof", tmp_path)


@pytest.mark.parametrize("check, field, bad", [
    (suite.test_commodity_codes_in_the_profiles_table, "goods_code", "21113011"),          # Ningbo's pork
    (suite.test_node_registration_sequences_start_at_001, "ws_supplier_id", "650102000"),   # sequence 000
    (suite.test_sixteen_digit_batch_codes, "batch_id", "6501020010000000")])               # batch sequence 0
def test_recommended_code_checks_fail_on_the_defect_and_pass_without(tmp_path, check, field, bad):
    check(_coded(), _evidence(tmp_path))
    with pytest.raises(AssertionError, match=bad):
        check(_coded(**{field: bad, "quarantine_animal_products_id": "4401234567"}), _evidence(tmp_path))


def test_the_required_checks_leave_the_practice_values_alone(tmp_path):
    """21113011 and a 000 node sequence are not errors: the required checks pass on them."""
    coded = _coded(goods_code="21113011", ws_supplier_id="650102000", quarantine_animal_products_id="4401234567")
    suite.test_node_codes_in_records(coded, _evidence(tmp_path))
    suite.test_commodity_codes(coded, _evidence(tmp_path))
