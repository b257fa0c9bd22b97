"""The node's operators' base information (``manager_base_info``), queued before any business record.

NODE-REC-06: a node uploads the base information of each of its operators,
including its own ``…0000`` record, before any business record naming them.
The reference node queues one ``manager_base_info`` per configured operator
when it starts, before its scales and handheld intake run, so the outbox (FIFO
by group, :meth:`Outbox.claim`) sends them first.

Identity in the outbox: ``op:<operator code>:<digest of the configured details>``,
so a restart with the same configuration queues nothing new, and a changed
operator (name, kind, licence, phone) is queued again with ``info_update_date``
(the behaviour TRAN-UPL-08 recommends).  ``record_date`` (registration) is the
time the operator was first queued, kept in the outbox row.

NODE-WHOL-01: an operator configured with a code of another node was registered there; it keeps that code
and this node uploads no ``manager_base_info`` for it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json

from profiles.envelope import beijing
from profiles.records import RecordCatalog

from .config import NodeConfig
from .outbox import Item, Outbox
from .sales import in_catalogue_order

RTYPE = "manager_base_info"
_DEFAULT_TYPE = "1001"  # business type when the configuration gives none (4 digits, profile: free-form)


def operator_records(
    config: NodeConfig, now: _dt.datetime, first_seen: dict[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """``(source key, record)`` per configured operator; ``first_seen`` maps code -> record_date already used."""
    stamp = beijing(now).strftime("%Y%m%d%H%M%S")
    out = []
    for code in sorted(config.operators):
        if not code.startswith(config.node_code):
            continue  # registered at its own node: not registered again
        info = config.operator_info.get(code, {})
        own = code.endswith("0000")
        details = {
            "name": config.operators[code] or config.node_name,
            "property": info.get("property") or ("1" if own else "2"),
            "type": info.get("type") or _DEFAULT_TYPE,
            **{k: info[k] for k in ("reg_id", "legal_represent", "tel") if info.get(k)},
        }
        digest = hashlib.sha256(json.dumps(details, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        rec = {
            "butcher_fac_id": config.node_code,
            "butcher_fac_name": config.node_name,
            "id": code,
            "record_date": first_seen.get(code, stamp),
            **details,
        }
        if code in first_seen:
            rec["info_update_date"] = stamp
        out.append((f"op:{code}:{digest}", rec))
    return out


def operator_items(config: NodeConfig, outbox: Outbox, catalog: RecordCatalog, now: _dt.datetime) -> list[Item]:
    """The outbox items of the operators' records now (an operator already in ``outbox`` keeps its
    ``record_date`` and gets ``info_update_date``; an unchanged one has the same key, a duplicate there)."""
    first_seen = {r["record"]["id"]: r["record"]["record_date"] for r in outbox.rows_of_type(RTYPE)}
    rt = catalog.types[RTYPE]
    items = []
    for key, rec in operator_records(config, now, first_seen):
        rec = in_catalogue_order(rt, rec)
        errs = tuple(f for f in catalog.validate(RTYPE, rec) if f.severity == "error")
        items.append(Item(RTYPE, rec, beijing(now).strftime("%Y%m%d"), "operators", key, None, errs))
    return items


def queue_operators(config: NodeConfig, outbox: Outbox, catalog: RecordCatalog, now: _dt.datetime) -> int:
    """Queue the operators' records not yet in the outbox; returns how many were queued."""
    items = operator_items(config, outbox, catalog, now)
    return sum(1 for state, _ in outbox.add(items) if state != "duplicate")
