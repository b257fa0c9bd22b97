"""Time as the platform sees it: milliseconds since the epoch, and China Standard Time dates.

Business dates (yyyyMMdd) and RequestTime (yyyyMMddHHmmssSSS) are read in
China Standard Time (UTC+8, no DST), the time zone of every node.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def cst_date(ms: int) -> str:
    """yyyyMMdd of the instant ``ms`` in China Standard Time."""
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y%m%d")


def cst_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, CST).isoformat(timespec="milliseconds")


def parse_cst(text: str, fmt: str) -> int | None:
    """Milliseconds of ``text`` read with ``fmt`` in CST, or ``None`` if it does not parse."""
    try:
        return int(datetime.strptime(text, fmt).replace(tzinfo=CST).timestamp() * 1000)
    except (ValueError, TypeError):
        return None


def time_answer(ms: int) -> dict:
    """The time service's answer (PLAT-TIME-01) for the instant ``ms`` (milliseconds since the epoch).

    ``beijing_time``: yyyyMMddHHmmssSSS in China Standard Time (the RequestTime format, so a node can copy it);
    ``iso``: ISO 8601 with milliseconds and ``+08:00``; ``epoch_ms``: the same instant as an integer."""
    t = datetime.fromtimestamp(ms / 1000, CST)
    return {
        "beijing_time": t.strftime("%Y%m%d%H%M%S") + f"{ms % 1000:03d}",
        "iso": t.isoformat(timespec="milliseconds"),
        "epoch_ms": ms,
        "utc_offset": "+08:00",
    }
