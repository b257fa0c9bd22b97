"""RequestTime: the envelope's yyyyMMddHHmmssSSS time stamp, in Beijing time (UTC+8 by default).

A ``datetime`` given naive is read as Beijing wall time already; an aware one is converted.
"""

from __future__ import annotations

import datetime as _dt
import re

_REQ_TIME = re.compile(r"[0-9]{17}\Z")


def beijing(now: _dt.datetime, offset_hours: int = 8) -> _dt.datetime:
    """``now`` as naive Beijing wall time (naive input is taken to be Beijing time already)."""
    if now.tzinfo is None:
        return now
    return now.astimezone(_dt.timezone(_dt.timedelta(hours=offset_hours))).replace(tzinfo=None)


def format_request_time(t: _dt.datetime) -> str:
    """yyyyMMddHHmmssSSS of a (naive Beijing) datetime."""
    return t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 1000:03d}"


def parse_request_time(s: str) -> _dt.datetime | None:
    """The datetime of a yyyyMMddHHmmssSSS string, or ``None`` if it is not a valid one."""
    if not isinstance(s, str) or not _REQ_TIME.match(s):
        return None
    try:
        return _dt.datetime(
            int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]), int(s[12:14]), int(s[14:17]) * 1000
        )
    except ValueError:
        return None
