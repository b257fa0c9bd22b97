"""Record-level faults: what a node gets wrong in the records it uploads, for problem discovery (issue 14).

Each switch has a rate in ``[0, 1]`` (``rates.toml [faults]``, default 0 so every default stream stays
byte-identical; ``[fault_sets.regulator]`` is the measured set).  A fault changes only the record as the
node uploads it: the ledger's lots and sales keep the truth, and one ``fault`` line per injected fault
names its problem ``kind`` (``profiles/reference/problems.toml``), ``subject`` and business ``day``
(yyyyMMdd), so ``roucai truth problems`` can match a platform's flags to it.

====================  =====================================================================================
name                  meaning of the rate, and the effect (problem kind; subject)
====================  =====================================================================================
silent_scale          chance per farmers' market stall scale per day that it records nothing that day: the
                      stall's sale summaries of the day are never uploaded (silent-scale; scale id)
silent_node           chance per retail, supermarket or canteen node per day that it uploads nothing of
                      that day (every record made that day keeps ``upload = []``) (silent-node; node; the
                      day is the true calendar day)
price_outlier         chance per farmers' market daily sale summary that its price is keyed wrong:
                      × or ÷ ``U(4, 8)`` (price-outlier; node:sale code)
duplicate_trace_code  chance per farmers' market sale summary that it reuses the sale code the node's
                      previous summary issued for another stall (duplicate-trace-code; code)
chain_break           chance per farmers' market entry batch (node, upstream code) that its entry records
                      name a mistyped code: the same operator, serial ``9`` + 6 random digits
                      (chain-break; node:mistyped code)
stock_imbalance       chance per farmers' market entry batch not already chain-broken that its entry
                      detail records ``U(0.2, 0.5)`` of the true weight (stock-imbalance; node:code)
certificate_overuse   chance per slaughterhouse intake (``animal_in_info``) that it records ``U(0.1, 0.3)`` of
                      the true head count (at least 1) in ``quarantine_num``: the meat out under its
                      certificate then outgrows the heads it certifies (certificate-overuse; node:certificate)
trade_after_stop      chance per farmers' market lot reached by a stop-trade order (a failed wholesale test,
                      :func:`~.wholesale.stop_trade`) that its holder ignores the order: the lot is neither
                      stopped nor withdrawn and is sold on as usual, its sales naming the stopped code
                      (trade-after-stop; node:lot code; the day of the stop).  Only sales on a later business
                      day show it (:mod:`.problemtruth`)
====================  =====================================================================================

Decisions use the same streams as :class:`~.faults.Faults` (``{seed}:fault:{name}:{subject}:{day}``):
switching one on never changes another switch's draws, nor the business flows.
"""

from __future__ import annotations

RECORD_SWITCHES = (
    "silent_node",
    "price_outlier",
    "duplicate_trace_code",
    "chain_break",
    "stock_imbalance",
    "silent_scale",
    "certificate_overuse",
    "trade_after_stop",
)
SILENT_ROLES = ("farmers_market", "supermarket", "shop", "canteen")
_SUMM = "retail_market_tran_info_summ"
_ENTRY = ("retail_market_in_info_base", "retail_market_in_info_detail")


