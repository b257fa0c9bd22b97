"""JSON from outside: size limit, strict UTF-8, depth limit, numbers kept as their literal text.

``read_json(data)`` returns ``(value, findings)``; ``value`` is ``None``
when a finding says why.  JSON numbers come back as the **exact text** of
the literal (``"12.500"`` stays ``"12.500"``), so decimals round-trip and
nothing is ever a float.  Rules: TRAN-ENC-03 (size, depth), TRAN-ENC-01
(not UTF-8, or not well-formed JSON).  Never raises for bad input.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from .findings import Finding
from .xmlsafe import DEFAULT_LIMITS, ENC_RULE, LIMIT_RULE, Limits


def _depth_ok(value: Any, max_depth: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > max_depth:
                return False
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return True


def read_json(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, list[Finding]]:
    """Parse untrusted JSON bytes; see the module docstring for the contract."""
    if len(data) > limits.max_bytes:
        return None, [
            Finding(
                LIMIT_RULE,
                "size",
                f"JSON 大小 {len(data)} 字节，超过上限 {limits.max_bytes} 字节",
                f"JSON is {len(data)} bytes, over the limit of {limits.max_bytes} bytes",
                value=str(len(data)),
            )
        ]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Finding(
                ENC_RULE,
                f"byte {exc.start}",
                f"JSON 必须是 UTF-8，第 {exc.start} 字节起不是有效的 UTF-8",
                f"JSON must be UTF-8; the bytes from offset {exc.start} are not valid UTF-8",
            )
        ]
    try:
        value = json.loads(text, parse_float=str, parse_int=str, parse_constant=_no_constant)
    except RecursionError:
        return None, [Finding(LIMIT_RULE, "depth", "JSON 嵌套过深", "JSON nested too deep")]
    except ValueError as exc:
        line, col = getattr(exc, "lineno", 0), getattr(exc, "colno", 0)
        msg = getattr(exc, "msg", str(exc))
        return None, [
            Finding(
                ENC_RULE,
                f"line {line} col {col}",
                f"JSON 格式错误：第 {line} 行第 {col} 列：{msg}",
                f"JSON is not well-formed: line {line} column {col}: {msg}",
            )
        ]
    if not _depth_ok(value, limits.max_depth):
        return None, [
            Finding(
                LIMIT_RULE,
                "depth",
                f"JSON 嵌套超过 {limits.max_depth} 层",
                f"JSON nests deeper than {limits.max_depth} levels",
            )
        ]
    return value, []


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
