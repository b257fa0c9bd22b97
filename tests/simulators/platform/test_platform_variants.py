"""The platform's broken variants: catalogued, refused when unknown, and each actually changes behaviour."""

from __future__ import annotations

import pytest

from conformance.variants import load_variants
from simulators.platform import variants
from simulators.platform.config import ConfigError


def test_every_catalogued_platform_variant_has_a_switch():
    platform = {v.switch for v in load_variants().values() if v.actor == "city_platform"}
    assert platform and platform <= set(variants.names()), platform - set(variants.names())


def test_unknown_variant_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        variants.apply("no-such-variant", None, None)
    assert "no-such-variant" in exc.value.en and exc.value.zh


def test_env_variable_selects_the_variant(monkeypatch):
    seen = []
    monkeypatch.setitem(variants._SWITCHES, "probe", lambda svc, app: seen.append((svc, app)))
    monkeypatch.setenv(variants.ENV, "probe")
    assert variants.apply_from_env("S", "A") == "probe" and seen == [("S", "A")]
    monkeypatch.setenv(variants.ENV, "")
    assert variants.apply_from_env("S", "A") is None and len(seen) == 1


def test_dtd_rewrite_and_encoding_guess_are_what_they_claim():
    body = b'<?xml version="1.0"?><!DOCTYPE R [<!ENTITY n "650103002">]><R><NodeId>&n;</NodeId></R>'
    assert variants._strip_dtd(body) == b'<?xml version="1.0"?><R><NodeId>650103002</NodeId></R>'
    gbk_decl_utf8 = '<?xml version="1.0" encoding="GBK"?><R>猪肉</R>'.encode("utf-8")
    assert variants._utf8_if_it_decodes(gbk_decl_utf8).startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    true_gbk = '<?xml version="1.0" encoding="GBK"?><R>猪肉</R>'.encode("gbk")
    assert variants._utf8_if_it_decodes(true_gbk) == true_gbk
