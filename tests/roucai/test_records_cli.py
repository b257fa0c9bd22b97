"""`roucai records validate|types|example`: exit codes, zh/en output, stable JSON."""

import json
from pathlib import Path

import pytest

from roucai.cli import main

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "records"
VALID = sorted((GOLDEN / "valid").iterdir())
INVALID = sorted((GOLDEN / "invalid").iterdir())


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_valid_golden_files_pass(capsys):
    rc, out, _ = run(capsys, "records", "validate", *VALID, "--key", "demo-secret", "--now", "20240518203100")
    assert rc == 0 and out.count("— 符合") == len(VALID) and "不符合" not in out


def test_without_key_only_the_format_is_checked(capsys):
    rc, out, _ = run(capsys, "records", "validate", GOLDEN / "invalid" / "tampered_weight.xml", "--lang", "en")
    assert rc == 0 and "VerifyCode format checked only" in out


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_golden_files_fail_with_their_rules(capsys, path):
    want = json.loads((GOLDEN / "expected_invalid.json").read_text("utf-8"))[path.name]
    rc, out, _ = run(capsys, "records", "validate", path, "--key", "demo-secret", "--json")
    doc = json.loads(out)
    (f,) = doc["files"]
    got = {x["rule"] for x in f["findings"]} | {x["rule"] for r in f["records"] for x in r["findings"]}
    assert rc == 1 and doc["ok"] is False and f["ok"] is False and set(want) <= got


def test_json_output_is_stable(capsys):
    rc, out, _ = run(
        capsys,
        "records",
        "validate",
        GOLDEN / "valid" / "animal_in_info.xml",
        GOLDEN / "invalid" / "wrong_decimals.json",
        "--json",
    )
    doc = json.loads(out)
    assert rc == 1 and set(doc) == {"profile", "ok", "files"} and doc["profile"] == "reference@1.0.0"
    env, lst = doc["files"]
    assert set(env) == {"file", "kind", "format", "ok", "header", "findings", "records"}
    assert (env["kind"], env["format"], env["ok"], env["header"]["Index"]) == ("envelope", "xml", True, "A01001")
    assert (lst["kind"], lst["format"]) == ("list", "json")
    bad = lst["records"][0]
    assert set(bad) == {"position", "type", "ok", "findings"} and bad["position"] == 1
    assert set(bad["findings"][0]) >= {"rule", "field", "severity", "zh", "en"}


def test_human_output_names_positions_and_rules(capsys):
    rc, out, _ = run(capsys, "records", "validate", GOLDEN / "invalid" / "bad_date_and_code.xml", "--lang", "en")
    assert rc == 1 and "#1 retail_market_tran_info_summ" in out and "[TRAN-REC-07] error sale_date" in out
    assert "#2" in out and "TRAN-REC-06" in out


def test_usage_errors_exit_2(capsys, tmp_path):
    rc, _, err = run(capsys, "records", "validate", tmp_path / "missing.xml")
    assert rc == 2 and "missing.xml" in err
    rc, _, err = run(capsys, "records", "validate", tmp_path)
    assert rc == 2
    rc, _, err = run(capsys, "records", "validate", VALID[0], "--type", "retail_market_in_info_bas")
    assert rc == 2 and "retail_market_in_info_base" in err
    rc, _, err = run(capsys, "records", "validate", VALID[0], "--now", "yesterday")
    assert rc == 2


def test_bare_records_with_type(capsys, tmp_path):
    f = tmp_path / "r.json"
    f.write_text('[{"weight": "1.000"}]', "utf-8")
    rc, out, _ = run(capsys, "records", "validate", f, "--type", "team_buy_acceptance_info", "--json")
    doc = json.loads(out)
    rec = doc["files"][0]["records"][0]
    assert rc == 1 and rec["type"] == "team_buy_acceptance_info"
    assert {x["rule"] for x in rec["findings"]} == {"TRAN-REC-02"}


def test_hostile_file_is_a_finding_not_a_crash(capsys, tmp_path):
    f = tmp_path / "big.xml"
    f.write_bytes(b"<records>" + b" " * (17 * 1024 * 1024) + b"</records>")
    rc, out, err = run(capsys, "records", "validate", f, "--lang", "en")
    assert rc == 1 and "TRAN-ENC-03" in out and not err


