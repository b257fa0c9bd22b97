"""Profiles that extend profiles: the overlay merge directives and the shipped dialects' declarations."""

import pytest

from profiles import load_profile
from profiles.profile import ProfileError, available_profiles, deep_merge


def test_tables_merge_values_and_lists_replace():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    assert deep_merge(base, {"a": {"y": [3]}}) == {"a": {"x": 1, "y": [3]}, "b": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 2}  # inputs untouched


def test_replace_directive_replaces_a_table_whole():
    base = {"f": {"type": "enum", "values": {"1": "a", "2": "b"}, "synonyms": [["企业", "1"]], "open": True}}
    got = deep_merge(base, {"f": {"_replace": True, "type": "enum", "values": {"企业": "企业"}}})
    assert got == {"f": {"type": "enum", "values": {"企业": "企业"}}}


def test_remove_directive_drops_keys_and_directives_never_leak():
    base = {"t": {"fields": ["a"], "date_field": "d", "node_field": "n"}}
    got = deep_merge(base, {"t": {"_remove": ["date_field", "node_field"], "new": {"_replace": True, "k": 1}}})
    assert got == {"t": {"fields": ["a"], "new": {"k": 1}}}


def test_an_overlay_folder_given_by_path(tmp_path):
    (tmp_path / "profile.toml").write_text(
        'name = "mine"\nextends = "reference"\n[files]\nenvelope = "e.toml"\n', "utf-8"
    )
    (tmp_path / "e.toml").write_text('[verify_code]\n_replace = true\nalgorithm = "hmac-sha256"\n', "utf-8")
    p = load_profile(str(tmp_path))
    assert p.lineage[1].startswith("reference@") and p.envelope.recipe.algorithm == "hmac-sha256"
    assert p.envelope.recipe.hex_length == 64
    assert load_profile("reference").envelope.recipe.algorithm == "hmac-md5"


def test_a_malformed_recipe_in_an_overlay_is_a_profile_error(tmp_path):
    (tmp_path / "profile.toml").write_text('extends = "reference"\n[files]\nenvelope = "e.toml"\n', "utf-8")
    (tmp_path / "e.toml").write_text('[verify_code]\nalgorithm = "crc32"\n', "utf-8")
    with pytest.raises(ProfileError, match="crc32"):
        load_profile(str(tmp_path)).envelope


def test_shipped_dialects_extend_the_reference_and_label_every_change():
    assert {"reference", "guangzhou", "changchun", "ningbo"} <= set(available_profiles())
    for name in ("guangzhou", "changchun", "ningbo"):
        p = load_profile(name)
        assert p.base is load_profile("reference")
        changes = p.dialect["changes"]
        assert changes
        for c in changes:
            assert c["evidence"] in ("standard", "standard-toc", "practice", "industry", "profile") and c["source"]
            assert c["what_zh"] and c["what_en"]


def test_changchun_transport_and_recipe_are_what_the_envelope_shows():
    p = load_profile("changchun")
    assert p.transport["endpoint"]["paths"] == ["/dts_if/servlet/IfRevSubServlet"]
    assert p.transport["endpoint"]["port"] == 8553 and p.transport["tls"]["mode"] == "required"
    assert p.transport["encodings"]["accepted"] == ["UTF-8"]
    assert p.envelope.recipe.algorithm == "unknown" and p.envelope.recipe.evidence == "practice"
    ref = load_profile("reference").transport
    assert "/dts_if/servlet/IfRevSubServlet" in ref["endpoint"]["paths"] and ref["tls"]["mode"] == "optional"


def test_changchun_narrows_property_to_words():
    cat = load_profile("changchun").records
    assert set(cat.fields["property"].values) == {"企业", "个体"}
    rec = {
        "butcher_fac_id": "220122001",
        "butcher_fac_name": "长春众品食品有限公司",
        "id": "2201220010000",
        "name": "长春众品食品有限公司",
        "property": "1",
        "type": "2002",
        "record_date": "20150518152310",
    }
    assert [f.field for f in cat.validate("manager_base_info", rec)] == ["property"]
    assert cat.validate("manager_base_info", {**rec, "property": "企业"}) == []


