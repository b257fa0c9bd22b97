"""The problems a perfect detector should find in a simulated run, from its ledger (issue 14, item 5).

Contract: :func:`expected_problems` reads a ledger export once and returns, per problem kind asked for, the set
of :func:`problem_key` values that are true:

* every injected record-level fault naming that kind (``fault`` lines with ``kind``, ``subject``, ``day``:
  :mod:`.recordfaults`);
* ``silent-node`` also every (node, business day of the run) with no record uploaded at all, whatever the
  cause (a node with nothing to report, an outage lasting the day): the ledger knows what was uploaded;
* ``silent-scale`` also every registered scale of the city (regenerated from the header's preset and city seed)
  at a node of the rule's roles that uploaded something that day, whose operator (and stall) no uploaded sale
  record of the day names (platform.toml ``[scale_usage.sales]``: the platform's reading of "used");
* ``stock-imbalance`` only where the run exposes the understated entry: the batch's sales the node uploaded
  during the run exceed the recorded entry weight × (1 + tolerance) + tolerance_kg of the profile's rule (an
  understatement of a lot not yet sold past it is not yet visible in any data).  :func:`expected_problems`
  also returns the injected counts, so what was left out is reported, not hidden.
* ``certificate-overuse`` likewise only where the run exposes the understated head count: the weight of the
  uploaded ``meat_out_info_detail`` records whose product certificate the uploaded ``quarantine_info`` records
  link to that origin certificate alone exceeds recorded heads × the most meat per head × (1 + tolerance), the
  profile's rule (:func:`simulators.platform.problems.max_kg_per_head`); a meat-out record, which carries no date,
  counts only when first uploaded within the run (the platform dates it by its upload's day).
  A record's business day here is its true calendar day (a drifting clock near midnight may move a record's
  own date: a known, small source of disagreement).
* ``late-upload``: every (node, business day D) with a record that was first uploaded after the node's first
  upload of a record of a business day D + ``after_days`` … D + ``max_days`` (uploads in the order the uploader sends them:
  time, then record type, then date); a record's business day is the platform's: its own date field, else the
  envelope's DataDate (the simulated upload day).  ``injected`` counts the (node, day) with any record first
  uploaded after the day's deadline (end of day + ``grace_s``): the late uploads the data cannot show stay visible.
* ``trade-after-stop`` only where the run exposes the ignored order: the failed test of the stopped batch
  (``tested`` of the fault line) was uploaded after another record of the tester naming the batch (else the
  platform refuses it: the tester never received the batch, reason 2012), and the holder uploaded a sale record (the rule's
  ``record_types``) naming the lot's code as upstream (platform.toml ``receive`` fields) on a business day after
  the stop's (a lot sold out the same day shows nothing).

:func:`problem_key` is how a platform's flag and a true problem are matched: ``(kind, subject)``, plus the
business day for ``silent-node`` and ``silent-scale`` (one node or scale can be silent on several days).  Raises ``ValueError`` for a file
that is not a complete ledger.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

from .rates import DAY_S

_PLATFORM_TOML = Path(__file__).resolve().parents[1] / "platform" / "platform.toml"


def problem_key(kind: str, subject: str, day: str) -> tuple:
    return (kind, subject, day) if kind in ("silent-node", "silent-scale", "late-upload") else (kind, subject)


def run_days(header: dict) -> list[str]:
    """The business days (yyyyMMdd) a ledger's run covers."""
    start = dt.date.fromisoformat(header["start"])
    return [(start + dt.timedelta(days=i)).strftime("%Y%m%d") for i in range(int(header.get("days", 1)))]


