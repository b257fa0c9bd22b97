"""A simulated business day of the city with known problems injected, for the problem-discovery tests (PLAT-PROB-*).

:class:`ProblemDay` runs the market model (the city's preset and seed, default faults) for :data:`PROBLEM_DAY`,
a day no other test uses, and changes what the nodes upload so that each detected kind of
``profiles/reference/problems.toml`` has a known case, chosen from the seed (the harness injects them from
outside the platform; the platform under test knows nothing of them):

* every 20-digit trace code's serial is moved up by :data:`SHIFT` (the day's codes never meet the session day's,
  which the model issues from the same serials: otherwise the same code would name two hand-overs);
* failed wholesale tests are left out (no stop-trade broadcast: other tests count instructions);
* ``chain-break``: one farmers' market entry batch names a mistyped code (serial ``9`` + 6 digits);
* ``stock-imbalance``: another entry batch, of which at least 2 kg were sold, records half of what was sold;
* ``duplicate-trace-code``: one stall's sale summary reuses another stall's sale code at the same market;
* ``silent-scale``: one farmers' market stall's sale summaries are left out (its scale recorded nothing); every
  registered scale of a reporting node (of the rule's roles) that no uploaded sale record names is silent too;
* ``silent-node``: one retail node's records are all left out; nodes with no record at all are silent too;
* ``price-outlier``: a stall of a farmers' market sells one commodity it has plenty of in eight small lines at
  the day's price, one of them keyed ×6;
* ``certificate-overuse``: one slaughterhouse intake (``animal_in_info``) records the most heads (at least 1,
  fewer than the truth) for which the day's meat out under product certificates linked to it alone still exceeds
  heads × the most meat per head × (1 + tolerance) of the profile's rule;
* ``trade-after-stop``: one vegetable batch of a wholesale market whose lines (the ledger's lot tree) were sold on
  by other nodes that day failed its test the day before (:attr:`ProblemDay.after`: the failed test record, dated
  :data:`STOP_DAY`, uploaded after the day, since the tester must hold the batch): every sale record of the rule's
  types at another node naming a code of the batch's tree is trade after the stop (subject node + code);
* ``late-upload``: one retail node's record of :data:`LATE_DAY` (the problem day + 2, a copy of one of its sales
  under a new code) is uploaded before everything else (:attr:`ProblemDay.before`), so all its records of the
  problem day arrive after it (subject: that node).

:attr:`ProblemDay.expected` is ``{kind: {subject}}`` (the subjects a conforming platform flags for the day and no
others); :meth:`ProblemDay.envelopes` gives what to upload.  Subjects follow ``problems.toml``.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import random
import tomllib
from collections import defaultdict
from pathlib import Path

PROBLEM_DAY = _dt.date(2025, 9, 1)
STOP_DAY = PROBLEM_DAY - _dt.timedelta(days=1)
LATE_DAY = PROBLEM_DAY + _dt.timedelta(days=2)
SHIFT = 5_000_000
_PLATFORM_TOML = Path(__file__).resolve().parents[1] / "simulators" / "platform" / "platform.toml"
_SUMM = "retail_market_tran_info_summ"
_ENTRY = ("retail_market_in_info_base", "retail_market_in_info_detail")


def _grams(kg) -> int:
    whole, _, frac = str(kg or "0").partition(".")
    return int(whole or 0) * 1000 + int((frac + "000")[:3])


class ProblemDay:
    def __init__(self, profile, city, preset: str, seed: int):
        from simulators.market import run_market

        self.p = profile
        self.date = PROBLEM_DAY.strftime("%Y%m%d")
        self.rng = random.Random(f"{seed}:problem-day")
        sink = io.StringIO()
        self.ledger = run_market(preset, seed=seed, start=PROBLEM_DAY, ledger_sink=sink, profile=profile)
        rules = tomllib.loads(_PLATFORM_TOML.read_text("utf-8"))
        fail = set(rules["stoptrade"]["fail_values"])
        objs = [json.loads(x) for x in sink.getvalue().splitlines()]
        self.records = [
            {"type": o["type"], "node": o["node"], "data": self._shift(o["data"])}
            for o in objs
            if o["k"] == "record"
            and o["type"] in profile.records.types
            and not (o["type"] == "qmarket_detection_info" and o["data"].get("detection_result") in fail)
        ]
        roles = rules["node_roles"]
        self.role = {n.code: roles.get(n.type) for n in city.nodes}
        self.city = city
        self.sales_spec = rules["scale_usage"]["sales"]
        self.receive = {t: r.get("receive", []) for t, r in rules["records"].items()}
        self.expected: dict[str, set] = defaultdict(set)
        self.before: list[tuple[str, str, list[dict], str]] = []  # (node, type, records, DataDate) sent first
        self.after: list[tuple[str, str, list[dict], str]] = []  # … sent after the day
        self._chain_break()
        self._stock()
        self._duplicate()
        self._price()
        self._quiet_scale()
        self._silent()
        self._silent_scales()
        self._overuse()
        self._stop()
        self._late()

    # -- helpers -------------------------------------------------------------------------
    def _shift(self, data: dict) -> dict:
        out = {}
        for k, v in data.items():
            if isinstance(v, str) and len(v) == 20 and v.isdigit() and self.p.codes.is_valid(v, "trace"):
                v = f"{v[:13]}{int(v[13:]) + SHIFT:07d}"
            out[k] = v
        return out

    def _retail(self, rtype: str) -> list[dict]:
        return [r for r in self.records if r["type"] == rtype and self.role.get(r["node"]) == "retail"]

    def _sold(self) -> dict[tuple[str, str], int]:
        sold: dict = defaultdict(int)
        for r in self._retail(_SUMM):
            sold[(r["node"], r["data"]["batch_id"])] += _grams(r["data"]["weight"])
        return sold

    def _entries(self) -> dict[tuple[str, str], list[dict]]:
        out: dict = defaultdict(list)
        for rtype in _ENTRY:
            for r in self._retail(rtype):
                out[(r["node"], r["data"].get("batch_id"))].append(r)
        return out

    # -- injections ----------------------------------------------------------------------
    def _chain_break(self) -> None:
        entries = self._entries()
        node, code = self.rng.choice(sorted(entries))
        wrong = f"{code[:13]}9{self.rng.randrange(10**6):06d}"
        for r in entries[(node, code)]:
            r["data"] = {**r["data"], **{k: wrong for k in ("batch_id", "tran_id") if r["data"].get(k) == code}}
        self.broken = (node, code)
        self.expected["chain-break"].add(f"{node}:{wrong}")

    def _stock(self) -> None:
        sold, entries = self._sold(), self._entries()
        pick = sorted(
            k
            for k in entries
            if sold.get(k, 0) >= 2000
            and k != self.broken
            and sum(1 for r in entries[k] if r["type"].endswith("_detail")) == 1
        )
        node, code = self.rng.choice(pick)
        det = next(r for r in entries[(node, code)] if r["type"].endswith("_detail"))
        g = sold[(node, code)] // 2
        det["data"] = {**det["data"], "weight": f"{g // 1000}.{g % 1000:03d}"}
        self.understated = (node, code)
        self.expected["stock-imbalance"].add(f"{node}:{code}")

    def _duplicate(self) -> None:
        by_node: dict = defaultdict(list)
        for r in self._retail(_SUMM):
            by_node[r["node"]].append(r)
        node = self.rng.choice(
            sorted(n for n, rs in by_node.items() if len({r["data"]["retailer_id"] for r in rs}) > 1)
        )
        rs = by_node[node]
        first = rs[0]
        second = next(r for r in rs if r["data"]["retailer_id"] != first["data"]["retailer_id"])
        code = first["data"]["sale_tran_id"]
        second["data"] = {**second["data"], "sale_tran_id": code}
        self.busy = {(r["node"], r["data"].get("position_id")) for r in (first, second)}
        self.expected["duplicate-trace-code"].add(code)

    def _price(self) -> None:
        sold, entries = self._sold(), self._entries()
        room = []
        for (node, code), recs in sorted(entries.items()):
            det = [r for r in recs if r["type"].endswith("_detail")]
            if (node, code) in (self.broken, self.understated) or len(det) != 1:
                continue
            left = _grams(det[0]["data"].get("weight")) - sold.get((node, code), 0)
            tmpl = next((r for r in self._retail(_SUMM) if r["node"] == node and r["data"]["batch_id"] == code), None)
            if left >= 3000 and tmpl is not None:
                room.append(tmpl)
        tmpl = self.rng.choice(room)
        self.busy.add((tmpl["node"], tmpl["data"].get("position_id")))
        node, base = tmpl["node"], tmpl["data"]
        odd = self.rng.randrange(8)
        for i in range(8):
            code = f"{base['sale_tran_id'][:13]}8{i:06d}"
            price = float(base["price"]) * (6 if i == odd else 1)
            self.records.append(
                {
                    "type": _SUMM,
                    "node": node,
                    "data": {
                        **base,
                        "sale_tran_id": code,
                        "position_id": f"P{i}",
                        "weight": "0.200",
                        "price": f"{price:.2f}",
                    },
                }
            )
            if i == odd:
                self.expected["price-outlier"].add(f"{node}:{code}")

    def _quiet_scale(self) -> None:
        bound = {(sc.node_code, sc.stall): sc.id for sc in self.city.scales if sc.stall}
        stalls = sorted(
            {(r["node"], r["data"].get("position_id")) for r in self._retail(_SUMM)}
            & set(bound) - self.busy - {(self.broken[0], None)}
        )
        node, stall = self.rng.choice(stalls)
        self.records = [
            r
            for r in self.records
            if not (r["type"] == _SUMM and r["node"] == node and r["data"].get("position_id") == stall)
        ]
        self.quiet_scale = bound[(node, stall)]
        self.busy.add((node, stall))

    def _silent_scales(self) -> None:
        roles = set(self.p.problems.kind("silent-scale").get("node_roles", []))
        reporting = {r["node"] for r in self.records}
        used = set()
        for r in self.records:
            spec = self.sales_spec.get(r["type"])
            if spec:
                op = r["data"].get(spec["seller"]) or ""
                used.add((r["node"], op, None))
                if spec["stall"]:
                    used.add((r["node"], op, r["data"].get(spec["stall"]) or ""))
        for sc in self.city.scales:
            if (
                self.role.get(sc.node_code) in roles
                and sc.node_code in reporting
                and (sc.node_code, sc.operator_code, sc.stall or None) not in used
            ):
                self.expected["silent-scale"].add(sc.id)
        assert self.quiet_scale in self.expected["silent-scale"]

    def _silent(self) -> None:
        covered = set(self.p.problems.kind("silent-node").get("node_roles", []))
        quiet = sorted(
            n
            for n, role in self.role.items()
            if role in ("retail", "supermarket", "canteen")
            and any(r["node"] == n for r in self.records)
            and n not in {self.broken[0], self.understated[0]} | {n for n, _ in self.busy}
        )
        gone = self.rng.choice(quiet)
        self.records = [r for r in self.records if r["node"] != gone]
        sending = {r["node"] for r in self.records}
        for n, role in self.role.items():
            if role in covered and n not in sending:
                self.expected["silent-node"].add(n)
        self.silenced = gone

    def _overuse(self) -> None:
        from simulators.platform.problems import max_kg_per_head

        rule = self.p.problems.kind("certificate-overuse")
        table, tol = dict(rule.get("max_carcass_kg") or {}), float(rule.get("tolerance"))
        origins: dict = defaultdict(set)
        for r in self.records:
            if r["type"] == "quarantine_info" and r["data"].get("quarantine_animal_products_id"):
                origins[(r["node"], r["data"]["quarantine_animal_products_id"])].add(r["data"].get("quarantine_id"))
        grams: dict = defaultdict(int)
        bound: dict = defaultdict(float)
        for r in self.records:
            linked = origins.get((r["node"], r["data"].get("quarantine_animal_products_id")), set())
            if r["type"] == "meat_out_info_detail" and len(linked) == 1:
                at = (r["node"], next(iter(linked)))
                grams[at] += _grams(r["data"].get("weight"))
                bound[at] = max(bound[at], max_kg_per_head(table, r["data"].get("meat_code")))
        room = []
        for r in self.records:
            at = (r["node"], r["data"].get("quarantine_id"))
            if r["type"] == "animal_in_info" and bound.get(at):
                per = bound[at] * 1000 * (1 + tol)
                heads = -(-grams[at] // int(per)) - 1  # the most heads the meat out still exceeds
                while heads >= 1 and grams[at] <= heads * per:
                    heads -= 1
                if 1 <= heads < int(r["data"].get("quarantine_num") or 0):
                    room.append((r, heads))
        r, heads = self.rng.choice(room)
        r["data"] = {**r["data"], "quarantine_num": str(heads)}
        self.expected["certificate-overuse"].add(f"{r['node']}:{r['data']['quarantine_id']}")

    def _stop(self) -> None:
        led = self.ledger
        stop_types = self.p.problems.kind("trade-after-stop").get("record_types", [])

        def code(v: str) -> str:
            return self._shift({"v": v})["v"]

        def upstream(r: dict) -> str | None:
            return next((r["data"][f] for f in self.receive.get(r["type"], []) if r["data"].get(f)), None)

        tests = {
            (r["node"], r["data"].get("batch_id")): r for r in self.records if r["type"] == "qmarket_detection_info"
        }
        room = []
        for lid, e in sorted(led.entries.items()):
            if e.get("kind") != "veg_batch" or (e["node"], code(lid)) not in tests:
                continue
            codes, todo = {code(lid)}, list(led.children.get(lid, []))
            while todo:
                c = led.entries[todo.pop()]
                if c["k"] == "lot" and c.get("kind") == "line":
                    codes.add(code(c["id"]))
                    todo.extend(led.children.get(c["id"], []))
            sales = {
                f"{r['node']}:{upstream(r)}"
                for r in self.records
                if r["type"] in stop_types and r["node"] != e["node"] and upstream(r) in codes
            }
            if sales:
                room.append((lid, e["node"], sales))
        lid, ws, sales = self.rng.choice(room)
        rec = {
            **tests[(ws, code(lid))]["data"],
            "sample_id": f"DSTOP{self.date}",
            "detection_date": STOP_DAY.strftime("%Y%m%d"),
            "detection_result": "0",
            "result_expl": "农药残留快速检测不合格（一致性测试）",
        }
        self.after.append((ws, "qmarket_detection_info", [rec], STOP_DAY.strftime("%Y%m%d")))
        self.stop_holders = {s.split(":", 1)[0] for s in sales}
        self.expected["trade-after-stop"] |= sales

    def _late(self) -> None:
        sellers = {r["node"] for r in self._retail(_SUMM)} - {self.silenced}
        taken = self.stop_holders | {n for n, _ in self.busy} | {self.broken[0], self.understated[0]}
        node = self.rng.choice(sorted(sellers - taken) or sorted(sellers))  # the tiny city has few markets
        tmpl = next(r["data"] for r in self._retail(_SUMM) if r["node"] == node)
        late = LATE_DAY.strftime("%Y%m%d")
        copy = {**tmpl, "sale_date": late, "sale_tran_id": f"{tmpl['sale_tran_id'][:13]}7{0:06d}", "weight": "0.100"}
        self.before.append((node, _SUMM, [copy], late))
        self.late_node = node
        self.expected["late-upload"].add(node)

    def envelopes(self, max_count: int) -> list[tuple[str, str, list[dict]]]:
        """``(node, record type, records)`` per node and type, chunks of at most ``max_count``."""
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in self.records:
            groups.setdefault((r["node"], r["type"]), []).append(r["data"])
        return [
            (n, t, recs[i : i + max_count]) for (n, t), recs in groups.items() for i in range(0, len(recs), max_count)
        ]
