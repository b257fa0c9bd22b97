"""Every record form of ../shared/reference/deployed/ is a fixture (fixtures/records/deployed/) with real values,
and `roucai records validate` accepts it under `reference` and under its own city's dialect (issue 12).

Dialect hook: a fixture named ``CITY_….xml`` is also validated under the profile ``CITY`` once that profile
exists (guangzhou, changchun today; dppc / ningbo when someone writes them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from profiles import load_profile
from profiles.profile import available_profiles

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "fixtures" / "records" / "deployed"
FILES = sorted(DEPLOYED.glob("*.xml"))
REF = load_profile("reference")

#: every record table of the deployed sources -> its fixture (a table added to deployed/ needs a row here)
TABLES = {
    "guangzhou tb_animal_in_info": "guangzhou_tb_animal_in_info.xml",
    "guangzhou tb_quarantine_info": "guangzhou_tb_quarantine_info.xml",
    "guangzhou tb_meat_out_info_base": "guangzhou_tb_meat_out_info_base.xml",
    "guangzhou tb_meat_out_info_detail": "guangzhou_tb_meat_out_info_detail.xml",
    "guangzhou tb_market_in_info_base": "guangzhou_tb_market_in_info_base.xml",
    "guangzhou tb_market_in_info_detail": "guangzhou_tb_market_in_info_detail.xml",
    "guangzhou tb_qmarket_detection_info": "guangzhou_tb_qmarket_detection_info.xml",
    "guangzhou tb_market_tran_info_base": "guangzhou_tb_market_tran_info_base.xml",
    "guangzhou tb_market_tran_info_detail": "guangzhou_tb_market_tran_info_detail.xml",
    "guangzhou tb_retail_market_in_info_base": "guangzhou_tb_retail_market_in_info_base.xml",
    "guangzhou tb_retail_market_in_info_detail": "guangzhou_tb_retail_market_in_info_detail.xml",
    "guangzhou tb_retail_market_tran_info_summ": "guangzhou_tb_retail_market_tran_info_summ.xml",
    "guangzhou tb_super_market_in_info_base": "guangzhou_tb_super_market_in_info_base.xml",
    "guangzhou tb_super_market_in_info_detail": "guangzhou_tb_super_market_in_info_detail.xml",
    "guangzhou tb_team_buy_acceptance_info": "guangzhou_tb_team_buy_acceptance_info.xml",
    "changchun 2015 DataExchangeReq manager_base_info": "changchun_2015_manager_base_info.envelope.xml",
    "dppc mtrace t_approach": "dppc_mtrace_t_approach.xml",
    "ningbo gy_retail_market_in_info": "ningbo_gy_retail_market_in_info.xml",
    "ningbo gy_retail_market_tran_summ": "ningbo_gy_retail_market_tran_summ.xml",
}


def _validate(profile: str, *files: Path) -> tuple[int, dict]:
    p = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "records", "validate", "--profile", profile, "--json", *map(str, files)],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    return p.returncode, json.loads(p.stdout)


def _values(path: Path) -> list[str]:
    return [el.text or "" for el in ElementTree.parse(path).iter()]


def test_every_deployed_table_has_its_fixture_and_nothing_else_is_there():
    assert sorted(TABLES.values()) == sorted(f.name for f in FILES)


def test_every_fixture_passes_records_validate_under_reference():
    rc, doc = _validate("reference", *FILES)
    bad = [
        (
            f["file"],
            [(g["rule"], g["field"]) for r in f["records"] for g in r["findings"] if g["severity"] == "error"]
            + [(g["rule"], g["field"]) for g in f["findings"] if g["severity"] == "error"],
        )
        for f in doc["files"]
        if not f["ok"]
    ]
    assert rc == 0 and doc["ok"] and not bad, bad
    assert all(len(f["records"]) == 1 for f in doc["files"])


@pytest.mark.parametrize(
    "path", [f for f in FILES if f.name.split("_", 1)[0] in available_profiles()], ids=lambda f: f.name
)
def test_every_fixture_passes_under_its_own_dialect(path):
    rc, doc = _validate(path.name.split("_", 1)[0], path)
    assert rc == 0 and doc["ok"], doc["files"][0]


def test_each_practice_form_of_the_catalogue_is_shown_by_a_fixture():
    """The fixtures are read as the forms records.toml declares (not as the profile's own lists)."""
    cat = REF.records
    shown = set()
    for path in FILES:
        if path.name.endswith(".envelope.xml"):
            continue
        item = cat.decode(path.read_bytes()).items[0]
        rt = cat.types[item.type]
        shown.add((item.type, rt.best_form(cat._unalias(rt, item.record, []))[0][0]))
    declared = {(t.name, f[0]) for t in cat.types.values() for f in t.forms if f[0] != "profile"}
    assert declared <= shown, declared - shown


@pytest.mark.parametrize(
    "value",
    [
        "企业",
        "合格",
        "21113011",
        "13.8000",
        "4401060010000001",
        "2017-06-02",
        "2018-08-23 06:12:40",
        "qua_id",
        "market_code",
    ],
)
def test_the_fixtures_keep_the_real_forms(value):
    """The real values stay as sent (a fixture 'fixed' into the profile's canonical forms proves nothing)."""
    texts = [v for f in FILES for v in _values(f)]
    tags = [el.tag for f in FILES for el in ElementTree.parse(f).iter()]
    assert value in texts or value in tags


def test_changchun_envelope_is_the_standards_text_and_validates_as_a_message_under_reference():
    path = DEPLOYED / "changchun_2015_manager_base_info.envelope.xml"
    rc, doc = _validate("reference", path)
    f = doc["files"][0]
    assert rc == 0 and f["kind"] == "envelope" and f["ok"] and f["header"]["NodeId"] == "220122001"
    assert f["records"] == [{"position": 1, "type": "manager_base_info", "ok": True, "findings": []}]


def test_a_broken_deployed_record_is_still_caught():
    """The leniency is bounded: the same Guangzhou record with an impossible date and a 17-digit trace code fails."""
    path = DEPLOYED / "guangzhou_tb_meat_out_info_base.xml"
    item = REF.records.decode(path.read_bytes()).items[0]
    rec = dict(item.record, tran_date="2017-02-30", tran_id=item.record["tran_id"][:17])
    rules = {f.rule for f in REF.records.validate(item.type, rec) if f.severity == "error"}
    assert rules == {"TRAN-REC-07", "TRAN-REC-06"}
