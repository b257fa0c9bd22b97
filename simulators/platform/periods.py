"""Reporting periods of the regulator's statistics and assessment: a day, an ISO week, a month or a quarter.

:func:`parse` reads ``yyyyMMdd`` (one business day), ``YYYY-Www`` (ISO 8601 week, Monday to Sunday),
``YYYY-MM`` (a calendar month) or ``YYYYQn`` (a quarter, as :func:`.stats.period_bounds`) and returns a
:class:`Period`: its label, first and last business day (yyyyMMdd, inclusive) and the period before it of the
same kind (for trends).  Anything else raises :class:`.stats.PeriodError` (the platform answers 400).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from dataclasses import dataclass

from .stats import PeriodError, period_bounds

_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})\Z")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")
_QUARTER = re.compile(r"([0-9]{4})Q([1-4])\Z")


@dataclass(frozen=True)
class Period:
    label: str
    kind: str  # day | week | month | quarter
    first: str  # yyyyMMdd
    last: str  # yyyyMMdd

    @property
    def days(self) -> list[str]:
        """Every business day of the period, yyyyMMdd, in order."""
        d, end = _day(self.first), _day(self.last)
        out = []
        while d <= end:
            out.append(d.strftime("%Y%m%d"))
            d += _dt.timedelta(days=1)
        return out

    def previous(self) -> Period:
        """The period of the same kind just before this one; :class:`PeriodError` before year 1."""
        try:
            before = _day(self.first) - _dt.timedelta(days=1)
        except OverflowError:
            raise PeriodError("no period before year 1") from None
        if self.kind == "day":
            return parse(f"{before.year:04d}{before.month:02d}{before.day:02d}")
        if self.kind == "week":
            y, w, _ = before.isocalendar()
            return parse(f"{y:04d}-W{w:02d}")
        if self.kind == "month":
            return parse(f"{before.year:04d}-{before.month:02d}")
        return parse(f"{before.year:04d}Q{(before.month - 1) // 3 + 1}")


def _day(s: str) -> _dt.date:
    return _dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))


def _fmt(d: _dt.date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def parse(text: str | None) -> Period:
    """The :class:`Period` named by ``text``; :class:`PeriodError` when it names none (year 0001-9999)."""
    t = (text or "").strip()
    if not t.isascii():
        raise PeriodError(f"not a period: {t[:20]!r}")
    m = _WEEK.match(t)
    if m:
        year, week = int(m.group(1)), int(m.group(2))
        try:
            monday = _dt.date.fromisocalendar(year, week, 1)
            sunday = _dt.date.fromisocalendar(year, week, 7)
        except ValueError:
            raise PeriodError(f"not an ISO week (YYYY-Www): {t[:20]!r}") from None
        return Period(t, "week", _fmt(monday), _fmt(sunday))
    m = _MONTH.match(t)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if year == 0 or not 1 <= month <= 12:
            raise PeriodError(f"not a month (YYYY-MM): {t[:20]!r}")
        return Period(
            t, "month", f"{year:04d}{month:02d}01", f"{year:04d}{month:02d}{calendar.monthrange(year, month)[1]:02d}"
        )
    if _QUARTER.match(t):
        first, last = period_bounds(quarter=t)
        return Period(t, "quarter", first, last)
    if len(t) != 8 or not t.isdigit():
        raise PeriodError(f"not a period (yyyyMMdd, YYYY-Www, YYYY-MM or YYYYQn): {t[:20]!r}")
    first, last = period_bounds(date=t)
    return Period(t, "day", first, last)
