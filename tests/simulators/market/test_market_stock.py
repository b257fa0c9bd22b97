from hypothesis import given, settings, strategies as st

from simulators.market.stock import Holding, Lot, kg3


def lot(ref, kg, goods="g1"):
    return Lot(ref, goods, "h", "n", kg, kg, None)


def test_take_is_first_in_first_out_and_splits_over_lots():
    h = Holding("h", "n")
    h.add(lot("a", 2.0))
    h.add(lot("b", 3.0))
    got = h.take("g1", 2.5)
    assert [(l.ref, kg) for l, kg in got] == [("a", 2.0), ("b", 0.5)]
    assert h.available("g1") == 2.5


def test_take_never_exceeds_what_is_held_and_skips_stopped_lots():
    h = Holding("h", "n")
    a, b = lot("a", 1.0), lot("b", 1.0)
    b.stopped = True
    h.add(a)
    h.add(b)
    got = h.take("g1", 5.0)
    assert sum(kg for _, kg in got) == 1.0 and all(l.ref == "a" for l, _ in got)
    assert h.take_one("g1", 1.0) is None


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["add", "take", "one"]), st.floats(0.001, 50.0)), max_size=40))
def test_conservation_holds_for_any_sequence(ops):
    h = Holding("h", "n")
    lots = []
    taken = 0.0
    for i, (op, kg) in enumerate(ops):
        kg = kg3(kg)
        if op == "add" and kg > 0:
            lots.append(lot(f"L{i}", kg))
            h.add(lots[-1])
        elif op == "take":
            taken += sum(k for _, k in h.take("g1", kg))
        elif op == "one":
            got = h.take_one("g1", kg)
            taken += got[1] if got else 0.0
    for l in lots:
        assert l.remaining >= 0 and abs(l.received - l.moved - l.remaining) < 1e-6
    assert abs(sum(l.moved for l in lots) - taken) < 1e-6
