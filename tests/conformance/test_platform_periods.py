"""The platform suite's periods stay private, whatever order its tests run in.

Tests that judge a period's figures against a truth of their own (the districts' week of the simulated day, the
quarter KPI tests' quarters) hold only if no other test uploads records into that period: the suite may not delete
data on a foreign platform, so privacy of periods is what makes the truth independent of test order.  Checked
here over the fixed business days the suite uploads on (the simulated day, the receipt lines' day, the problem
day) and every quarter a platform test names.
"""

from __future__ import annotations

import re
from pathlib import Path

from conformance.platform.test_trace_receipts import RECEIPT_DAY
from conformance.problemday import PROBLEM_DAY
from conformance.simday import DAY

PLATFORM_TESTS = Path(__file__).resolve().parents[2] / "conformance" / "platform"
#: files whose quarters are refusal probes (malformed or out-of-range values), not periods judged against a truth
PROBES_ONLY = {"test_security_params.py", "test_monitor.py"}
UPLOAD_DAYS = {"simulated day": DAY, "receipt lines": RECEIPT_DAY, "problem day": PROBLEM_DAY}


def _periods(d) -> set[str]:
    """The ISO week, month and quarter labels of a day (the regulator's period forms, simulators/platform/periods.py)."""
    y, w, _ = d.isocalendar()
    return {f"{y:04d}-W{w:02d}", f"{d.year:04d}-{d.month:02d}", f"{d.year:04d}Q{(d.month - 1) // 3 + 1}"}


def _judged_quarters() -> dict[str, str]:
    """Quarter label -> the platform test file naming it."""
    out = {}
    for f in sorted(PLATFORM_TESTS.glob("test_*.py")):
        if f.name not in PROBES_ONLY:
            for q in re.findall(r"\"([0-9]{4}Q[1-4])\"", f.read_text("utf-8")):
                out[q] = f.name
    return out


def test_fixed_upload_days_share_no_week_month_or_quarter():
    shared = [
        f"{a} {UPLOAD_DAYS[a]} and {b} {UPLOAD_DAYS[b]}: {sorted(_periods(UPLOAD_DAYS[a]) & _periods(UPLOAD_DAYS[b]))}"
        for i, a in enumerate(UPLOAD_DAYS)
        for b in list(UPLOAD_DAYS)[i + 1 :]
        if _periods(UPLOAD_DAYS[a]) & _periods(UPLOAD_DAYS[b])
    ]
    assert not shared, "records of one fixed day would enter another's periods (order-dependent truth): " + "; ".join(
        shared
    )


def test_no_fixed_upload_day_falls_in_a_quarter_a_test_judges():
    judged = _judged_quarters()
    assert judged, "set-up: no judged quarter found in conformance/platform (the scan is broken)"
    hits = [f"{name} {d} in {q} ({judged[q]})" for name, d in UPLOAD_DAYS.items() for q in _periods(d) if q in judged]
    assert not hits, "a quarter judged against a test's own truth also receives the suite's records: " + "; ".join(hits)
