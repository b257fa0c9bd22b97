"""PERC-SCALE-18: the scale's clock accepts time setting, stays within the profile's drift, stamps sales right.

Limits (profile values of the requirement): ±2 s right after setting, ±5 s per 24 h, sale times ±60 s.
Drift is measured over the declared ``clock_observe_s`` seconds (default 24 h): with action advance-clock
that much device time is fast-forwarded, otherwise the harness waits it out (only when ``clock_observe_s`` is
declared; with neither the test is not-tested, needing advance-clock).  The limit over the window is
exactly the per-day limit scaled to it.  The clock reads in whole seconds, so each offset is taken at the
instant the device's second turns over (:func:`tick_offset`), to within one GET_CLOCK round trip.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from conformance.actions import ActionMissing

SET_OFFSET_S, DRIFT_S_PER_DAY, RECORD_OFFSET_S = 2, 5, 60
DAY = 86_400


def limits(requirement) -> tuple[float, float, float]:
    pv = getattr(requirement, "profile_values", None) or {}
    return (
        pv.get("set_offset_s", SET_OFFSET_S),
        pv.get("drift_s_per_day", DRIFT_S_PER_DAY),
        pv.get("record_offset_s", RECORD_OFFSET_S),
    )


def offset_s(scale) -> float:
    return (scale.drv.get_clock() - scale.reference_now()).total_seconds()


@pytest.mark.requirement("PERC-SCALE-18")
@pytest.mark.applies(kinds=("scale",), needs=("clock",))
def test_clock_set_offset_and_sale_timestamps(scale, profile, evidence):
    """Right after SET_CLOCK the clock is within ±2 s; a sale's time is within ±60 s of the reference."""
    set_lim, _, rec_lim = limits(profile.requirements["PERC-SCALE-18"])
    scale.drv.set_clock(scale.reference_now())
    off = offset_s(scale)
    evidence.append_jsonl("clock.jsonl", {"after_set_offset_s": off})
    assert abs(off) <= set_lim + 1, f"right after setting, the clock is {off:+.0f} s off (limit ±{set_lim} s)"
    if not (scale.builtin or scale.declared("sell_command")):
        evidence.partial("设备不支持 SELL，未验证销售记录时间", "sale timestamps not shown: no SELL command")
        return
    rec = scale.sell(scale.new_batch(5 * (scale.unit_g or 1000)))
    d = (rec.time - scale.reference_now()).total_seconds()
    evidence.append_jsonl("clock.jsonl", {"sale_time": rec.time.isoformat(), "sale_offset_s": d})
    assert abs(d) <= rec_lim, f"sale {rec.index} is stamped {d:+.0f} s from the reference clock (limit ±{rec_lim} s)"


def tick_offset(scale, within_s: float = 3.0) -> tuple[float, float]:
    """(offset of the device clock from the reference in seconds, its uncertainty): GET_CLOCK is read until
    the device's second changes; the new value is then exact at an instant between the previous request
    and this answer, whose midpoint is taken.  Bounded by ``within_s`` (the clock must tick)."""
    prev, t_prev = scale.drv.get_clock(), scale.reference_now()
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        t0 = scale.reference_now()
        now = scale.drv.get_clock()
        t1 = scale.reference_now()
        if now != prev:
            mid = t_prev + (t1 - t_prev) / 2
            return (now - mid).total_seconds(), (t1 - t_prev).total_seconds() / 2
        prev, t_prev = now, t0
    raise AssertionError(f"the device clock did not advance within {within_s:g} s")


@pytest.mark.requirement("PERC-SCALE-18")
@pytest.mark.applies(kinds=("scale",), needs=("clock",))
@pytest.mark.conformance_timeout(24 * 3600)
def test_clock_drift_per_day(scale, profile, evidence):
    """Set the clock, let ``clock_observe_s`` (default 24 h) pass, read it again: the drift is within the
    per-day limit scaled to the window (±5 s per 24 h)."""
    _, drift_lim, _ = limits(profile.requirements["PERC-SCALE-18"])
    observe = scale.declared("clock_observe_s")
    if not observe and not scale.can("advance-clock"):
        raise ActionMissing(
            ["advance-clock"], "或声明 clock_observe_s 以真实等待", "or declare clock_observe_s to wait"
        )
    window = float(observe or DAY)
    assert window > 0, "clock_observe_s must be positive"
    scale.drv.set_clock(scale.reference_now())
    start, u0 = tick_offset(scale)
    if scale.can("advance-clock"):
        scale.let_time_pass(window)
    else:
        time.sleep(window)
    try:
        end, u1 = tick_offset(scale)
    finally:  # the device stays in use: back to the host's time
        scale.drv.set_clock(datetime.now())
    drift, limit = end - start, drift_lim * window / DAY
    evidence.attach_json(
        "drift.json",
        {
            "window_s": window,
            "offset_start_s": round(start, 4),
            "offset_end_s": round(end, 4),
            "drift_s": round(drift, 4),
            "uncertainty_s": round(u0 + u1, 4),
            "limit_over_window_s": round(limit, 4),
            "drift_s_per_day": round(drift * DAY / window, 3),
            "how": "advance-clock" if scale.can("advance-clock") else "waited",
        },
    )
    assert abs(drift) <= limit, (
        f"the clock drifted {drift:+.2f} s in {window / 3600:g} h: {drift * DAY / window:+.1f} s "
        f"per day (limit ±{drift_lim} s per day, ±{limit:.2f} s over the window); trim the RTC"
    )
