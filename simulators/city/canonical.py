"""Canonical JSON text of a city: the same city always gives the same bytes.

Sorted keys, ``ensure_ascii=False`` (UTF-8), indent 1, ``", "``/``": "``
separators, a trailing newline.  Floats (none are produced today) are
rounded to 6 decimals so their ``repr`` is stable; NaN/inf are refused.
"""

from __future__ import annotations

import json
import math

from .model import City


def _stable(obj):
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError("a city cannot hold NaN or infinity")
        return round(obj, 6)
    if isinstance(obj, dict):
        return {str(k): _stable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_stable(v) for v in obj]
    return obj


def dumps(city: City | dict) -> str:
    """The canonical JSON text (``str``) of a city or its dict form."""
    d = city.to_dict() if isinstance(city, City) else city
    return (
        json.dumps(_stable(d), ensure_ascii=False, sort_keys=True, indent=1, separators=(",", ": "), allow_nan=False)
        + "\n"
    )


def dump_bytes(city: City | dict) -> bytes:
    return dumps(city).encode("utf-8")
