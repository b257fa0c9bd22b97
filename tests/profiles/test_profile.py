"""profiles.profile: loading, data files, and variants that extend the reference profile."""

import pytest

from profiles import ProfileError, load_profile, available_profiles
from profiles.profile import Profile


def test_reference_profile_loads_its_parts():
    p = load_profile()
    assert p.name == "reference" and "reference" in available_profiles()
    assert len(p.regions) == 3212
    assert p.regions.get("650102").name == "天山区"
    assert [r.code for r in p.regions.counties_of("650100")] == [
        "650102",
        "650103",
        "650104",
        "650105",
        "650106",
        "650107",
        "650109",
        "650121",
    ]
    assert len(p.commodities) >= 60
    assert len(p.commodities.of_kind("vegetable")) >= 40
    mutton = [c for c in p.commodities.of_kind("meat") if c.category == "羊肉"]
    assert mutton and all(c.code.startswith("2111") for c in p.commodities.of_kind("meat"))
    assert all(c.code.startswith("012") for c in p.commodities.of_kind("vegetable"))


def test_unknown_profile_is_a_profile_error():
    with pytest.raises(ProfileError):
        load_profile("no-such-profile")


def test_variant_extends_reference_without_touching_it(tmp_path):
    (tmp_path / "profile.toml").write_text(
        'name = "city-x"\nversion = "0.1"\nextends = "reference"\n[files]\ncodes = "codes.toml"\n', "utf-8"
    )
    # a stricter local rule: only the meat prefix 2111 and a different vegetable prefix
    (tmp_path / "codes.toml").write_text('[commodity]\nvegetable_prefix = "013"\n', "utf-8")
    ref = load_profile()
    var = Profile(tmp_path, base=ref)
    assert var.lineage == ["city-x@0.1", "reference@1.0.0"]
    assert var.data("codes")["commodity"]["vegetable_prefix"] == "013"
    assert var.data("codes")["trace"]["length"] == 20  # inherited
    assert var.path("regions") == ref.path("regions")  # inherited file
    assert ref.data("codes")["commodity"]["vegetable_prefix"] == "012"  # base untouched
    assert var.codes.findings("99999999", "commodity")[0].rule == "CODE-COMM-02"


def test_malformed_variant_is_reported(tmp_path):
    (tmp_path / "profile.toml").write_text("name = [broken", "utf-8")
    with pytest.raises(ProfileError):
        Profile(tmp_path)
