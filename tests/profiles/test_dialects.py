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
    (tmp_path / "profile.toml").write_text('name = "mine"\nextends = "reference"\n[files]\nenvelope = "e.toml"\n',
                                           "utf-8")
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
    assert {"reference", "guangzhou", "changchun"} <= set(available_profiles())
    for name in ("guangzhou", "changchun"):
        p = load_profile(name)
        assert p.base is load_profile("reference")
        changes = p.dialect["changes"]
        assert changes
        for c in changes:
            assert c["evidence"] in ("standard", "standard-toc", "practice", "profile") and c["source"]
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
    rec = {"butcher_fac_id": "220122001", "butcher_fac_name": "长春众品食品有限公司", "id": "2201220010000",
           "name": "长春众品食品有限公司", "property": "1", "type": "2002", "record_date": "20150518152310"}
    assert [f.field for f in cat.validate("manager_base_info", rec)] == ["property"]
    assert cat.validate("manager_base_info", {**rec, "property": "企业"}) == []
