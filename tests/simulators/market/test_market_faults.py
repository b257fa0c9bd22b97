import pytest

from simulators.market.errors import MarketConfigError
from simulators.market.faults import SWITCHES, Faults, parse_fault_options
from simulators.market.rates import Rates

R = Rates.load()


def test_parse_overrides_and_none():
    f = parse_fault_options(["late_upload=0.5"], R.faults)
    assert f["late_upload"] == 0.5 and f["network_outage"] == R.faults["network_outage"]
    none = parse_fault_options([], R.faults, none=True)
    assert all(none[s] == 0 for s in SWITCHES)


@pytest.mark.parametrize("item", ["late_upload", "nope=0.1", "late_upload=2", "late_upload=x", "=0.1"])
def test_bad_switches_are_usage_errors(item):
    with pytest.raises(MarketConfigError) as exc:
        parse_fault_options([item], R.faults)
    assert exc.value.zh and exc.value.en


def test_decisions_are_pure_functions_of_seed_and_subject():
    rates = {**R.faults, "network_outage": 0.5, "clock_drift": 0.5, "second_scale": 0.5}
    a, b = Faults(rates, R.upload, 7), Faults(rates, R.upload, 7)
    assert [a.outage(f"n{i}", 0) for i in range(50)] == [b.outage(f"n{i}", 0) for i in range(50)]
    assert [a.drift(f"n{i}") for i in range(50)] == [b.drift(f"n{i}") for i in range(50)]
    assert any(a.outage(f"n{i}", 0) for i in range(50)) and not all(a.outage(f"n{i}", 0) for i in range(50))
    # one switch's rate does not move another's draws
    c = Faults({**rates, "network_outage": 0.0}, R.upload, 7)
    assert [a.drift(f"n{i}") for i in range(50)] == [c.drift(f"n{i}") for i in range(50)]
    zero = Faults({k: 0.0 for k in rates}, R.upload, 7)
    assert not any(zero.outage(f"n{i}", 0) or zero.drift(f"n{i}") or zero.second_scale(f"n{i}") for i in range(50))
