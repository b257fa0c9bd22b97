"""Device mode at the wholesale counters and gates: service cards read over the wire, entries on handhelds."""

import io
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles import load_profile
from profiles.device.card_layout import CardHolder, load_card_layout
from simulators.city import generate_city
from simulators.devices.card import MifareCard
from simulators.market import devices
from simulators.market.model import MarketModel
from simulators.market.terminals import fit_gb18030
from simulators.market.wholesale import CASH_BUYER_ZH

from marketkit import DAY

P = load_profile()
LAYOUT = load_card_layout(P)
ENTRY_TYPES = ("animal_in_info", "market_in_info_base", "market_in_info_detail")
CARD_READ = (
    ["PollRequest"]
    + ["AuthRequest", "ReadBlockRequest"]
    + ["AuthRequest"]
    + ["ReadBlockRequest"] * 3
    + ["AuthRequest"]
    + ["ReadBlockRequest"] * 3
    + ["HaltRequest"]
)


def device_run(days=1, prepare=None):
    """Device-mode run of tiny (seed 1) with every reader command and handheld registration logged."""
    s = io.StringIO()
    m = MarketModel(generate_city("tiny", 1, P), P, seed=1, start=DAY, days=days, stream=s)
    devices.attach(m)
    log = {"wire": [], "handheld": []}
    for code, rd in m.terminals.readers.items():

        def handle(msg, _orig=rd.model.handle, _rd=rd, _code=code):
            card = _rd.model.card
            log["wire"].append(
                (round(m.env.now, 3), _code, type(msg).__name__, card.uid.hex().upper() if card is not None else None)
            )
            return _orig(msg)

        rd.model.handle = handle
    for hh in m.terminals.handhelds.values():
        for name in ("register_animal_intake", "register_market_entry"):

            def reg(*a, _orig=getattr(hh, name), **kw):
                out = _orig(*a, **kw)
                log["handheld"] += [out] if isinstance(out, dict) else [out[0], *out[1]]
                return out

            setattr(hh, name, reg)
    if prepare is not None:
        prepare(m)
    m.run()
    records = [o for o in map(json.loads, s.getvalue().splitlines()) if o["k"] == "record"]
    return m, s.getvalue(), records, log


@pytest.fixture(scope="module")
def day():
    return device_run()


def card_holders(m) -> dict[str, str]:
    """operator code -> UID of the card it presents (buyers the model gave a card)."""
    return {a.code: a.card for n in m.topo.nodes for a in [n.self_actor, *n.actors] if a.card}


def reads_of(log) -> list[tuple]:
    """One (t, node, uid) per card read seen at a reader: a POLL starts each."""
    return [(t, node, uid) for t, node, cmd, uid in log["wire"] if cmd == "PollRequest"]


def test_every_card_holder_trade_reads_the_card_over_the_line_and_cash_trades_read_none(day):
    m, _, records, log = day
    cards = card_holders(m)
    readers = set(m.terminals.readers)
    trades = [r for r in records if r["type"] == "market_tran_info_base" and r["node"] in readers]
    card_trades = [r for r in trades if r["data"]["retailer_id"] in cards]
    cash = [r for r in trades if r["data"]["retailer_name"] == CASH_BUYER_ZH]
    assert len(card_trades) >= 5 and len(cash) >= 5
    # each card-holder trade: its buyer's card was read at that market at that instant, and only then
    assert Counter(reads_of(log)) == Counter((r["t"], r["node"], cards[r["data"]["retailer_id"]]) for r in card_trades)
    # a read is the whole sequence on the wire, about the card in the field
    for node in readers:
        n = sum(1 for r in card_trades if r["node"] == node)
        assert [c for _, nd, c, _ in log["wire"] if nd == node] == CARD_READ * n
    assert sum(rd.endpoint.stats["requests"] for rd in m.terminals.readers.values()) == len(CARD_READ) * len(
        card_trades
    )
    assert sum(rd.stats["card_events"] for rd in m.terminals.readers.values()) == len(card_trades)  # CARD_EVENT pushed
    # a cash trade presents nothing: no reader command at an instant with only cash trades there
    card_instants = {(r["t"], r["node"]) for r in card_trades}
    assert {(t, node) for t, node, _, _ in log["wire"]} <= card_instants
    st_ = m.terminals.stats
    assert st_["reads"] == st_["card_trades"] == len(card_trades) and st_["cash_trades"] == len(cash)
    assert st_["unreadable"] == {}
    assert all(rd.line.closed for rd in m.terminals.readers.values())


