"""The durable outbox: states, grouping and order, dedupe, crash recovery, scale cursors, stop-trade memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from simulators.node.outbox import Item, Outbox, content_key


def item(i: int, rtype: str = "A", date: str = "20250310", device_index: int | None = None, source: str = "t") -> Item:
    rec = {"n": str(i)}
    return Item(rtype, rec, date, source, content_key(rtype, rec), device_index)


def test_claim_groups_by_type_and_date_in_arrival_order(tmp_path):
    ob = Outbox(tmp_path / "o.db")
    ob.add([item(1, "base"), item(2, "detail"), item(3, "base"), item(4, "base", "20250311")])
    b1 = ob.claim(10, 0)
    assert (b1.rtype, b1.data_date, [r["n"] for r in b1.records]) == ("base", "20250310", ["1", "3"])
    ob.settle(b1.ids, [("accepted", "0000", None, None)] * 2)
    assert ob.claim(10, 0).rtype == "detail"  # the oldest pending row decides
    assert ob.claim(10, 0).data_date == "20250311"
    assert ob.claim(10, 0) is None


def test_wait_and_max_count(tmp_path):
    ob = Outbox(tmp_path / "o.db")
    ob.add([item(i) for i in range(5)])
    assert ob.claim(10, 60_000) is None  # part-filled and young: wait
    assert len(ob.claim(3, 60_000).ids) == 3  # full: go
    assert len(ob.claim(10, 0).ids) == 2


def test_duplicates_invalid_and_verdicts(tmp_path):
    from profiles import Finding

    ob = Outbox(tmp_path / "o.db")
    bad = Item("A", {"n": "x"}, "20250310", "t", "bad", findings=(Finding("TRAN-REC-02", "f", "缺", "missing"),))
    res = ob.add([item(1), item(1), bad])
    assert [s for s, _ in res] == ["pending", "duplicate", "invalid"] and res[0][1] == res[1][1]
    b = ob.claim(10, 0)
    assert len(b.ids) == 1  # invalid rows are never sent
    ob.settle(b.ids, [("rejected", "2008", "retail_market_id", "不是本节点")])
    assert ob.counts() == {"pending": 0, "sent": 0, "acknowledged": 0, "rejected": 1, "invalid": 1}
    assert ob.rows("invalid")[0]["reason"] == "TRAN-REC-02"
    assert ob.claim(10, 0) is None


def test_sent_rows_come_back_after_a_crash(tmp_path):
    ob = Outbox(tmp_path / "o.db")
    ob.add([item(i) for i in range(4)])
    b = ob.claim(2, 0)
    ob.db.close()  # like kill -9: no release, no settle
    ob2 = Outbox(tmp_path / "o.db")
    assert ob2.recovered == 2 and ob2.counts()["pending"] == 4
    assert ob2.claim(10, 0).ids[:2] == b.ids


def test_scale_cursor_and_ackable_index(tmp_path):
    ob = Outbox(tmp_path / "o.db")
    src = "scale:S1"
    assert ob.cursor("S1") == (1, 0) and ob.ackable_index(src) == 0
    ob.add([item(i, device_index=i, source=src) for i in (1, 2, 3)], cursor=("S1", 4))
    assert ob.cursor("S1") == (4, 0) and ob.ackable_index(src) == 0
    b = ob.claim(2, 0)  # rows of indexes 1, 2
    ob.settle(b.ids, [("accepted", "0000", None, None), ("duplicate", "2009", None, None)])
    assert ob.ackable_index(src) == 2  # 3 is still pending
    ob.settle(ob.claim(5, 0).ids, [("rejected", "2003", "weight", "x")])
    assert ob.ackable_index(src) == 3  # a kept rejection is final too
    ob.set_acked("S1", 3)
    assert ob.cursor("S1") == (4, 3)


def test_certificates_and_stop_instructions_persist(tmp_path):
    ob = Outbox(tmp_path / "o.db")
    rec = {
        "batch_id": "65010400200030000052",
        "tran_id": "65010400200030000052",
        "quarantine_animal_products_id": "PQ1",
    }
    ob.add([Item("retail_market_in_info_base", rec, "20250310", "handheld", "k")])
    ob.remember_stop(7, "65010400200030000052", "检测不合格")
    ob.remember_stop(7, "65010400200030000052", "again")
    ob.close()
    ob = Outbox(tmp_path / "o.db")
    assert ob.batch_certificates("65010400200030000052") == {"quarantine_animal_products_id": "PQ1"}
    assert ob.stopped_batches() == {"65010400200030000052": "检测不合格"}
    ob.stop_applied(7, ["S1"])
    ob.stop_acked(7)
    [ins] = ob.stop_instructions()
    assert ins["devices"] == ["S1"] and ins["acked_ms"]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.integers(0, 30), min_size=1, max_size=5)),
        st.tuples(st.just("claim"), st.integers(1, 6)),
        st.tuples(st.just("settle"), st.sampled_from(["accepted", "duplicate", "rejected"])),
        st.tuples(st.just("release"), st.just(0)),
        st.tuples(st.just("crash"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=25, deadline=None)
@given(ops)
def test_any_history_keeps_every_record_exactly_once(history):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "o.db"
        ob = Outbox(path)
        added: set[int] = set()
        final: set[int] = set()
        claimed: list[int] = []
        for op, arg in history:
            if op == "add":
                ob.add([item(i) for i in arg])
                added |= set(arg)
            elif op == "claim":
                b = ob.claim(arg, 0)
                claimed = claimed + (b.ids if b else [])  # a second claim adds to what is in flight
            elif op == "settle" and claimed:
                ob.settle(claimed, [(arg, "0000", None, None)] * len(claimed))
                final |= set(claimed)
                claimed = []
            elif op == "release":
                ob.release(claimed)
                claimed = []
            elif op == "crash":
                ob.db.close()
                ob = Outbox(path)
                claimed = []
        rows = ob.rows(limit=1000)
        assert sorted(int(r["record"]["n"]) for r in rows) == sorted(added)  # once each, none lost
        assert {r["id"] for r in rows if r["state"] in ("acknowledged", "rejected")} == final
        assert ob.counts()["sent"] == len(claimed)
        ob.close()
