"""The declared VerifyCode recipe (profiles/signature.py) and its use by the envelope."""

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from profiles import load_profile
from profiles.signature import Recipe, RecipeUnavailable

ROOT = Path(__file__).resolve().parents[2]
CHANGCHUN = ROOT / "fixtures" / "records" / "deployed" / "changchun_2015_manager_base_info.envelope.xml"
STANDARDS = Path("/work/shared/reference/standards.md")
VALUES = {
    "NodeId": "220122001",
    "RequestTime": "20150603145201692",
    "Index": "A01002",
    "Count": "1",
    "DataDate": "20150603",
    "PayloadDigest": "ab" * 32,
}
MSG = "220122001|20150603145201692|A01002|1|20150603|" + "ab" * 32


@pytest.mark.parametrize(
    "decl, want",
    [
        ({"algorithm": "hmac-md5"}, hmac.new(b"k", MSG.encode(), hashlib.md5).hexdigest()),
        ("ours", hmac.new(b"k", MSG.encode(), hashlib.md5).hexdigest()),
        ({"algorithm": "hmac-sha256"}, hmac.new(b"k", MSG.encode(), hashlib.sha256).hexdigest()),
        ({"algorithm": "hmac-sha256", "hex_length": 32}, hmac.new(b"k", MSG.encode(), hashlib.sha256).hexdigest()[:32]),
        (
            {"algorithm": "md5", "inputs": ["NodeId", "RequestTime", "Key"], "separator": ""},
            hashlib.md5(b"22012200120150603145201692k").hexdigest(),
        ),
        (
            {"algorithm": "sha256", "inputs": ["Key", "NodeId"], "separator": "&"},
            hashlib.sha256(b"k&220122001").hexdigest(),
        ),
    ],
)
def test_recipes_compute_what_they_declare(decl, want):
    assert Recipe.from_data(decl).compute("k", VALUES) == want


@pytest.mark.parametrize(
    "decl",
    [
        {"algorithm": "crc32"},
        {"algorithm": "md5"},  # unknown name; plain digest without a key
        {"algorithm": "hmac-md5", "inputs": ["NodeId", "Key"]},  # an HMAC does not hash its key
        {"algorithm": "hmac-md5", "inputs": ["NodeId", "Secret"]},  # unknown input
        {"algorithm": "hmac-md5", "hex_length": 40},  # longer than MD5
    ],
)
def test_malformed_declarations_are_refused(decl):
    with pytest.raises(ValueError):
        Recipe.from_data(decl)


@pytest.mark.parametrize("algo", ["unknown", "none"])
def test_unknown_and_none_cannot_sign(algo):
    r = Recipe.from_data(algo)
    assert not r.verifiable
    with pytest.raises(RecipeUnavailable):
        r.compute("k", VALUES)


def test_reference_declares_its_own_recipe_and_it_is_todays():
    spec = load_profile("reference").envelope
    assert spec.recipe.algorithm == "hmac-md5" and spec.recipe.evidence == "profile"
    assert (
        spec.verify_code(
            "k", *(VALUES[k] for k in ("NodeId", "RequestTime", "Index", "Count", "DataDate", "PayloadDigest"))
        )
        == hmac.new(b"k", MSG.encode(), hashlib.md5).hexdigest()
    )


def test_a_target_recipe_replaces_the_profiles():
    """A real node certified with the recipe it declares: an envelope signed with it verifies, ours does not."""
    ref = load_profile("reference").envelope
    theirs = ref.with_recipe(Recipe.from_data({"algorithm": "hmac-sha256", "hex_length": 32}))
    body = theirs.build(
        "110101001", "manager_base_info", [], "k", request_time="20240518203000000", data_date="20240518"
    )
    assert theirs.parse(body, key="k").authenticated
    res = ref.parse(body, key="k")
    assert not res.authenticated and [f.rule for f in res.findings] == ["TRAN-ENV-05"]
    assert ref.recipe.algorithm == "hmac-md5"  # the profile's own spec is untouched


def test_changchun_fixture_is_the_standards_text_byte_for_byte():
    if not STANDARDS.is_file():
        pytest.skip("reference material not on this machine")
    s = STANDARDS.read_text("utf-8")
    m = re.findall(r'^(<\?xml version="1.0" encoding="UTF-8"\?><DataExchangeReq>.*</DataExchangeReq>)$', s, re.M)
    assert len(m) == 1 and CHANGCHUN.read_bytes() == m[0].encode("utf-8")


@pytest.mark.parametrize("key", [None, "any-key"])
def test_changchun_envelope_validates_and_its_verifycode_is_not_verifiable(key):
    res = load_profile("changchun").envelope.parse(CHANGCHUN.read_bytes(), key=key)
    assert res.ok, (res.findings, res.record_findings)
    assert res.record_findings == [[]] and res.records[0].record["property"] == "企业"
    [f] = res.findings
    assert (f.rule, f.severity, f.field) == ("TRAN-ENV-05", "warning", "VerifyCode")
    assert "cannot be verified without the city's recipe" in f.en and "does not mean the message was altered" in f.en
    assert "无法校验" in f.zh and not res.authenticated


def test_a_malformed_verifycode_is_still_an_error_under_unknown():
    data = CHANGCHUN.read_bytes().replace(b"5aaac6b7beeb78702894f0f4f6143168", b"5aaac6b7beeb787028")
    res = load_profile("changchun").envelope.parse(data)
    assert not res.ok and [(f.rule, f.severity) for f in res.findings] == [("TRAN-ENV-05", "error")]


def test_a_known_recipe_says_mismatch_not_unverifiable():
    """The same bytes under the reference recipe: a wrong code is an error (the contrast the dialect removes)."""
    res = load_profile("reference").envelope.parse(CHANGCHUN.read_bytes(), key="any-key")
    assert any(f.rule == "TRAN-ENV-05" and f.severity == "error" and "does not match" in f.en for f in res.findings)
