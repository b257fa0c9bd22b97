"""Fresh valid records for platform tests, owned by the city's registered nodes and operators.

``RecordMaker(profile, city, seed).make(rtype)`` returns a record the profile validates
(``profiles.record_examples``), uploaded by a node of the city whose role fits the record type,
every operator field naming an operator registered at that node, every trace code issued under
one of them with a sequence number no simulated day uses (9,000,000 and up), and its business
date on a day of its own (:meth:`RecordMaker.fresh_day`: from 2024-06-01 on, one per call), so
tests never touch each other's statistics or the simulated day's.  Deterministic per seed and
call order.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import random

from profiles.record_examples import example_record

FIRST_DAY = _dt.date(2024, 6, 1)
FIRST_SEQ = 9_000_000


def role_of(city_node_type: str) -> str:
    """The record catalogue's ``node_type`` (slaughterhouse, wholesale, retail…) of a city node type."""
    if city_node_type.startswith("slaughter"):
        return "slaughterhouse"
    if city_node_type.endswith("wholesale") or city_node_type == "distribution_centre":
        return "wholesale"
    if city_node_type in ("farmers_market", "community_outlet", "shop"):
        return "retail"
    if city_node_type in ("canteen", "restaurant"):
        return "canteen"
    return city_node_type


class RecordMaker:
    def __init__(self, profile, city, seed: int):
        self.p = profile
        self.cat = profile.records
        self.codes = profile.codes
        self.city = city
        self.seed = seed
        self._n = itertools.count()
        self._days = itertools.count()
        self._seq = itertools.count(FIRST_SEQ)
        self.ops: dict[str, list[str]] = {}
        for o in city.operators:
            self.ops.setdefault(o.node_code, []).append(o.code)
        self.by_role: dict[str, list[str]] = {}
        for n in city.nodes:
            self.by_role.setdefault(role_of(n.type), []).append(n.code)

    def fresh_day(self) -> _dt.date:
        return FIRST_DAY + _dt.timedelta(days=next(self._days))

    def node_for(self, rtype: str) -> str:
        role = self.cat.types[rtype].node_type
        nodes = self.by_role.get(role) or [n.code for n in self.city.nodes]
        return sorted(nodes)[0]

    def trace_code(self, node: str, operator: str | None = None) -> str:
        """A fresh trace code issued under ``operator`` (default: the node's first operator)."""
        return self.codes.trace_code(operator or sorted(self.ops[node])[0], next(self._seq))

    def make(self, rtype: str, day: _dt.date | None = None, node: str | None = None, **fields) -> dict:
        """A valid record of ``rtype`` (``fields`` override values after the fix-ups)."""
        node = node or self.node_for(rtype)
        rng = random.Random(f"{self.seed}/{rtype}/{next(self._n)}")
        rec = example_record(self.cat, rtype, rng, day=day or FIRST_DAY, node=node)
        rt = self.cat.types[rtype]
        ops = sorted(self.ops[node])
        for f in rt.fields:
            if f.name not in rec:
                continue
            if f.type == "operator_code":
                rec[f.name] = rng.choice(ops)
            elif f.type == "trace_code" or (f.name == "batch_id" and self.codes.is_valid(rec[f.name], "trace")):
                rec[f.name] = self.trace_code(node)
        rec.update(fields)
        return rec

    def own_code_field(self, rtype: str) -> str | None:
        """The field of ``rtype`` holding the trace code the record issues (a 20-digit sale or trade code)."""
        return {
            "meat_out_info_base": "tran_id",
            "market_tran_info_base": "tran_id",
            "retail_market_tran_info_summ": "sale_tran_id",
        }.get(rtype)
