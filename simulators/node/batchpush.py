"""The day's entered batches, pushed to the operators' bound scales before trading (NODE-WHOL-05).

The node learns a batch from its own entry records (the handheld registrations in its outbox): the base
record names the operator (``wholesaler_id`` at a wholesale market, ``retailer_id`` at a retail market) and
the batch (``batch_id``); the detail with the same ``batch_id`` gives the commodity, the weight that entered
(kg, the quantity limit pushed to the scale) and, at retail, the price (yuan/kg).  The wholesale entry detail
has no price: the node pushes its configured ``[batches] default_price`` (the operator re-prices at the
scale); that choice is the reference node's (evidence ``profile``).

:class:`EntryBatches` reads those records incrementally (only outbox rows added since the last read) and is
shared by the scale workers; each :class:`~.collector.ScaleWorker` asks for its bound operator's batches whose
entry date (``in_date``, Beijing) is today or yesterday and loads (LOAD_BATCH, PERC-SCALE-07) those its
scale does not hold yet.  Entry records rejected by the node's checks (state ``invalid``) are ignored.
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from profiles.envelope import beijing

#: node role -> (entry base type, entry detail type, operator field of the base)
ENTRY = {
    "wholesale": ("market_in_info_base", "market_in_info_detail", "wholesaler_id"),
    "retail": ("retail_market_in_info_base", "retail_market_in_info_detail", "retailer_id"),
}
#: how many days back (Beijing dates) an entered batch is still pushed to a scale
PUSH_DAYS = 1


@dataclass(frozen=True)
class EntryBatch:
    batch: str
    operator: str
    commodity: str
    commodity_name: str
    limit_g: int  #: the weight that entered, in grams (> 0)
    price_fen: int | None  #: fen per kg from the entry record, ``None`` when it carries none
    in_date: str  #: yyyyMMdd


def scaled(text: str | None, factor: int) -> int | None:
    """``text`` (a plain decimal) times ``factor`` as an exact positive int; ``None`` if it is not one."""
    try:
        v = Decimal(text or "") * factor
    except InvalidOperation:
        return None
    return int(v) if v == v.to_integral_value() and v > 0 else None


class EntryBatches:
    """Batches the node has seen on its entry records.  Thread-safe; :meth:`refresh` reads new rows only.

    A base and its detail are paired by ``(batch_id, tran_id)``.  **Stall transfers** (NODE-RETL-01): an entry of a
    batch another operator of this node entered before, whose ``tran_id`` is a trace code issued by that operator
    (its 13-digit operator code first), is a transfer from that operator: the receiving operator's scales get the
    batch (same ``batch_id``) with the transferred weight as its limit, and the source's limit falls by it.
    """

    def __init__(self, outbox, role: str):
        self.outbox = outbox
        self.types = ENTRY.get(role)
        self._lock = threading.Lock()
        self._after = {t: 0 for t in (self.types or ())[:2]}
        self._bases: dict[str, list[tuple[str, str, str]]] = {}  #: batch -> [(operator, in_date, tran_id)]
        self._details: dict[tuple[str, str], dict] = {}  #: (batch, tran_id) -> its first detail
        self._order: list[str] = []

    def refresh(self) -> None:
        if not self.types:
            return
        base_t, det_t, op_field = self.types
        with self._lock:
            for rtype in (base_t, det_t):
                for row in self.outbox.rows_of_type(rtype, self._after[rtype]):
                    self._after[rtype] = row["id"]
                    rec = row["record"]
                    b = rec.get("batch_id")
                    if row["state"] == "invalid" or not b:
                        continue
                    tran = rec.get("tran_id", "")
                    if rtype == base_t and rec.get(op_field):
                        if b not in self._bases:
                            self._order.append(b)
                        holders = self._bases.setdefault(b, [])
                        if all(h[0] != rec[op_field] or h[2] != tran for h in holders):
                            holders.append((rec[op_field], rec.get("in_date", ""), tran))
                    elif rtype == det_t:
                        self._details.setdefault((b, tran), rec)

    def _weight(self, batch: str, tran: str) -> int | None:
        d = self._details.get((batch, tran))
        return scaled(d.get("weight"), 1000) if d else None

    def of_operator(self, operator: str, now: _dt.datetime) -> list[EntryBatch]:
        """The operator's pushable batches, in entry order: a base and its detail seen, entered today or
        yesterday (Beijing date of ``now``), a valid positive weight; the limit net of transfers out."""
        since = (beijing(now).date() - _dt.timedelta(days=PUSH_DAYS)).strftime("%Y%m%d")
        out = []
        with self._lock:
            for b in self._order:
                holders = self._bases[b]
                for op, day, tran in holders:
                    d = self._details.get((b, tran))
                    limit = self._weight(b, tran)
                    if op != operator or d is None or day < since or limit is None or not d.get("goods_code"):
                        continue
                    limit -= sum(
                        self._weight(b, t2) or 0
                        for (op2, _d2, t2) in holders
                        if op2 != operator and t2.startswith(operator)
                    )  # transferred out
                    if limit > 0:
                        out.append(
                            EntryBatch(
                                b, op, d["goods_code"], d.get("goods_name", ""), limit, scaled(d.get("price"), 100), day
                            )
                        )
                    break  # one line per batch and operator: its first entry
        return out
