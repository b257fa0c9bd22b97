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


@pytest.mark.parametrize(
    "check, field, bad",
    [
        (suite.test_commodity_codes_in_the_profiles_table, "goods_code", "21113011"),  # Ningbo's pork
        (suite.test_node_registration_sequences_start_at_001, "ws_supplier_id", "650102000"),  # sequence 000
        (suite.test_sixteen_digit_batch_codes, "batch_id", "6501020010000000"),
    ],
)  # batch sequence 0
def test_recommended_code_checks_fail_on_the_defect_and_pass_without(tmp_path, check, field, bad):
    check(_coded(), _evidence(tmp_path))
    with pytest.raises(AssertionError, match=bad):
        check(_coded(**{field: bad, "quarantine_animal_products_id": "4401234567"}), _evidence(tmp_path))


def test_the_required_checks_leave_the_practice_values_alone(tmp_path):
    """21113011 and a 000 node sequence are not errors: the required checks pass on them."""
    coded = _coded(goods_code="21113011", ws_supplier_id="650102000", quarantine_animal_products_id="4401234567")
    suite.test_node_codes_in_records(coded, _evidence(tmp_path))
    suite.test_commodity_codes(coded, _evidence(tmp_path))


def test_chain_linking_reads_batch_id_as_the_profile_says(tmp_path):
    """CODE-TRACE-05 judges a lot's 20-digit batch_id against the upstream lines; a dialect whose batch_id is not
    the upstream trace code (batch_link_kinds without trace) is not failed for it, nor is a typed certificate."""
    line = example_record(P.records, "market_tran_info_detail", random.Random(4), node=NODE)
    lot = example_record(P.records, "market_in_info_detail", random.Random(5), node=NODE)
    lot.update(batch_id="65010300100010000009", tran_id="")  # names no upstream line

    def coded(profile, entry):
        return CodedRecords(
            profile, [(NODE, "market_tran_info_detail", line), (NODE, "market_in_info_detail", entry)], [], [NODE]
        )

    with pytest.raises(AssertionError, match="names no upstream sale line"):
        suite.test_line_codes_are_reused_downstream_as_batch(coded(P, lot), _evidence(tmp_path))
    suite.test_line_codes_are_reused_downstream_as_batch(coded(P, dict(lot, voucher_type="2")), _evidence(tmp_path))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "profile.toml").write_text(
        'name = "nolink"\nextends = "reference"\n[files]\nrecords = "r.toml"\n', "utf-8"
    )
    (tmp_path / "d" / "r.toml").write_text('[meta]\nbatch_link_kinds = ["batch"]\n', "utf-8")
    suite.test_line_codes_are_reused_downstream_as_batch(
        coded(load_profile(str(tmp_path / "d")), lot), _evidence(tmp_path)
    )
