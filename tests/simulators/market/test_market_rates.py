import random

import pytest
from hypothesis import given, settings, strategies as st

from simulators.market.errors import MarketConfigError
from simulators.market.rates import DAY_S, Rates


@pytest.fixture(scope="module")
def rates():
    return Rates.load()


def test_every_hourly_table_is_a_distribution_with_a_source(rates):
    for act in rates.activities:
        shape = rates.shape(act)
        assert len(shape) == 24 and abs(sum(shape) - 1.0) < 1e-9
        assert rates.data["hourly"][act]["source"]
        peaks = rates.peaks(act)  # declared peaks: local maxima, the global one among them
        assert peaks and max(range(24), key=shape.__getitem__) in peaks, act
        for h in peaks:
            assert shape[h] >= shape[(h - 1) % 24] and shape[h] >= shape[(h + 1) % 24], (act, h)


def test_declared_shapes_have_the_expected_times_of_day(rates):
    argmax = {a: max(range(24), key=rates.shape(a).__getitem__) for a in rates.activities}
    assert argmax["slaughter_intake"] <= 3  # night intake
    assert 3 <= argmax["meat_out"] <= 6  # pre-dawn meat delivery
    assert 2 <= argmax["wholesale_trade"] <= 5  # pre-dawn wholesale
    fm = rates.shape("farmers_market_sales")
    assert 7 <= argmax["farmers_market_sales"] <= 9
    assert max(fm[15:20]) > 2 * fm[13]  # a second, evening peak
    assert 9 <= argmax["supermarket_sales"] <= 20  # daytime


@pytest.mark.parametrize(
    "patch, word",
    [
        ({"hourly": {"meat_out": {"weights": [1] * 23}}}, "24"),
        ({"hourly": {"meat_out": {"weights": [-1] + [1] * 23}}}, "non-negative"),
        ({"hourly": {"meat_out": {"weights": [0] * 24}}}, "positive sum"),
        ({"volume": {"shop": -5}}, "negative"),
        ({"volume": {"regular_share": 1.5}}, "out of range"),
        ({"faults": {"late_upload": 2}}, "0..1"),
    ],
)
def test_bad_rates_are_refused_before_any_run(patch, word):
    with pytest.raises(MarketConfigError) as exc:
        Rates.load(overrides=patch)
    assert word in exc.value.en and exc.value.zh


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(MarketConfigError):
        Rates.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[hourly\n")
    with pytest.raises(MarketConfigError):
        Rates.load(bad)


weights = st.lists(st.floats(0, 100, allow_nan=False), min_size=24, max_size=24).filter(lambda w: sum(w) > 0)


@settings(max_examples=60, deadline=None)
@given(w=weights, seed=st.integers(0, 2**32), shift=st.floats(-3, 3))
def test_sampled_times_stay_in_the_day_and_in_open_hours(w, seed, shift):
    r = Rates.load(overrides={"hourly": {"x": {"weights": w}}})
    rng = random.Random(seed)
    for _ in range(20):
        t = r.sample_time("x", rng, shift)
        assert 0 <= t < DAY_S
        if shift == 0:
            assert w[int(t // 3600)] > 0


def test_intensity_integrates_to_the_expected_count(rates):
    total = sum(rates.intensity("farmers_market_sales", 1000, h * 3600 + 1) * 3600 for h in range(24))
    assert abs(total - 1000) < 1e-6
    assert rates.peak_intensity("farmers_market_sales", 1000) >= max(
        rates.intensity("farmers_market_sales", 1000, h * 3600) for h in range(24)
    )
