"""Views of a :class:`~.nodeharness.NodeSession` the node tests judge: when each record was first sent,
when it was first answered accepted/duplicate, and which business record names which operator.

Times are epoch seconds at the harness platform (arrival of the envelope).
"""

from __future__ import annotations

import json

#: record type -> field holding the code the record issues (a line's trace code); the platform's reading
#: (simulators/platform/platform.toml ``own``), repeated here as the judge's own table
OWN = {
    "meat_out_info_base": "tran_id",
    "meat_out_info_detail": "tran_id",
    "market_tran_info_base": "tran_id",
    "market_tran_info_detail": "tran_id",
    "retail_market_tran_info_summ": "sale_tran_id",
}
#: one record per commodity line (CODE-TRACE-04/05)
LINE_TYPES = ("meat_out_info_detail", "market_tran_info_detail", "retail_market_tran_info_summ")
#: base record type -> (detail type, the fields linking them)
BASE_DETAIL = {
    "meat_out_info_base": ("meat_out_info_detail", ("tran_id",)),
    "market_tran_info_base": ("market_tran_info_detail", ("tran_id",)),
    "market_in_info_base": ("market_in_info_detail", ("batch_id",)),
    "retail_market_in_info_base": ("retail_market_in_info_detail", ("batch_id",)),
    "super_market_in_info_base": ("super_market_in_info_detail", ("batch_id",)),
}


def first_sent(session, node: str | None = None) -> dict[str, float]:
    """Canonical record -> arrival time of the first envelope that carried it."""
    out: dict[str, float] = {}
    for up in session.uploads(node):
        for rec in up.records:
            out.setdefault(rec, up.ex.t)
    return out


def first_settled(session, node: str | None = None) -> dict[str, float]:
    """Canonical record -> answer time of the first envelope that answered it accepted or duplicate."""
    out: dict[str, float] = {}
    for up in session.uploads(node):
        if not up.answered:
            continue
        for rec, v in zip(up.records, up.verdicts):
            if v in ("accepted", "duplicate"):
                out.setdefault(rec, up.ex.t_end)
    return out


def record_types(session, node: str) -> dict[str, str]:
    """Canonical record -> record type, for every record the node uploaded."""
    return {rec: up.rtype for up in session.uploads(node) for rec in up.records if up.rtype}


def parties(record: dict, node: str) -> set[str]:
    """Operator codes of ``node`` named in a record (any 13-digit value starting with the node code)."""
    return {v for v in record.values() if isinstance(v, str) and len(v) == 13 and v.isdigit() and v.startswith(node)}


def load(rec: str) -> dict:
    return json.loads(rec)
