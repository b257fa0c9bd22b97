import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from simulators.market.issuer import TraceIssuer

P = load_profile()
OP = "6501030020003"


def test_codes_are_the_codebooks_codes_in_sequence():
    iss = TraceIssuer(P.codes)
    codes = [iss.issue(OP) for _ in range(50)]
    assert codes == [P.codes.trace_code(OP, n) for n in range(1, 51)]
    assert all(P.codes.is_valid(c, "trace") for c in codes) and iss.issued(OP) == 50


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 9_999_999))
def test_fast_formatting_equals_the_validated_generator(n):
    iss = TraceIssuer(P.codes)
    iss.issue(OP)
    iss._next[OP] = n
    assert iss.issue(OP) == P.codes.trace_code(OP, n)


def test_an_invalid_operator_is_refused_and_exhaustion_raises():
    from profiles.codes import CodeError

    iss = TraceIssuer(P.codes)
    with pytest.raises(CodeError):
        iss.issue("999999")
    iss.issue(OP)
    iss._next[OP] = 10**7
    with pytest.raises(OverflowError):
        iss.issue(OP)
