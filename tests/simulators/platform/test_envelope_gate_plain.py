"""The envelope gate's shortcut (:func:`simulators.platform.envelope_gate.plainly_within_limits`): a small XML body
may skip the streaming pass only when that pass would have found nothing.

Every body below, crafted at each boundary the shortcut reasons about and 300 seeded mutations of real
envelopes, must get the same answer from :func:`gate` as from the streaming pass alone; and a plain envelope
built by the profile must take the shortcut (else the ingest saving is silently gone)."""

from __future__ import annotations

import random
import re

import pytest

from platformkit import P, R, code, rec
from simulators.platform.envelope_gate import _gate_xml, field_cap, gate, plainly_within_limits

SPEC = P.envelope
CAP = field_cap(P)
KEY = "k" * 32


def key_of(node: str) -> str | None:
    return KEY if node == R else None


def envelope(n: int = 1, node: str = R) -> bytes:
    recs = [
        rec("retail_market_tran_info_summ", R, seed=i, retail_market_id=R, sale_tran_id=code(R + "0001", i + 1))
        for i in range(n)
    ]
    return SPEC.build(node, "retail_market_tran_info_summ", recs, KEY)


def _answer(refusal):
    return None if refusal is None else (refusal.code, refusal.finding.rule, refusal.finding.field, refusal.node_id)


def _same(body: bytes, keys=key_of) -> None:
    assert _answer(gate(SPEC, body, keys, CAP)) == _answer(_gate_xml(SPEC, body, keys, CAP)), body[:300]


def _in_first_field(body: bytes, text: bytes) -> bytes:
    """``text`` put at the start of the first record field's text (depth 4)."""
    at = body.index(b"<retail_market_tran_info_summ>") + len(b"<retail_market_tran_info_summ>")
    at = body.index(b">", at + 1) + 1
    return body[:at] + text + body[at:]


def _in_header(body: bytes, element: bytes, text: bytes) -> bytes:
    at = body.index(b"<" + element + b">") + len(element) + 2
    return body[:at] + text + body[at:]


ONE = envelope(1)
CRAFTED = {
    "plain, key known": ONE,
    "plain, ten records": envelope(10),
    "unknown node": envelope(1, node="650199001"),
    "header 257 characters": _in_header(ONE, b"RequestTime", b"x" * 257),
    "header of exactly 256 characters": re.sub(rb"<RequestTime>[^<]*", b"<RequestTime>" + b"7" * 256, ONE),
    "header split by a comment": _in_header(ONE, b"RequestTime", b"x" * 200 + b"<!-- c -->" + b"y" * 200),
    "header split by a processing instruction": _in_header(ONE, b"RequestTime", b"x" * 200 + b"<?p q?>" + b"y" * 200),
    "header in CDATA with a <": _in_header(ONE, b"RequestTime", b"<![CDATA[" + b"x" * 200 + b"<" + b"y" * 200 + b"]]>"),
    "header of references": _in_header(ONE, b"RequestTime", b"&amp;" * 100),
    "field over the cap": _in_first_field(ONE, b"z" * (CAP + 1)),
    "field split by a comment": _in_first_field(ONE, b"z" * (CAP // 2 + 1) + b"<!---->" + b"z" * (CAP // 2 + 1)),
    "too many records": ONE.replace(
        b"</retail_market_tran_info_summ>", b"</retail_market_tran_info_summ>" + b"<r/>" * (SPEC.max_count + 1), 1
    ),
    "empty NodeId": ONE.replace(b"<NodeId>" + R.encode() + b"</NodeId>", b"<NodeId></NodeId>"),
    "NodeId with a space": ONE.replace(b"<NodeId>" + R.encode(), b"<NodeId> " + R.encode()),
    "two NodeIds": _in_header(ONE, b"RequestTime", b"").replace(
        b"<RequestTime>", b"<NodeId>650199001</NodeId><RequestTime>"
    ),
    "GBK declared": ONE.replace(b'encoding="UTF-8"', b'encoding="GBK"'),
    "GBK, long Chinese header": _in_header(
        ONE.replace(b'encoding="UTF-8"', b'encoding="GBK"'), b"RequestTime", "汉".encode("gb18030") * 200
    ),
    "not well-formed": ONE[: len(ONE) // 2],
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_gate_answers_as_the_streaming_pass(name):
    _same(CRAFTED[name])


def test_gate_answers_as_the_streaming_pass_on_seeded_mutations():
    rng = random.Random(16)
    pieces = [b"x", b"&amp;", b"&#x6C49;", "汉".encode(), b"<!---->", b"<?p?>", b"<![CDATA[<]]>", b"\r\n", b"<a/>"]
    bases = [envelope(1), envelope(3), envelope(1, node="650199001")]
    for _ in range(300):
        body = rng.choice(bases)
        for _ in range(rng.randint(1, 3)):
            cuts = [i + 1 for i in range(len(body)) if body[i : i + 1] == b">"]
            at = rng.choice(cuts)
            body = body[:at] + rng.choice(pieces) * rng.randint(1, 400) + body[at:]
        _same(body, rng.choice([key_of, None]))


def test_a_plain_envelope_takes_the_shortcut():
    assert plainly_within_limits(SPEC, ONE, key_of)
    assert plainly_within_limits(SPEC, envelope(10), key_of)
    assert not plainly_within_limits(SPEC, envelope(1, node="650199001"), key_of)
