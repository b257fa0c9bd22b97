"""Inventory of goods held by operators, as lots (the unit of traceability).

A :class:`Lot` is an amount of one commodity, received by one holder (an
operator code), identified by ``ref``: the trace code of the line that brought it
(or the intake certificate at a slaughterhouse, or the entry batch id of
vegetables from an origin).  Lots are drawn first-in first-out.

Conservation, per lot: ``received == moved_out + withdrawn + spoiled + remaining``
(kilograms, kept as floats rounded to grams at every step, so the ledger's totals
reproduce exactly from the records).  Nothing here goes below zero: a request larger
than what is held is cut to what is held (``take``) and the caller decides.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


def kg3(x: float) -> float:
    """Round to grams (the records' 3 decimals)."""
    return round(x + 0.0, 3)


@dataclass(slots=True)
class Lot:
    ref: str
    goods_code: str
    holder: str  #: operator code
    node: str  #: node code of the holder
    received: float  #: kg
    remaining: float  #: kg
    parent: str | None  #: the lot (or certificate) this came from
    cert: dict = field(default_factory=dict)  #: certificates carried along (animal products, meat inspection, vege)
    origin: dict = field(default_factory=dict)  #: area_origin_id/name, base_name
    supplier: tuple[str, str] | None = None  #: (ws_supplier_id, ws_supplier_name)
    day_in: int = 0  #: simulated day index the lot was made
    price: float = 0.0  #: yuan/kg paid for it (lines)
    stopped: bool = False  #: under a stop-trade order
    moved: float = 0.0
    withdrawn: float = 0.0
    spoiled: float = 0.0


class Holding:
    """The lots one operator holds, per commodity, in arrival order."""

    __slots__ = ("holder", "node", "lots")

    def __init__(self, holder: str, node: str):
        self.holder = holder
        self.node = node
        self.lots: dict[str, deque[Lot]] = {}

    def add(self, lot: Lot) -> None:
        self.lots.setdefault(lot.goods_code, deque()).append(lot)

    def available(self, goods_code: str) -> float:
        q = self.lots.get(goods_code)
        return kg3(sum(l.remaining for l in q if not l.stopped)) if q else 0.0

    def goods(self) -> list[str]:
        """Commodities with something sellable, in code order."""
        return sorted(g for g, q in self.lots.items() if any(l.remaining > 0 and not l.stopped for l in q))

    def first_lot(self, goods_code: str) -> Lot | None:
        """The oldest sellable lot of ``goods_code`` (empties are dropped on the way)."""
        q = self.lots.get(goods_code)
        while q:
            lot = q[0]
            if lot.remaining > 0 and not lot.stopped:
                return lot
            q.popleft()
        return None

    def take(self, goods_code: str, kg: float, max_pieces: int = 50) -> list[tuple[Lot, float]]:
        """Draw up to ``kg`` FIFO over lots; returns ``[(lot, kg)]`` (may total less)."""
        out: list[tuple[Lot, float]] = []
        want = kg3(kg)
        while want > 0 and len(out) < max_pieces:
            lot = self.first_lot(goods_code)
            if lot is None:
                break
            part = kg3(min(lot.remaining, want))
            if part <= 0:
                break
            lot.remaining = kg3(lot.remaining - part)
            lot.moved = kg3(lot.moved + part)
            out.append((lot, part))
            want = kg3(want - part)
        return out

    def take_one(self, goods_code: str, kg: float) -> tuple[Lot, float] | None:
        """Draw from the oldest lot only, at most what it holds (a retail sale)."""
        lot = self.first_lot(goods_code)
        if lot is None:
            return None
        part = kg3(min(lot.remaining, kg))
        if part <= 0:
            return None
        lot.remaining = kg3(lot.remaining - part)
        lot.moved = kg3(lot.moved + part)
        return lot, part

    def all_lots(self):
        for q in self.lots.values():
            yield from q