def test_the_trade_record_names_the_operator_read_from_the_card(day):
    """Give buyer X's card the data of operator Y: X's trades at the counter are recorded as Y's."""
    m0, _, records0, _ = day
    cards = card_holders(m0)
    readers = set(m0.terminals.readers)
    counted = Counter(
        r["data"]["retailer_id"]
        for r in records0
        if r["type"] == "market_tran_info_base" and r["node"] in readers and r["data"]["retailer_id"] in cards
    )
    x = counted.most_common(1)[0][0]
    y = next(a for a in m0.topo.stalls if a.card and a.code != x and a.node.role == m0.terminals.register[x].node.role)

    def swap(m):
        uid = m.terminals.register[x].card
        m.terminals.cards[uid] = MifareCard.issued(LAYOUT, bytes.fromhex(uid), CardHolder(y.code, y.code[:9], "替卡"))

    m, _, records, log = device_run(prepare=swap)
    trades = [r for r in records if r["type"] == "market_tran_info_base" and r["node"] in readers]
    assert not [r for r in trades if r["data"]["retailer_id"] == x]
    x_reads = [(t, node) for t, node, uid in reads_of(log) if uid == cards[x]]
    y_reads = [(t, node) for t, node, uid in reads_of(log) if uid == cards[y.code]]
    assert x_reads and sorted(x_reads + y_reads) == sorted(
        (r["t"], r["node"]) for r in trades if r["data"]["retailer_id"] == y.code
    )
    named = {r["data"]["retailer_name"] for r in trades if r["data"]["retailer_id"] == y.code}
    assert named == {y.name[:50]}  # the name comes from the market's register, not the card


def test_every_entry_record_came_from_a_handheld(day):
    m, _, records, log = day
    entries = [r["data"] for r in records if r["type"] in ENTRY_TYPES]
    assert len(entries) >= 20 and any(r["type"] == "animal_in_info" for r in records)
    assert entries == log["handheld"]  # the same dicts, in order: built by the handhelds
    assert sum(m.terminals.stats["entries"].values()) == len(entries)
    assert all(not hh.outbox for hh in m.terminals.handhelds.values())  # taken from the outbox
    # meat entries keep the upstream line's trace code (the chain link) and name the supplier
    meat = [r["data"] for r in records if r["type"] == "market_in_info_detail" and "ws_supplier_id" in r["data"]]
    trade_codes = {
        r["data"]["tran_id"] for r in records if r["type"] in ("market_tran_info_detail", "meat_out_info_detail")
    }
    assert meat and all(d["batch_id"] == d["tran_id"] and d["tran_id"] in trade_codes for d in meat)


def test_same_business_records_as_fast_mode(tiny_day, day):
    fast_model, fast_led, fast_stream, _ = tiny_day
    m, stream, _, _ = day
    assert stream == fast_stream
    assert m.ledger.conservation() == []
    assert sorted((s["id"], s["kg"], s["parent"]) for s in m.ledger.sales()) == sorted(
        (s["id"], s["kg"], s["parent"]) for s in fast_led.sales()
    )


def test_a_card_with_foreign_keys_is_a_counted_cash_trade_not_a_crash():
    """Reader fault ``wrong_key``: AUTH_FAILED.  The market lets the trade go ahead as cash (散户): the record
    cannot name the buyer, the goods leave the traced chain, the outcome is counted and in the ledger."""

    def broken(m):
        for rd in m.terminals.readers.values():
            rd.model.faults.add("wrong_key", "reader")

    m, _, records, log = device_run(prepare=broken)
    st_ = m.terminals.stats
    assert st_["card_trades"] >= 5 and st_["reads"] == 0
    assert st_["unreadable"] == {"AUTH_FAILED": st_["card_trades"]}
    faults = [f for f in m.ledger.faults if f["name"] == "card_unreadable"]
    assert len(faults) == st_["card_trades"] and {f["reason"] for f in faults} == {"AUTH_FAILED"}
    cards = card_holders(m)
    assert all(f["uid"] == cards[f["buyer"]] for f in faults)
    readers = set(m.terminals.readers)
    trades = [r for r in records if r["type"] == "market_tran_info_base" and r["node"] in readers]
    assert not [r for r in trades if r["data"]["retailer_id"] in cards]
    assert (
        sum(1 for r in trades if r["data"]["retailer_name"] == CASH_BUYER_ZH) == st_["card_trades"] + st_["cash_trades"]
    )
    # the host stopped at the refused AUTH (POLL, AUTH), once per trade, and the run stayed consistent
    assert Counter(c for _, _, c, _ in log["wire"]) == {
        "PollRequest": st_["card_trades"],
        "AuthRequest": st_["card_trades"],
    }
    assert m.ledger.conservation() == []


# -- issuing: the city's data on the card, the holder name cut to the layout ------------------------------


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x9FFF), max_size=20), st.integers(0, 14))
def test_fit_gb18030_is_the_longest_prefix_that_fits(text, n):
    out = fit_gb18030(text, n)
    assert len(out.encode("gb18030")) <= n
    kept = [c for c in text if _encodable(c)]
    assert "".join(kept).startswith(out)
    if len(out) < len(kept):
        assert len((out + kept[len(out)]).encode("gb18030")) > n


def _encodable(c):
    try:
        c.encode("gb18030")
        return True
    except UnicodeEncodeError:
        return False


def test_issued_cards_carry_the_city_fixture(day):
    m = day[0]
    ops = {o.code: o for o in m.city.operators}
    assert len(m.terminals.cards) == len(m.city.cards)
    for c in m.city.cards:
        card = m.terminals.cards[c.uid]
        r = LAYOUT.read(card.blocks(), bytes.fromhex(c.uid), P.codes)
        assert r.ok and r.holder.operator_code == c.operator_code and r.holder.kind == int(c.card_kind)
        assert r.holder.issuing_node == ops[c.operator_code].node_code
        assert r.holder.holder_name == fit_gb18030(ops[c.operator_code].name, 14)
