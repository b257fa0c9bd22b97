"""Signed HTTP requests (X-Verify-Code) under a profile whose VerifyCode recipe is unknown (changchun): the
platform checks what it can (headers, clock window, the code's form, replay) instead of failing with a 500, as
its upload path does; under a known recipe a wrong code is still refused."""

from __future__ import annotations

import datetime as dt

import pytest

from profiles import load_profile
from simulators.platform.nodeauth import AuthError, RequestVerifier, sign

NOW = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.timezone.utc)


def verifier(profile):
    return RequestVerifier(profile.envelope, lambda node: "k" * 32 if node == "650103001" else None, clock=lambda: NOW)


def headers(profile, vc: str | None = None, node: str = "650103001") -> dict[str, str]:
    h = sign(load_profile("reference").envelope, "k" * 32, node, "GET", "/api/v1/stoptrade", b"", now=NOW)
    if vc is not None:
        h["X-Verify-Code"] = vc
    return {k.lower(): v for k, v in h.items()}


def test_unknown_recipe_checks_the_form_window_and_replay_not_the_mac():
    cc = load_profile("changchun")
    v = verifier(cc)
    h = headers(cc, vc="5aaac6b7beeb78702894f0f4f6143168")
    assert v.verify(h, "GET", "/api/v1/stoptrade", b"") == "650103001"
    with pytest.raises(AuthError) as replay:
        v.verify(h, "GET", "/api/v1/stoptrade", b"")
    assert replay.value.status == 409
    for bad in ("xyz", "5aaac6b7beeb78702894f0f4f614316", "g" * 32):
        with pytest.raises(AuthError) as err:
            v.verify(headers(cc, vc=bad), "GET", "/api/v1/stoptrade", b"")
        assert err.value.status == 401 and "32 hex" in err.value.en
    with pytest.raises(AuthError, match="not registered"):
        v.verify(headers(cc, node="650103009"), "GET", "/api/v1/stoptrade", b"")


def test_a_known_recipe_still_refuses_a_wrong_code():
    ref = load_profile("reference")
    v = verifier(ref)
    assert v.verify(headers(ref), "GET", "/api/v1/stoptrade", b"") == "650103001"
    with pytest.raises(AuthError, match="does not match"):
        v.verify(headers(ref, vc="5aaac6b7beeb78702894f0f4f6143168"), "GET", "/api/v1/stoptrade", b"")
