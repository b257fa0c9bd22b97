"""Handheld 入场登记 against an upstream ledger: lines keep their upstream trace codes (the chain link)."""

from __future__ import annotations

import datetime as dt

from profiles import load_profile
from simulators.devices.handheld import HandheldTerminal

P = load_profile()
NODE = "650102001"
SELLER = P.codes.operator_code("650104001", 1)
UP = [P.codes.trace_code(SELLER, 7), P.codes.trace_code(SELLER, 8)]
BUYER = P.codes.operator_code(NODE, 3)


def terminal() -> HandheldTerminal:
    return HandheldTerminal(NODE, "北园春农产品批发市场", "", "", now=lambda: dt.datetime(2024, 5, 18, 6, 30))


def test_lines_with_upstream_codes_keep_them_as_batch_and_transaction():
    h = terminal()
    base, details = h.register_market_entry(
        BUYER,
        "王批发",
        [("21111002", "250.5", UP[0]), ("21111004", "33.5", UP[1])],
        quarantine_animal_products_id="DC-2024-5566",
        inspection_meat_id="RP-2024-7788",
        supplier=("650104001", "乌鲁木齐屠宰厂"),
        plate="新A54321",
    )
    assert base["batch_id"] == base["tran_id"] == UP[0]
    assert [(d["batch_id"], d["tran_id"]) for d in details] == [(UP[0], UP[0]), (UP[1], UP[1])]
    assert all(d["ws_supplier_id"] == "650104001" and d["inspection_meat_id"] == "RP-2024-7788" for d in details)
    assert h._batch_seq == 0  # no batch code of its own was used up
    assert len(h.outbox) == 3
    for t, r in h.outbox:
        assert P.records.validate(t, r) == [], (t, r)


def test_without_upstream_codes_the_node_system_or_the_terminal_issues_the_batch():
    h = terminal()
    given = P.codes.trace_code(BUYER, 41)
    base, [d] = h.register_market_entry(
        BUYER,
        "赵菜行",
        [("01202001", 800)],
        prov_id="CD-2024-0099",
        quarantine_vege_id="JC-1",
        origin_region="650121",
        base_name="达坂城基地",
        batch_id=given,
    )
    assert base["batch_id"] == d["batch_id"] == given and "tran_id" not in base and "tran_id" not in d
    assert d["base_name"] == "达坂城基地" and d["quarantine_vege_id"] == base["quarantine_vege_id"] == "JC-1"
    assert d["weight"] == "800.000"
    base2, [d2] = h.register_market_entry(BUYER, "赵菜行", [("01202001", "12.5")], prov_id="CD-2024-0100")
    own_first = P.codes.trace_code(P.codes.operator_code(NODE, 0), 1)  # the terminal's own first code
    assert base2["batch_id"] == d2["batch_id"] == own_first
