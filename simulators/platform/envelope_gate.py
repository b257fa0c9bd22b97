"""A cheap, streaming look at an upload before the profile parses and validates it (issue 13, finding 3).

The profile's VerifyCode is a MAC over a digest of the *decoded records* (``envelope.toml [verify_code]``), so
it cannot be checked over the raw body; instead :func:`gate` streams the body once with constant memory and
stops at the first of:

* more records than the profile allows per envelope (``[limits] max_count``; rule TRAN-ENV-07): counting stops
  at ``max_count + 1``, the rest is never parsed;
* a header element (NodeId, RequestTime…) longer than :data:`MAX_HEADER_CHARS`, or a record field longer than
  :func:`field_cap` characters (rule TRAN-ENC-03): nothing that long can be valid;
* a NodeId with no key on this receiver (``key_of(node) is None``; rule TRAN-ENV-05, reason 1111 where the
  profile has it), when the NodeId comes before the records (as in every envelope built by the profile).

It returns ``None`` (go on with the full parse) or a :class:`Refusal` (the reason code from the profile's
rule-to-reason table, and a finding whose value is at most 40 characters).  Malformed input is left to the full
parse, which reports it precisely.  The limits are this project's choices (evidence ``profile``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from profiles.findings import Finding
from profiles.xmlsafe import XmlSource, looks_like_xml

MAX_HEADER_CHARS = 256
UNKNOWN_NODE = "1111"
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]')


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    finding: Finding
    node_id: str | None


def field_cap(profile) -> int:
    """Longest field text that can still be worth validating: 4 x the longest ``max`` in the catalogue, >= 1024."""
    longest = max((int(getattr(f, "max", 0) or 0) for t in profile.records.types.values() for f in t.fields), default=0)
    return max(1024, 4 * longest)


def gate(spec, data: bytes, key_of=None, field_chars: int = 1024) -> Refusal | None:
    """``None`` when the envelope is worth a full parse, else why it is refused (see the module docstring)."""
    if looks_like_xml(data):
        return _gate_xml(spec, data, key_of, field_chars)
    return _gate_json(spec, data, field_chars)


def _refuse(spec, rule: str, field: str, zh: str, en: str, node: str | None, value: str = "") -> Refusal:
    f = Finding(rule, field, zh, en, value=value[:40] or None)
    return Refusal(spec.reason_for(f), f, node if node and len(node) <= 20 else None)


def _too_many(spec, node: str | None) -> Refusal:
    n = spec.max_count
    return _refuse(
        spec,
        "TRAN-ENV-07",
        "Count",
        f"记录超过每个报文上限 {n} 条",
        f"more than {n} records per envelope",
        node,
        str(n + 1),
    )


def _too_long(spec, field: str, n: int, node: str | None) -> Refusal:
    return _refuse(
        spec,
        "TRAN-ENC-03",
        field[:40],
        f"{field[:40]} 过长（{n} 字符）",
        f"{field[:40]} is too long ({n} characters)",
        node,
        str(n),
    )


def _gate_xml(spec, data: bytes, key_of, field_chars: int) -> Refusal | None:
    src = XmlSource(data, spec.limits)
    records, node, in_payload = 0, None, False
    for ev, el, depth in src.events():
        if ev == "start":
            if depth == 2:
                in_payload = el.tag == spec.payload
                if in_payload and node is not None and key_of is not None and key_of(node) is None:
                    out = _refuse(
                        spec,
                        "TRAN-ENV-05",
                        "NodeId",
                        f"节点 {node} 未注册或无密钥",
                        f"node {node} is not registered or has no key",
                        node,
                        node,
                    )
                    # the profile's own reason for "node unknown / without key", where it has one
                    return Refusal(UNKNOWN_NODE, out.finding, out.node_id) if UNKNOWN_NODE in spec.reasons else out
            elif depth == 3 and in_payload:
                records += 1
                if records > spec.max_count:
                    return _too_many(spec, node)
            continue
        text = el.text or ""
        if depth == 2 and not in_payload:
            if len(text) > MAX_HEADER_CHARS:
                return _too_long(spec, str(el.tag), len(text), node)
            if el.tag == "NodeId":
                node = text
            el.clear()
        elif depth == 4 and len(text) > field_chars:
            return _too_long(spec, str(el.tag), len(text), node)
        elif depth == 3:
            el.clear()
    return None


def _gate_json(spec, data: bytes, field_chars: int) -> Refusal | None:
    # root {  DataExchangeReq {  Address {  TYPE [  record {   -> a record opens at depth 5
    depth, records = 0, 0
    limit = field_chars * 6 + 2  # a JSON string token: \uXXXX escapes take 6 bytes per character
    for m in _JSON_TOKEN.finditer(data):
        tok = m.group()
        if tok[:1] == b'"':
            if len(tok) > limit or (depth == 2 and len(tok) > MAX_HEADER_CHARS + 2):  # depth 2: header keys, values
                return _too_long(spec, "JSON", len(tok), None)
        elif tok in (b"{", b"["):
            depth += 1
            if depth == 5 and tok == b"{":
                records += 1
                if records > spec.max_count:
                    return _too_many(spec, None)
        else:
            depth -= 1
    return None
