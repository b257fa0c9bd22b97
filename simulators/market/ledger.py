"""Ground truth of a simulated market run: every record, lot and sale, and the chain graph.

The ledger is a sequence of JSON objects (one per line when exported), each with a
kind ``k``.  Times ``t`` are simulated seconds from 00:00 of the first day, rounded
to milliseconds; ``ts`` is the same instant as local clock text.

=========  ===========================================================================
``k``      meaning and fields
=========  ===========================================================================
run        header: preset, seed, dates, mode, profile, faults
node       a node: ``code, type, name, region``
lot        a node of the chain graph: ``id, kind, parent, node, holder, goods_code, kg``
           kinds: ``origin`` (farm/base) → ``intake`` (slaughter intake, live animals) →
           ``carcass`` (slaughter product) / ``veg_batch`` (vegetables entered at a
           wholesale market from an origin) → ``line`` (a traded line, with its trace code)
sale       a retail sale line: ``id`` (its trace code, or ``U…`` when no record exists),
           ``parent`` (the stall's lot), ``node, holder, goods_code, kg, price, traced``
record     a record as the node would upload it: ``type, node, data, upload`` (upload
           times; empty = never), ``stamp_offset_s`` (the node clock's error)
event      ``name`` in ``stop_trade, withdraw, spoil, stockout, end_stock`` with its data
fault      a fault injected: ``name, node`` and its parameters
end        trailer, the last line of a complete export: ``lines`` (the lines before it)
=========  ===========================================================================

An export without its ``end`` line (an interrupted or truncated file) is refused by
:meth:`Ledger.load`.

Queries (available live during a run and after :meth:`Ledger.load`):
:meth:`chain` (the true chain of a trace code, sale first, ending at an origin),
:meth:`totals` (kg per day × node × commodity, and per node type / commodity),
:meth:`kpis` (追溯秤使用率 and 追溯数据上报率, profile definitions in docs/market-model.md),
:meth:`conservation` (every lot: received = moved + withdrawn + spoiled + remaining).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import IO, Any, Iterator

#: node types whose retail sales count for 追溯秤使用率 and whose records for 追溯数据上报率
RETAIL_TYPES = ("farmers_market", "supermarket", "shop")
_CONSERVED = ("carcass", "veg_batch", "line")
_EPS = 0.0015


class Ledger:
    """Collects the truth; writes it as JSON lines to ``sink`` when given.

    :param sink: a text stream for the JSONL export (``None``: memory only).
    :param deadline_grace_s: a record counts as reported when first uploaded before the
        end of its business day plus this grace (profile definition of 上报).
    """

    def __init__(self, sink: IO[str] | None = None, deadline_grace_s: float = 3600.0):
        self.sink = sink
        self.grace = float(deadline_grace_s)
        self.header: dict = {}
        self.nodes: dict[str, dict] = {}
        self.entries: dict[str, dict] = {}  # lot and sale entries by id
        self.children: dict[str, list[str]] = defaultdict(list)
        self.events: list[dict] = []
        self.faults: list[dict] = []
        self.sales_by_stall: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # holder -> [all, traced]
        self.stall_node: dict[str, str] = {}
        self.records_by_node: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # [generated, on time, duplicates]
        self.records_by_type: dict[str, int] = defaultdict(int)
        self.hourly: dict[str, list[int]] = defaultdict(lambda: [0] * 24)  # node -> records per clock hour
        self.lines_written = 0
        self._dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode

    # -- writing -----------------------------------------------------------
    def _emit(self, obj: dict, text: str | None) -> None:
        if self.sink is not None:
            self.sink.write(text if text is not None else self._dumps(obj))
            self.sink.write("\n")
        self.lines_written += 1

    def add(self, obj: dict, text: str | None = None) -> None:
        """Take one ledger object (from the model, or a line read back) and index it.

        ``text`` is ``obj`` already serialised (the model shares it with the stream)."""
        k = obj["k"]
        if k == "sale":
            self._index_sale(obj)
        elif k == "record":
            self._index_record(obj)
        elif k == "lot":
            self.entries[obj["id"]] = obj
            if obj.get("parent"):
                self.children[obj["parent"]].append(obj["id"])
        elif k == "event":
            self.events.append(obj)
        elif k == "node":
            self.nodes[obj["code"]] = obj
        elif k == "fault":
            self.faults.append(obj)
        elif k == "run":
            self.header = obj
        self._emit(obj, text)

    def finish(self) -> None:
        """Write the trailer that marks the export complete (call once, after the run)."""
        self._emit({"k": "end", "lines": self.lines_written}, None)

    def _index_sale(self, obj: dict) -> None:
        self.entries[obj["id"]] = obj
        self.children[obj["parent"]].append(obj["id"])
        c = self.sales_by_stall[obj["holder"]]
        c[0] += 1
        if obj["traced"]:
            c[1] += 1
        self.stall_node[obj["holder"]] = obj["node"]

    def _index_record(self, obj: dict) -> None:
        node = obj["node"]
        c = self.records_by_node[node]
        c[0] += 1
        ups = obj.get("upload") or []
        deadline = (int(obj["t"] // 86400) + 1) * 86400 + self.grace
        if ups and ups[0] <= deadline:
            c[1] += 1
        if len(ups) > 1:
            c[2] += 1
        self.records_by_type[obj["type"]] += 1
        self.hourly[node][int(obj["t"] % 86400 // 3600)] += 1

    # -- reading -----------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Ledger":
        """Read an exported ledger back (raises ``OSError``/``ValueError`` on a bad file)."""
        led = cls()
        end = None
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"line {n}: not JSON ({exc.msg})") from None
                if not isinstance(obj, dict) or "k" not in obj:
                    raise ValueError(f"line {n}: not a ledger object")
                if end is not None:
                    raise ValueError(f"line {n}: data after the end line")
                if obj["k"] == "end":
                    end = obj
                    continue
                led.add(obj)
        if not led.header:
            raise ValueError("no run header: not a roucai ledger")
        if end is None:
            raise ValueError("no end line: the ledger is truncated (an interrupted run?)")
        if end.get("lines") != led.lines_written:
            raise ValueError(f"the end line counts {end.get('lines')} lines, the file has {led.lines_written}")
        led.grace = float(led.header.get("deadline_grace_s", led.grace))
        return led

    # -- queries -----------------------------------------------------------
    def chain(self, code: str) -> list[dict] | None:
        """The true chain of ``code`` (a sale or lot id): that entry first, the origin last.

        ``None`` when the ledger does not know the code.  The walk is bounded by the
        number of entries (no cycle can make it loop).
        """
        out, cur, seen = [], code, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            e = self.entries.get(cur)
            if e is None:
                return out or None
            out.append(e)
            cur = e.get("parent")
        return out

    def chain_ends(self, code: str) -> str | None:
        """Kind of the root the chain of ``code`` ends at (``origin`` when complete)."""
        ch = self.chain(code)
        return ch[-1].get("kind") if ch else None

    def sales(self, traced: bool | None = None) -> Iterator[dict]:
        for e in self.entries.values():
            if e["k"] == "sale" and (traced is None or e["traced"] == traced):
                yield e

    def node_type(self, node: str) -> str:
        return self.nodes.get(node, {}).get("type", "?")

    def totals(self) -> dict[str, Any]:
        """True kg moved, per day × node × commodity, and summed per node type and commodity.

        ``in`` = lots received by the node; ``out`` = lines and sales leaving it;
        ``sold`` = retail sales (consumers); all kg with 3 decimals.
        """
        per: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: {"in": 0.0, "out": 0.0, "sold": 0.0})))
        for e in self.entries.values():
            kind = e.get("kind")
            day = e.get("day", 0)
            if e["k"] == "sale":
                cell = per[day][e["node"]][e["goods_code"]]
                cell["out"] += e["kg"]
                cell["sold"] += e["kg"]
                continue
            if kind in ("carcass", "veg_batch", "line") and e.get("node"):
                per[day][e["node"]][e["goods_code"]]["in"] += e["kg"]
            if kind == "line" and e.get("from_node"):
                per[day][e["from_node"]][e["goods_code"]]["out"] += e["kg"]
        by_type: dict = defaultdict(lambda: {"in": 0.0, "out": 0.0, "sold": 0.0})
        by_goods: dict = defaultdict(lambda: {"in": 0.0, "out": 0.0, "sold": 0.0})
        days: dict = {}
        for day, nodes in sorted(per.items()):
            dd = days.setdefault(str(day), {})
            for node, goods in sorted(nodes.items()):
                nd = dd.setdefault(node, {})
                for g, cell in sorted(goods.items()):
                    nd[g] = {k: round(v, 3) for k, v in cell.items()}
                    for key in cell:
                        by_type[self.node_type(node)][key] += cell[key]
                        by_goods[g][key] += cell[key]
        rnd = lambda d: {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in sorted(d.items())}
        return {"days": days, "by_node_type": rnd(by_type), "by_commodity": rnd(by_goods)}

    def hourly_by_node_type(self) -> dict[str, list[int]]:
        """Records made per local clock hour (0..23, summed over days), per node type."""
        out: dict[str, list[int]] = {}
        for node, counts in self.hourly.items():
            row = out.setdefault(self.node_type(node), [0] * 24)
            for h, c in enumerate(counts):
                row[h] += c
        return dict(sorted(out.items()))

    def kpis(self) -> dict[str, Any]:
        """True 追溯秤使用率 and 追溯数据上报率 (profile definitions; docs/market-model.md).

        * 追溯秤使用率 ``scale_usage``: retail sale lines recorded by a traceability
          scale ÷ all retail sale lines (``overall``), and the mean of that ratio over
          stalls with at least one sale (``stall_mean``).
        * 追溯数据上报率 ``upload_rate``: records first uploaded by the deadline (end of
          the record's business day + grace) ÷ records generated, at farmers' markets,
          shops and supermarkets (``overall``), the mean over those nodes
          (``node_mean``), and per node type.
        """
        all_s = sum(c[0] for c in self.sales_by_stall.values())
        traced = sum(c[1] for c in self.sales_by_stall.values())
        stall_rates = [c[1] / c[0] for c in self.sales_by_stall.values() if c[0]]
        per_type: dict = defaultdict(lambda: [0, 0, 0])
        node_rates = []
        for node, c in self.records_by_node.items():
            t = self.node_type(node)
            for i in range(3):
                per_type[t][i] += c[i]
            if t in RETAIL_TYPES and c[0]:
                node_rates.append(c[1] / c[0])
        gen = sum(per_type[t][0] for t in RETAIL_TYPES)
        ok = sum(per_type[t][1] for t in RETAIL_TYPES)
        r = lambda a, b: round(a / b, 4) if b else None
        return {
            "scale_usage": {
                "overall": r(traced, all_s),
                "stall_mean": r(sum(stall_rates), len(stall_rates)),
                "sales": all_s,
                "traced": traced,
                "untraceable": all_s - traced,
            },
            "upload_rate": {
                "overall": r(ok, gen),
                "node_mean": r(sum(node_rates), len(node_rates)),
                "records": gen,
                "on_time": ok,
                "by_node_type": {
                    t: {"records": c[0], "on_time": c[1], "duplicated": c[2], "rate": r(c[1], c[0])}
                    for t, c in sorted(per_type.items())
                },
            },
        }

    def conservation(self) -> list[str]:
        """Lots whose received kg ≠ moved + withdrawn + spoiled + remaining (empty = all hold)."""
        moved: dict[str, float] = defaultdict(float)
        for parent, kids in self.children.items():
            for kid in kids:
                e = self.entries[kid]
                if e["k"] == "sale" or e.get("kind") == "line":
                    moved[parent] += e["kg"]
        extra: dict[str, float] = defaultdict(float)
        for ev in self.events:
            if ev["name"] in ("withdraw", "spoil", "end_stock", "consume"):
                extra[ev["lot"]] += ev["kg"]
        bad = []
        for lid, e in self.entries.items():
            if e.get("kind") in _CONSERVED:
                got = moved[lid] + extra[lid]
                if abs(got - e["kg"]) > _EPS:
                    bad.append(f"{lid}: received {e['kg']:.3f} kg, accounted {got:.3f} kg")
        return bad

    def summary(self) -> dict[str, Any]:
        """Counts for the closing summary: records per node type and record type, tonnage, faults."""
        rec_by_type: dict = defaultdict(int)
        for node, c in self.records_by_node.items():
            rec_by_type[self.node_type(node)] += c[0]
        tons: dict = defaultdict(float)
        for e in self.entries.values():
            if e["k"] == "sale":
                tons[e.get("category", e["goods_code"])] += e["kg"] / 1000.0
        faults: dict = defaultdict(int)
        for f in self.faults:
            faults[f["name"]] += 1
        stops = sum(1 for e in self.events if e["name"] == "stop_trade")
        return {
            "records_by_node_type": dict(sorted(rec_by_type.items())),
            "records_by_type": dict(sorted(self.records_by_type.items())),
            "retail_tonnes_by_category": {k: round(v, 3) for k, v in sorted(tons.items())},
            "faults": dict(sorted(faults.items())),
            "stop_trades": stops,
            "kpis": self.kpis(),
        }