def test_ningbo_dates_are_days_without_a_time_of_day():
    """deployed/ningbo_yinzhou_retail.md: in_date = date_format(insertDateTime, '%Y-%m-%d'); the reference union also
    takes Guangzhou's yyyy-MM-dd HH:mm:ss in a date field, Ningbo's dialect does not."""
    rec = {
        "retail_id": "330212333",
        "retail_name": "宁波市鄞州区示例菜市场",
        "in_date": "2018-08-23",
        "sale_date": "2018-08-23",
        "retailer_id": "3302123331027",
        "retailer_name": "李四",
        "position_code": "1027",
        "vege_batch_id": "1000000000000123",
        "goods_code": "01201001",
        "goods_name": "大白菜",
        "weight": "0.850",
        "price": "3.0000",
        "sale_tran_id": "33021233310270000042",
    }
    timed = {**rec, "sale_date": "2018-08-23 07:02:11"}
    nb, ref = load_profile("ningbo").records, load_profile("reference").records
    errors = lambda cat, r: [
        (f.rule, f.field) for f in cat.validate("retail_market_tran_info_summ", r) if f.severity == "error"
    ]
    assert errors(nb, rec) == [] and errors(ref, rec) == [] and errors(ref, timed) == []
    assert errors(nb, timed) == [("TRAN-REC-03", "sale_date")]  # not a form of a date the dialect takes


# -- differences between profiles (profiles/diff.py, roucai profile diff, roucai docs profile --profile) ---------
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from profiles.diff import diff_profiles  # noqa: E402
from profiles.render import render_profile  # noqa: E402
from roucai.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_a_profile_has_no_difference_with_itself():
    assert diff_profiles(load_profile("guangzhou"), load_profile("guangzhou")) == []


@pytest.mark.parametrize("name", ["guangzhou", "changchun"])
def test_every_difference_of_a_shipped_dialect_is_labelled_with_its_evidence(name):
    changes = diff_profiles(load_profile("reference"), load_profile(name))
    assert changes
    for c in changes:
        assert c.evidence == "practice" and c.source, c


def test_diff_names_the_changed_values_both_ways():
    ref, cc = load_profile("reference"), load_profile("changchun")
    fwd = {(c.file, c.path): c for c in diff_profiles(ref, cc)}
    back = {(c.file, c.path): c for c in diff_profiles(cc, ref)}
    assert set(fwd) == set(back)
    c = fwd[("envelope", "verify_code.algorithm")]
    assert (c.a, c.b, c.kind) == ("hmac-md5", "unknown", "changed")
    assert fwd[("transport", "tls.mode")].b == "required"
    assert fwd[("records", "fields.property.values.企业")].kind == "added"
    assert back[("records", "fields.property.values.企业")].kind == "removed"


def test_profile_diff_command(capsys):
    assert main(["profile", "diff", "reference", "guangzhou", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["a"].startswith("reference@") and out["b"].startswith("guangzhou@")
    paths = {(c["file"], c["path"]) for c in out["changes"]}
    assert ("records", "types.market_tran_info_detail.fields") in paths
    assert main(["profile", "diff", "reference", "changchun"]) == 0
    zh = capsys.readouterr().out
    assert "配置差异" in zh and "verify_code.algorithm" in zh and "证据：实践" in zh
    assert main(["--lang", "en", "profile", "diff", "reference", "changchun"]) == 0
    assert "profile differences" in capsys.readouterr().out
    assert main(["profile", "diff", "reference", "no-such-city"]) == 2
    assert main(["--json", "profile", "list"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert listed["guangzhou"]["extends"] == "reference" and listed["reference"]["extends"] is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_docs_render_a_dialects_differences(lang):
    gz = load_profile("guangzhou")
    text = render_profile(gz, lang)
    head = "方言：相对 reference 的改变" if lang == "zh" else "Dialect: what it changes from reference"
    assert head in text
    for c in gz.dialect["changes"]:
        assert c["what_zh" if lang == "zh" else "what_en"] in text
    assert "`types.market_tran_info_detail.fields`" in text
    assert head not in render_profile(load_profile("reference"), lang)


def test_encodings_are_accepted_as_declared():
    gbk = (ROOT / "fixtures" / "records" / "valid" / "retail_market_in_info_detail.gbk.xml").read_bytes()
    assert load_profile("reference").envelope.parse(gbk).findings == []
    [f] = load_profile("changchun").envelope.parse(gbk).findings
    assert f.rule == "TRAN-ENC-01" and "UTF-8" in f.en and f.severity == "error"