class RecordFaults:
    """Applies the record-level switches; ``emit(name, **data)`` writes a ledger fault line; ``scales`` maps a
    farmers' market stall ``(node, stall number)`` to its traceability scale's id."""

    def __init__(self, faults, roles: dict[str, str], emit, scales: dict[tuple[str, str], str] | None = None):
        self.f = faults
        self.roles = roles  # node code -> role
        self.emit = emit
        self.scales = scales or {}
        self._quiet_scale: dict[tuple[str, int], bool] = {}
        self.active = any(faults.rate(n) > 0 for n in RECORD_SWITCHES)
        self._silent: dict[tuple[str, int], bool] = {}
        self._last_sale: dict[str, tuple[str, str]] = {}  # node -> (retailer, sale code)
        self._entry: dict[tuple[str, str], tuple[str, str | None]] = {}  # (node, code) -> (fault, mistyped)

    def silent(self, node: str, day: int, ymd: str) -> bool:
        """Whether ``node`` uploads nothing of ``day`` (decided once per node and day)."""
        key = (node, day)
        v = self._silent.get(key)
        if v is None:
            v = self.roles.get(node) in SILENT_ROLES and self.f._rng("silent_node", node, day).random() < self.f.rate(
                "silent_node"
            )
            self._silent[key] = v
            if v:
                self.emit("silent_node", node=node, kind="silent-node", subject=node, day=ymd)
        return v

    def scale_silent(self, rtype: str, node: str, data: dict, day: int, ymd: str) -> bool:
        """Whether this record is a sale summary of a stall whose scale records nothing that day."""
        if rtype != _SUMM or self.roles.get(node) != "farmers_market" or not self.f.rate("silent_scale"):
            return False
        scale = self.scales.get((node, data.get("position_id")))
        if scale is None:
            return False
        key = (scale, day)
        v = self._quiet_scale.get(key)
        if v is None:
            v = self._quiet_scale[key] = self.f._rng("silent_scale", scale, day).random() < self.f.rate("silent_scale")
            if v:
                self.emit(
                    "silent_scale",
                    node=node,
                    kind="silent-scale",
                    subject=scale,
                    day=ymd,
                    stall=data.get("position_id"),
                    operator=data.get("retailer_id"),
                )
        return v

    def ignores_stop(self, node: str, code: str, day: int, ymd: str, tested: str = "") -> bool:
        """Whether the holder ``node`` of the farmers' market lot ``code`` ignores a stop-trade order made on
        ``day`` after the failed test of batch ``tested`` (decided once per lot and day; a ledger fault line, naming
        the tested batch, when it does)."""
        rate = self.f.rate("trade_after_stop")
        if not rate or self.roles.get(node) != "farmers_market":
            return False
        if self.f._rng("trade_after_stop", f"{node}:{code}", day).random() >= rate:
            return False
        self.emit(
            "trade_after_stop", node=node, kind="trade-after-stop", subject=f"{node}:{code}", day=ymd, tested=tested
        )
        return True

    def apply(self, rtype: str, node: str, data: dict, day: int, ymd: str) -> dict:
        """The record as the node uploads it (``data`` itself when no fault hits it)."""
        if rtype == _SUMM:
            return self._summary(node, data, day, ymd)
        if rtype in _ENTRY and self.roles.get(node) == "farmers_market":
            return self._entry_fault(rtype, node, data, day, ymd)
        if rtype == "animal_in_info" and self.roles.get(node) == "slaughterhouse":
            return self._intake_fault(node, data, day, ymd)
        return data

    def _intake_fault(self, node: str, data: dict, day: int, ymd: str) -> dict:
        cert, heads = data.get("quarantine_id", ""), int(data.get("quarantine_num") or 0)
        r = self.f._rng("certificate_overuse", f"{node}:{cert}", day)
        if heads <= 1 or not self.f.rate("certificate_overuse") or r.random() >= self.f.rate("certificate_overuse"):
            return data
        recorded = str(max(1, int(heads * r.uniform(0.1, 0.3))))
        self.emit(
            "certificate_overuse",
            node=node,
            kind="certificate-overuse",
            subject=f"{node}:{cert}",
            day=ymd,
            heads=heads,
            recorded=recorded,
        )
        return {**data, "quarantine_num": recorded}

    def _summary(self, node: str, data: dict, day: int, ymd: str) -> dict:
        code = data.get("sale_tran_id", "")
        out = data
        r = self.f._rng("price_outlier", f"{node}:{code}", day)
        if self.f.rate("price_outlier") and r.random() < self.f.rate("price_outlier"):
            k = r.uniform(4.0, 8.0)
            price = float(data["price"])
            wrong = price * k if r.random() < 0.5 else price / k
            out = {**out, "price": f"{max(0.01, wrong):.2f}"}
            self.emit(
                "price_outlier",
                node=node,
                kind="price-outlier",
                subject=f"{node}:{code}",
                day=ymd,
                price=data["price"],
                recorded=out["price"],
            )
        prev = self._last_sale.get(node)
        r = self.f._rng("duplicate_trace_code", f"{node}:{code}", day)
        if (
            self.f.rate("duplicate_trace_code")
            and prev is not None
            and prev[0] != data.get("retailer_id")
            and r.random() < self.f.rate("duplicate_trace_code")
        ):
            out = {**out, "sale_tran_id": prev[1]}
            self.emit(
                "duplicate_trace_code",
                node=node,
                kind="duplicate-trace-code",
                subject=prev[1],
                day=ymd,
                instead_of=code,
            )
        else:
            self._last_sale[node] = (data.get("retailer_id", ""), code)
        return out

    def _entry_fault(self, rtype: str, node: str, data: dict, day: int, ymd: str) -> dict:
        code = data.get("batch_id") or data.get("tran_id") or ""
        key = (node, code)
        got = self._entry.get(key)
        if got is None:
            got = ("", None)
            r = self.f._rng("chain_break", f"{node}:{code}", day)
            if self.f.rate("chain_break") and r.random() < self.f.rate("chain_break"):
                wrong = f"{code[:13]}9{r.randrange(10**6):06d}"
                got = ("chain_break", wrong)
                self.emit(
                    "chain_break", node=node, kind="chain-break", subject=f"{node}:{wrong}", day=ymd, instead_of=code
                )
            else:
                r = self.f._rng("stock_imbalance", f"{node}:{code}", day)
                if self.f.rate("stock_imbalance") and r.random() < self.f.rate("stock_imbalance"):
                    got = ("stock_imbalance", f"{r.uniform(0.2, 0.5):.4f}")
            self._entry[key] = got
        fault, value = got
        if fault == "chain_break":
            return {**data, **{k: value for k in ("batch_id", "tran_id") if data.get(k) == code}}
        if fault == "stock_imbalance" and rtype.endswith("_detail") and data.get("weight"):
            true_kg = float(data["weight"])
            recorded = f"{true_kg * float(value):.3f}"
            self.emit(
                "stock_imbalance",
                node=node,
                kind="stock-imbalance",
                subject=f"{node}:{code}",
                day=ymd,
                kg=data["weight"],
                recorded=recorded,
            )
            return {**data, "weight": recorded}
        return data