def expected_problems(path: str | Path, kinds, rules=None) -> tuple[dict, dict[str, set], dict[str, int]]:
    """``(header, {kind: {problem_key…}}, {kind: injected faults})`` of the ledger at ``path`` (module docstring).

    ``rules``: the profile's problem rules (default: the reference profile's)."""
    kinds = list(kinds)
    roles_of = tomllib.loads(_PLATFORM_TOML.read_text("utf-8"))["node_roles"]
    if rules is None:
        from profiles import load_profile

        rules = load_profile().problems
    silent_roles = rules.kind("silent-node").get("node_roles", [])
    stock = rules.kind("stock-imbalance")
    out: dict[str, set] = {k: set() for k in kinds}
    injected: dict[str, int] = {k: 0 for k in kinds}
    understated: dict[str, tuple[str, float]] = {}  # subject -> (day, recorded kg)
    sold: dict[str, float] = {}  # node:batch -> kg of uploaded sale summaries
    fewer_heads: dict[str, tuple[str, int]] = {}  # node:certificate -> (day, recorded heads)
    origin_of: dict[tuple[str, str], set] = {}  # (node, product certificate) -> origin certificates
    meat_out: list[tuple] = []  # (node, product cert, meat code, kg, upload day) uploaded
    platform_rules = tomllib.loads(_PLATFORM_TOML.read_text("utf-8"))
    sales_spec = platform_rules["scale_usage"]["sales"]
    stop_sales = set(rules.kind("trade-after-stop").get("record_types", []))
    fail_values = set(platform_rules["stoptrade"]["fail_values"])
    failed: dict[tuple[str, str], float] = {}  # (tester, batch id) -> first upload of its failed test
    held: dict[tuple[str, str], float] = {}  # (node, batch id) -> first upload of another record naming it
    sold_on: set = set()  # (node, upstream code, day) of uploaded sale records of the trade-after-stop rule
    ignored: dict[str, tuple[str, str]] = {}  # node:code -> (stop day, tested batch)
    arrivals: dict[str, list[tuple]] = {}  # node -> [(first upload s, rtype, business day)] of uploaded records
    record_types = None
    used: set = set()  # (day, node, operator, stall or "")
    header, nodes, heard, lines, end = {}, {}, set(), 0, None
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if end is not None:
                raise ValueError(f"line {n}: data after the end line")
            try:
                o = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {n}: not JSON ({exc.msg})") from None
            k = o.get("k") if isinstance(o, dict) else None
            if k == "end":
                end = o
                continue
            lines += 1
            if k == "run":
                header = o
            elif k == "node":
                nodes[o["code"]] = o.get("city_type") or o.get("type")
            elif k == "record" and o.get("upload"):
                day = o["ts"][:10].replace("-", "")
                if "late-upload" in out:
                    if record_types is None:
                        from profiles import load_profile

                        record_types = load_profile(str(header.get("profile", "reference")).split("@")[0]).records
                    if o["type"] in record_types.types:  # what a platform receives (not device-level sales)
                        arrivals.setdefault(o["node"], []).append(
                            (min(o["upload"]), o["type"], _business_day(record_types, o, header))
                        )
                heard.add((o["node"], day))
                spec = sales_spec.get(o["type"])
                if spec:
                    op = o["data"].get(spec["seller"]) or ""
                    used.add((day, o["node"], op, o["data"].get(spec["stall"]) or "" if spec["stall"] else ""))
                    used.add((day, o["node"], op, None))
                at, first = (o["node"], o["data"].get("batch_id")), min(o["upload"])
                if o["type"] == "qmarket_detection_info" and o["data"].get("detection_result") in fail_values:
                    failed[at] = min(failed.get(at, first), first)
                elif at[1] and "trade-after-stop" in out:
                    held[at] = min(held.get(at, first), first)
                if o["type"] in stop_sales:
                    receive = platform_rules["records"].get(o["type"], {}).get("receive", [])
                    up = next((o["data"][f] for f in receive if o["data"].get(f)), None)
                    sold_on.add((o["node"], up, day))
                if o["type"] == "retail_market_tran_info_summ":
                    at = f"{o['node']}:{o['data'].get('batch_id')}"
                    sold[at] = sold.get(at, 0.0) + float(o["data"].get("weight") or 0)
                elif o["type"] == "quarantine_info" and o["data"].get("quarantine_animal_products_id"):
                    origin_of.setdefault((o["node"], o["data"]["quarantine_animal_products_id"]), set()).add(
                        o["data"].get("quarantine_id")
                    )
                elif o["type"] == "meat_out_info_detail":  # no date of its own: dated by its upload's day
                    meat_out.append(
                        (
                            o["node"],
                            o["data"].get("quarantine_animal_products_id") or "",
                            o["data"].get("meat_code") or "",
                            float(o["data"].get("weight") or 0),
                            int(min(o["upload"]) // DAY_S),
                        )
                    )
            elif k == "fault" and o.get("kind") in out:
                injected[o["kind"]] += 1
                if o["kind"] == "stock-imbalance":
                    understated[o["subject"]] = (o["day"], float(o["recorded"]))
                elif o["kind"] == "certificate-overuse":
                    fewer_heads[o["subject"]] = (o["day"], int(o["recorded"]))
                elif o["kind"] == "trade-after-stop":
                    ignored[o["subject"]] = (o["day"], o.get("tested", ""))
                else:
                    out[o["kind"]].add(problem_key(o["kind"], o["subject"], o["day"]))
    if not header:
        raise ValueError("no run header: not a roucai ledger")
    if end is None or end.get("lines") != lines:
        raise ValueError("no matching end line: the ledger is truncated (an interrupted run?)")
    if "stock-imbalance" in out:
        tol, tol_kg = float(stock.get("tolerance")), float(stock.get("tolerance_kg"))
        for subject, (day, recorded) in understated.items():
            if sold.get(subject, 0.0) > recorded * (1 + tol) + tol_kg:
                out["stock-imbalance"].add(problem_key("stock-imbalance", subject, day))
    if "late-upload" in out:
        _late(rules.kind("late-upload"), arrivals, header, out, injected)
    if "trade-after-stop" in out:
        # a test the platform accepts: the tester had sent a record naming the batch before (else refused, 2012)
        stopped = {b for (n, b), t in failed.items() if held.get((n, b), float("inf")) <= t}
        for subject, (day, tested) in ignored.items():
            node, code = subject.split(":", 1)
            if tested in stopped and any((node, code, d) in sold_on for d in run_days(header) if d > day):
                out["trade-after-stop"].add(problem_key("trade-after-stop", subject, day))
    if "certificate-overuse" in out:
        _exposed_overuse(
            rules.kind("certificate-overuse"), fewer_heads, origin_of, meat_out, int(header.get("days", 1)), out
        )
    if "silent-scale" in out:
        from profiles import load_profile
        from simulators.city import generate_city

        city = generate_city(
            header["preset"],
            int(header.get("city_seed", header["seed"])),
            load_profile(str(header.get("profile", "reference")).split("@")[0]),
        )
        scale_roles = rules.kind("silent-scale").get("node_roles", [])
        for day in run_days(header):
            for sc in city.scales:
                if (
                    roles_of.get(nodes.get(sc.node_code)) in scale_roles
                    and (sc.node_code, day) in heard
                    and (day, sc.node_code, sc.operator_code, sc.stall if sc.stall else None) not in used
                ):
                    out["silent-scale"].add(problem_key("silent-scale", sc.id, day))
    if "silent-node" in out:
        for day in run_days(header):
            for node, ctype in nodes.items():
                if roles_of.get(ctype) in silent_roles and (node, day) not in heard:
                    out["silent-node"].add(problem_key("silent-node", node, day))
    return header, out, injected


def _business_day(record_types, o: dict, header: dict) -> str:
    """The platform's business day of a ledger record: its type's date field, else the simulated upload day (the
    envelope's DataDate for types without one)."""
    rt = record_types.types.get(o["type"])
    got = rt.business_date(o["data"]) if rt is not None else None
    if got:
        return got
    start = dt.date.fromisoformat(header["start"])
    return (start + dt.timedelta(days=int(min(o["upload"]) // DAY_S))).strftime("%Y%m%d")


def _late(rule, arrivals: dict, header: dict, out: dict, injected: dict) -> None:
    """Add the (node, day) whose records arrived after the node's first record ``after_days`` later; count in
    ``injected`` every (node, day) with a record first uploaded after the day's deadline (module docstring)."""
    n = max(1, int(rule.get("after_days", 2)))
    top = max(n, int(rule.get("max_days", 7)))
    grace = float(rule.get("grace_s", 3600))
    start = dt.date.fromisoformat(header["start"])
    for node, items in arrivals.items():
        items.sort()
        late_days: set = set()
        first_at: dict[str, int] = {}  # business day -> position of the node's first record of it
        for i, (_u, _t, d) in enumerate(items):
            first_at.setdefault(d, i)
        for i, (u, _t, d) in enumerate(items):
            try:
                day = dt.date(int(d[:4]), int(d[4:6]), int(d[6:8]))
            except ValueError:
                continue
            if u > ((day - start).days + 1) * DAY_S + grace:
                late_days.add(d)
            later = (day + dt.timedelta(days=n)).strftime("%Y%m%d")
            latest = (day + dt.timedelta(days=top)).strftime("%Y%m%d")
            mark = min((p for dd, p in first_at.items() if later <= dd <= latest), default=None)
            if mark is not None and i > mark:
                out["late-upload"].add(problem_key("late-upload", node, d))
        injected["late-upload"] += len(late_days)


def _exposed_overuse(rule, fewer_heads: dict, origin_of: dict, meat_out: list, days: int, out: dict) -> None:
    """Add the understated intakes whose uploaded meat out outgrows the recorded heads (module docstring); a meat-out
    record counts when it was first uploaded within the run's ``days`` (its envelope's DataDate is its upload's
    simulated day, so a later one falls on a day detection never ran for)."""
    from simulators.platform.problems import max_kg_per_head

    table, tol = dict(rule.get("max_carcass_kg") or {}), float(rule.get("tolerance"))
    kg: dict[str, float] = {}
    bound: dict[str, float] = {}
    for node, product, goods, w, up_day in meat_out:
        linked = origin_of.get((node, product), set())
        if len(linked) == 1 and up_day < days:
            at = f"{node}:{next(iter(linked))}"
            kg[at] = kg.get(at, 0.0) + w
            bound[at] = max(bound.get(at, 0.0), max_kg_per_head(table, goods))
    for subject, (day, heads) in fewer_heads.items():
        if kg.get(subject, 0.0) > heads * bound.get(subject, 0.0) * (1 + tol) and bound.get(subject):
            out["certificate-overuse"].add(problem_key("certificate-overuse", subject, day))


def score(expected: set, flagged: set) -> dict:
    """Counts, precision and recall of ``flagged`` against ``expected`` (``None`` where undefined)."""
    hit = len(expected & flagged)
    return {
        "expected": len(expected),
        "flagged": len(flagged),
        "matched": hit,
        "precision": round(hit / len(flagged), 4) if flagged else None,
        "recall": round(hit / len(expected), 4) if expected else None,
        "missed": sorted(map(list, expected - flagged))[:20],
        "extra": sorted(map(list, flagged - expected))[:20],
    }
