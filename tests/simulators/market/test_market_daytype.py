import datetime as dt

from simulators.market.daytype import day_factors
from simulators.market.rates import Rates

R = Rates.load()


def test_ordinary_weekday_has_unit_factors():
    f = day_factors(R, dt.date(2025, 3, 10), "650100")
    assert f.labels == [] and set(f.demand.values()) == {1.0} and not f.category and not f.shift_h


def test_weekend_raises_retail_and_lowers_canteens():
    f = day_factors(R, dt.date(2025, 3, 15), "620100")
    assert "weekend" in f.labels
    assert f.demand["retail"] > 1 and f.demand["supermarket"] > 1 and f.demand["canteen"] < 1


def test_spring_festival_before_during_and_clock_shift():
    before = day_factors(R, dt.date(2025, 1, 25), "620100")  # festival day 2025-01-29
    assert "spring:before" in before.labels and before.demand["retail"] > 1.5
    assert before.shift_h["slaughter_intake"] < 0  # slaughter earlier (Liuzhou 03:30 -> 02:00)
    closed = day_factors(R, dt.date(2025, 1, 31), "620100")
    assert "spring:closed" in closed.labels and closed.demand["retail"] < 0.5
    after = day_factors(R, dt.date(2025, 2, 10), "620100")
    assert not any(lbl.startswith("spring") for lbl in after.labels)


def test_kurban_mutton_only_in_xinjiang():
    d = dt.date(2025, 6, 6)
    urumqi = day_factors(R, d, "650100")
    lanzhou = day_factors(R, d, "620100")
    assert urumqi.category.get("羊肉", 1.0) >= 2.0 and "kurban:on_day" in urumqi.labels
    assert "羊肉" not in lanzhou.category and not any(lbl.startswith("kurban") for lbl in lanzhou.labels)
    eve = day_factors(R, dt.date(2025, 6, 4), "650100")
    assert eve.category["羊肉"] > 1 and "kurban:before" in eve.labels
