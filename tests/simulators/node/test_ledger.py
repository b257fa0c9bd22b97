"""NODE-WHOL-03: the wholesaler + certificate ledger of entries without an upstream voucher."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.node.ledger import CertificateLedger
from simulators.node.outbox import Item, Outbox, content_key

WS = ["6501040020001", "6501040020002"]


def _rec(ws: str, cert: str | None, batch: str, tran: str | None = None) -> dict:
    r = {"market_id": "650104002", "wholesaler_id": ws, "batch_id": batch, "in_date": "20240518"}
    if cert:
        r["prov_id"] = cert
    if tran:
        r["tran_id"] = tran
    return r


def _store(outbox: Outbox, recs: list[dict]) -> None:
    outbox.add([Item("market_in_info_base", r, "20240518", "handheld", content_key("b", r)) for r in recs])


def test_ledger_from_the_outbox_refuses_contradictions(tmp_path):
    ob = Outbox(tmp_path / "o.db")
    try:
        _store(ob, [_rec(WS[0], "VO1", "B1"), _rec(WS[1], "VO2", "B2")])
        led = CertificateLedger(ob)
        led.refresh()
        assert led.check(_rec(WS[0], "VO1", "B1")) is None  # the same lot again
        assert led.check(_rec(WS[0], "VO1", "B9"))[0] == "2011"  # that certificate is batch B1
        assert led.check(_rec(WS[0], "VO3", "B2"))[0] == "2011"  # B2 is WS[1] + VO2
        assert led.check(_rec(WS[1], "VO1", "B5")) is None  # another wholesaler: its own pair
        assert led.check(_rec(WS[0], None, "B6"))[0] == "2002"  # no certificate, no voucher
        assert led.check(_rec(WS[0], None, "B7", tran="65010300100010000001")) is None  # upstream voucher
        assert led.check(_rec(WS[1], "VO1", "B8"))[0] == "2011"  # remembered within the session
    finally:
        ob.close()


pairs = st.tuples(
    st.sampled_from(WS), st.sampled_from(["VO1", "VO2", "VO3"]), st.sampled_from(["B1", "B2", "B3", "B4"])
)


@settings(deadline=None)
@given(st.lists(pairs, max_size=30))
def test_admitted_entries_are_one_to_one(entries):
    """Whatever arrives, the admitted entries map wholesaler + certificate to one batch and back
    (``check`` alone: no outbox is read)."""
    led = CertificateLedger(outbox=None)
    by_pair, by_batch = {}, {}
    for ws, cert, batch in entries:
        if led.check(_rec(ws, cert, batch)) is None:
            assert by_pair.setdefault((ws, cert), batch) == batch
            assert by_batch.setdefault(batch, (ws, cert)) == (ws, cert)
