"""The records a node target produced, read for the coding rules.

:class:`CodedRecords` holds (node, record type, record) for every record the nodes under test uploaded and
the platform stored, every stored record of the simulated day (``all_stored``, for upstream references),
and the codes the harness's scales issued.  Field kinds come from the record catalogue
(``records.toml`` field types ``node_code``, ``operator_code``, ``trace_code``, ``commodity_code``,
``region_code``) and from the certificate, plate and licence fields named below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

#: certificate field -> certificate kind of identifiers.toml
CERT_FIELDS = {
    "quarantine_id": "animal_quarantine",
    "quarantine_animal_products_id": "product_quarantine",
    "inspection_meat_id": "meat_quality",
    "prov_id": "veg_origin",
    "quarantine_vege_id": "veg_test",
}
PLATE_FIELDS = ("transporter_id",)
USCC_FIELDS = ("reg_id",)
BASE_FIELDS = ("base_id",)  #: 生产基地编号 (identifiers.toml [base_id])
#: fields naming the upstream code a lot arrived under (a downstream entry), first valid one is judged
RECEIVE = {
    "market_in_info_base": ("batch_id", "tran_id"),
    "market_in_info_detail": ("batch_id", "tran_id"),
    "retail_market_in_info_base": ("batch_id", "tran_id"),
    "retail_market_in_info_detail": ("batch_id", "tran_id"),
    "super_market_in_info_base": ("batch_id", "tran_id"),
    "super_market_in_info_detail": ("batch_id", "tran_id"),
    "team_buy_acceptance_info": ("tran_id",),
}
#: the seller field of a record issuing a trace code (CODE-TRACE-02: the code begins with it)
SELLER = {
    "meat_out_info_base": "seller_id",
    "market_tran_info_base": "wholesaler_id",
    "market_tran_info_detail": "wholesaler_id",
    "retail_market_tran_info_summ": "retailer_id",
}


@dataclass
class CodedRecords:
    profile: object
    records: list[tuple[str, str, dict]]  #: (node, type, record) of the nodes under test
    all_stored: list[tuple[str, str, dict]]  #: every record the platform stored
    nodes: list[str]
    scale_codes: list[str] = field(default_factory=list)
    operators: set[str] = field(default_factory=set)  #: operator codes registered at the platform

    @classmethod
    def from_session(cls, sess, profile) -> "CodedRecords":
        stored = [(n, t, json.loads(b)) for (n, t, _, b) in sess.stored()]
        mine = [r for r in stored if r[0] in sess.nodes]
        ops = {o.code for o in sess.city.operators}
        codes = [s.trace_code for b in sess._scales() for (_, s, _) in b.sales]
        return cls(profile, mine, stored, list(sess.nodes), codes, ops)

    def fields_of_type(self, ftype: str):
        """(node, record type, field, value) of every non-empty field of catalogue type ``ftype``."""
        cat = self.profile.records
        for node, rtype, rec in self.records:
            for f in cat.types[rtype].fields:
                v = rec.get(f.wire or f.name)
                if f.type == ftype and v not in (None, ""):
                    yield node, rtype, f.name, v

    def named_fields(self, names):
        for node, rtype, rec in self.records:
            for k in names:
                if rec.get(k) not in (None, ""):
                    yield node, rtype, k, rec[k]
