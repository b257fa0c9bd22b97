"""Fresh test records: valid, owned by the city's registered operators, unique, on days of their own."""

from __future__ import annotations

from conformance.testrecords import RecordMaker, role_of
from profiles import load_profile
from simulators.city import generate_city

P = load_profile()
CITY = generate_city("tiny", 1, P)


def test_every_type_valid_and_owned_by_registered_operators():
    m = RecordMaker(P, CITY, 1)
    ops = {o.code for o in CITY.operators}
    for rtype, rt in sorted(P.records.types.items()):
        rec = m.make(rtype, m.fresh_day())
        assert P.records.validate(rtype, rec) == [], (rtype, P.records.validate(rtype, rec))
        node = m.node_for(rtype)
        assert (
            role_of(next(n.type for n in CITY.nodes if n.code == node)) in (rt.node_type, "any")
            or rt.node_type == "any"
        )
        for f in rt.fields:
            if f.type == "operator_code" and f.name in rec:
                assert rec[f.name] in ops and rec[f.name].startswith(node), (rtype, f.name)
            if f.type == "trace_code" and f.name in rec:
                assert rec[f.name].startswith(node) and int(rec[f.name][13:]) >= 9_000_000


def test_deterministic_and_unique():
    a, b = RecordMaker(P, CITY, 7), RecordMaker(P, CITY, 7)
    ra = [a.make("retail_market_tran_info_summ") for _ in range(5)]
    assert ra == [b.make("retail_market_tran_info_summ") for _ in range(5)]
    assert len({r["sale_tran_id"] for r in ra}) == 5
    assert len({a.fresh_day() for _ in range(50)}) == 50
