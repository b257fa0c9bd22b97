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

A small XML body whose bytes alone prove that the streaming pass would find nothing skips it
(:func:`plainly_within_limits`; the answer is the same ``None``): the platform parses every upload in full anyway,
and for the one-record envelopes that field scales send the second pass was about a fifth of the ingest work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from profiles.findings import Finding
from profiles.xmlsafe import XmlSource, looks_like_xml

MAX_HEADER_CHARS = 256
UNKNOWN_NODE = "1111"
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]')
#: bodies up to this size may skip the streaming pass (larger ones keep its constant-memory walk)
PLAIN_MAX_BYTES = 64 * 1024
_PLAIN_NODE = re.compile(rb"<NodeId>([0-9A-Za-z_-]{1,64})</NodeId>")
_UTF8_BOM = b"\xef\xbb\xbf"


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
        if plainly_within_limits(spec, data, key_of):
            return None
        return _gate_xml(spec, data, key_of, field_chars)
    return _gate_json(spec, data, field_chars)


def plainly_within_limits(spec, data: bytes, key_of=None) -> bool:
    """True only if the bytes prove that :func:`_gate_xml` would return ``None`` (False: ask it).

    * at most :data:`PLAIN_MAX_BYTES`, no ``<!`` (no DTD, comment or CDATA section) and no processing instruction
      but a leading XML declaration: an element's text is then the one run of bytes between its start tag and the
      next ``<``;
    * every run of bytes without ``<`` is at most :data:`MAX_HEADER_CHARS` long: a character takes at least one
      byte, and character references, the predefined entities and line-end normalisation only shorten text, so no
      header element (nor a field: :func:`field_cap` is at least 1024) is too long;
    * at most ``max_count`` ``<`` bytes: every element starts with one, so the payload cannot hold more records;
    * exactly one ``<NodeId``, as ``<NodeId>`` plus ASCII letters, digits, ``_`` or ``-`` and ``</NodeId>``, whose
      key ``key_of`` knows (or no ``key_of``): the NodeId the streaming pass would check has a key.

    The byte ``<`` is never part of a multi-byte GB18030 character, so this holds for GBK-declared bodies as well
    (the streaming pass reads them transcoded to UTF-8)."""
    if len(data) > PLAIN_MAX_BYTES or b"<!" in data:
        return False
    pis = data.count(b"<?")
    if pis > 1 or (pis == 1 and not data.removeprefix(_UTF8_BOM).startswith(b"<?xml")):
        return False
    if data.count(b"<") > spec.max_count or max(map(len, data.split(b"<"))) > MAX_HEADER_CHARS:
        return False
    if data.count(b"<NodeId") != 1:
        return False
    m = _PLAIN_NODE.search(data)
    return m is not None and (key_of is None or key_of(m.group(1).decode("ascii")) is not None)


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