def test_types_list_and_detail(capsys):
    rc, out, _ = run(capsys, "records", "types", "--json")
    doc = json.loads(out)
    assert rc == 0 and len(doc["types"]) >= 15 and {"name", "index", "zh", "en", "evidence"} <= set(doc["types"][0])
    rc, out, _ = run(capsys, "records", "types", "retail_market_tran_info_summ", "--lang", "en")
    assert rc == 0 and "A03003" in out and "weight" in out and "decimal kg 3dp" in out
    rc, _, _ = run(capsys, "records", "types", "nope")
    assert rc == 2


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_example_output_validates(capsys, tmp_path, fmt):
    for extra in ([], ["--count", "3"], ["--envelope", "--key", "k1"]):
        rc, out, _ = run(capsys, "records", "example", "market_in_info_detail", "--format", fmt, *extra)
        assert rc == 0
        f = tmp_path / f"ex.{fmt}"
        f.write_text(out, "utf-8")
        rc, out, _ = run(capsys, "records", "validate", f, "--key", "k1")
        assert rc == 0, out


def test_readme_example_envelope_validates_now(capsys, tmp_path):
    """README: `records example … --envelope --key demo-secret --request-time now > env.xml`, then
    `records validate env.xml --key demo-secret --now now` is conformant (the clock window holds)."""
    rc, out, _ = run(
        capsys,
        "records",
        "example",
        "market_in_info_detail",
        "--count",
        "3",
        "--envelope",
        "--key",
        "demo-secret",
        "--request-time",
        "now",
    )
    f = tmp_path / "env.xml"
    f.write_text(out, "utf-8")
    rc, out, _ = run(capsys, "records", "validate", f, "--key", "demo-secret", "--now", "now")
    assert rc == 0, out
    rc, _, err = run(
        capsys,
        "--lang",
        "en",
        "records",
        "example",
        "market_in_info_detail",
        "--envelope",
        "--request-time",
        "yesterday",
    )
    assert rc == 2 and "--request-time" in err


def test_example_is_deterministic_and_matches_golden(capsys):
    rc, a, _ = run(capsys, "records", "example", "quarantine_info", "--envelope", "--seed", "1", "--count", "2")
    rc, b, _ = run(capsys, "records", "example", "quarantine_info", "--envelope", "--seed", "1", "--count", "2")
    assert a == b


def test_golden_envelopes_have_not_drifted(capsys):
    """valid/TYPE.xml is exactly `roucai records example TYPE --envelope --seed 1 --count 2` (README)."""
    files = [p for p in VALID if p.suffix == ".xml" and p.stem.count(".") == 0]
    assert len(files) >= 15
    for p in files:
        rc, out, _ = run(capsys, "records", "example", p.stem, "--envelope", "--seed", "1", "--count", "2")
        assert rc == 0 and out == p.read_text("utf-8"), p.name


def test_types_shows_the_practice_forms_and_aliases(capsys):
    rc, out, _ = run(capsys, "records", "types", "super_market_in_info_detail", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["aliases"] == {"market_code": "ws_supplier_id", "market_name": "ws_supplier_name"}
    (gz,) = doc["forms"]
    assert gz["name"] == "guangzhou" and "sale_tran_id" in gz["fields"] and "deployed/" in gz["source"]
    rc, out, _ = run(capsys, "records", "types", "super_market_in_info_detail")
    assert "别名" in out and "实践形式 guangzhou" in out


def test_deployed_forms_pass_with_warnings_named(capsys):
    deployed = sorted((GOLDEN / "deployed").iterdir())
    rc, out, _ = run(capsys, "records", "validate", *deployed, "--lang", "en")
    assert rc == 0 and out.count("— conformant") == len(deployed) and "NOT conformant" not in out
    assert "[CODE-COMM-03] warning goods_code" in out and "[CODE-BATCH-02] warning" in out


def test_an_envelope_checked_without_a_key_says_its_signature_was_not_verified(capsys, tmp_path):
    """A tampered envelope validated without --key must not read as plainly conformant."""
    rc, out, _ = run(capsys, "records", "example", "market_in_info_detail", "--envelope", "--key", "k1")
    f = tmp_path / "env.xml"
    f.write_text(out.replace("<weight>", "<weight>9", 1), "utf-8")
    rc, out, _ = run(capsys, "--lang", "en", "records", "validate", f)
    assert rc == 0 and "conformant, signature NOT verified (no --key)" in out
    rc, out, _ = run(capsys, "--lang", "en", "records", "validate", f, "--key", "k1")
    assert rc == 1 and "NOT conformant" in out and "TRAN-ENV-05" in out
