"""Deliberately broken reference platforms, installed from outside: one named fault, one broken requirement.

They exist only to prove that the conformance suites can fail: ``conformance/variants.toml`` lists each
(actor ``city_platform``) with the requirement it breaks, and ``tests/conformance/test_variants.py`` runs the
suites against each and requires a failing test that names that requirement.  The reference platform holds no
fault and reads no switch: a fault is applied the way pymodbus tests do it, by the test, through the platform's
public seams (the :class:`~simulators.platform.app.Services` it is built from: their public methods and
attributes, ``Ingestor.gate`` / ``commit`` / ``answer``, ``FeedPusher.rows``, ``Services.time_answer`` /
``trace_page``; the stdlib logger; ``FastAPI.openapi``).  :mod:`.platform_variant` serves a platform with one
fault installed.

A fault has up to two stages: ``services`` (called with the services before the app is built, so that a
size limit, for instance, reaches the middleware) and ``app`` (called with the built FastAPI app).
Each changes behaviour only in the process that installed it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import logging
import re
import threading
import time
import uuid
from typing import Callable

from profiles.errors import RoucaiError
from profiles.xmlsafe import Limits
from simulators.platform import logs

_SERVICES: dict[str, Callable] = {}
_APP: dict[str, Callable] = {}


class UnknownFault(RoucaiError):
    """No fault of that name (a usage error, exit 2)."""

    exit_code = 2


def switch(name: str):
    """Register ``fn(svc)`` as the services stage of fault ``name``."""

    def deco(fn):
        _SERVICES[name] = fn
        return fn

    return deco


def app_switch(name: str):
    """Register ``fn(app)`` as the app stage of fault ``name``."""

    def deco(fn):
        _APP[name] = fn
        return fn

    return deco


def names() -> list[str]:
    return sorted({*_SERVICES, *_APP})


def check(name: str) -> None:
    """:class:`UnknownFault` unless ``name`` is a fault of this catalogue."""
    if name not in _SERVICES and name not in _APP:
        raise UnknownFault(f"未知的平台缺陷 {name!r}", f"unknown platform fault {name!r}")


def install_services(name: str, svc) -> None:
    """Break ``svc`` the way fault ``name`` says (before the app is built); :class:`UnknownFault` if unknown."""
    check(name)
    logs.event(
        "broken_variant",
        logging.WARNING,
        variant=name,
        msg="deliberately broken platform for conformance proofs; not for use",
    )
    _SERVICES.get(name, lambda svc: None)(svc)


def install_app(name: str, app) -> None:
    """Break the built ``app`` the way fault ``name`` says (most faults have no app stage)."""
    check(name)
    _APP.get(name, lambda app: None)(app)


# -- helpers ---------------------------------------------------------------------
def _spec_copy(svc):
    """A private copy of the ingestor's envelope spec, so that wrappers on it touch nothing else."""
    spec = copy.copy(svc.ingestor.spec)
    svc.ingestor.spec = spec
    return spec


def _drop_findings(envelope: Callable = None, record: Callable = None, rewrite: Callable = None, **parse_kw):
    """A switch that parses as usual, then forgets the findings the predicates select."""

    def install(svc):
        spec = _spec_copy(svc)
        real = spec.parse

        def parse(data, *a, **kw):
            res = real(rewrite(data) if rewrite else data, *a, **{**kw, **parse_kw})
            if envelope:
                res.findings[:] = [f for f in res.findings if not envelope(f)]
            if record:
                for rf in res.record_findings:
                    rf[:] = [f for f in rf if not record(f)]
            return res

        spec.parse = parse

    return install


def _rule(rule: str, field: str | None = None):
    return lambda f: f.rule == rule and (field is None or f.field == field)


# -- envelope checks (transmission suite, the platform as the receiving server) ----------------
switch("accepts-unknown-envelope-elements")(
    _drop_findings(envelope=lambda f: f.rule == "TRAN-ENV-01" and f.en.startswith("unknown element"))
)
switch("accepts-bad-requesttime-format")(_drop_findings(envelope=_rule("TRAN-ENV-03")))
switch("accepts-stale-requesttime")(_drop_findings(envelope=_rule("TRAN-ENV-04")))
switch("accepts-bad-verifycode")(_drop_findings(envelope=_rule("TRAN-ENV-05", "VerifyCode")))


@switch("accepts-unregistered-nodes")
def _accepts_unregistered(svc):
    real_gate = svc.ingestor.gate  # the streaming gate refuses an unknown NodeId before the parse: skip that check
    svc.ingestor.gate = lambda spec, data, key_of=None, *a: real_gate(spec, data, None, *a)
    _drop_findings(envelope=_rule("TRAN-ENV-05", "NodeId"))(svc)


switch("ignores-index")(_drop_findings(envelope=_rule("TRAN-ENV-06")))
switch("ignores-count")(_drop_findings(envelope=_rule("TRAN-ENV-07")))
switch("ignores-datadate")(_drop_findings(envelope=_rule("TRAN-ENV-08"), record=_rule("TRAN-ENV-08")))
# records: each switch forgets one rule's findings
for _name, _r in (
    ("accepts-unknown-fields", "TRAN-REC-01"),
    ("accepts-missing-required-fields", "TRAN-REC-02"),
    ("accepts-malformed-fields", "TRAN-REC-03"),
    ("accepts-wrong-decimals", "TRAN-REC-04"),
    ("accepts-meat-without-certificates", "TRAN-REC-05"),
    ("accepts-invalid-codes-in-records", "TRAN-REC-06"),
    ("accepts-impossible-dates", "TRAN-REC-07"),
):
    switch(_name)(_drop_findings(record=_rule(_r)))


@switch("rejects-practice-forms")
def _rejects_practice_forms(svc):
    """Every recommended finding counts as an error: records in forms practice sends (a locally generated batch id,
    a stall number outside the profile's pattern, free-text results) are rejected (breaks TRAN-REC-08)."""
    spec = _spec_copy(svc)
    real = spec.parse

    def parse(data, *a, **kw):
        res = real(data, *a, **kw)
        for rf in res.record_findings:
            rf[:] = [dataclasses.replace(f, severity="error") for f in rf]
        return res

    spec.parse = parse


_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[(?P<subset>.*?)\])?\s*>", re.S)
_ENTITY = re.compile(rb"""<!ENTITY\s+(\w+)\s+["']([^"'&<]{0,200})["']\s*>""")


def _strip_dtd(data: bytes) -> bytes:
    """Drop the DOCTYPE and expand its simple internal entities once (what a careless parser does)."""
    m = _DOCTYPE.search(data[:65536])
    if not m:
        return data
    ents = dict(_ENTITY.findall(m.group("subset") or b""))
    body = data[: m.start()] + data[m.end() :]
    for k, v in list(ents.items())[:50]:
        body = body.replace(b"&" + k + b";", v)
    return body


_GBK_DECL = re.compile(rb"""(<\?xml[^>]*encoding\s*=\s*["'])(gbk|gb2312|gb18030)(["'])""", re.I)


def _utf8_if_it_decodes(data: bytes) -> bytes:
    """Believe the bytes, not the declaration: UTF-8 sent as "GBK" is read as UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return _GBK_DECL.sub(rb"\1UTF-8\3", data[:200], count=1) + data[200:]


switch("accepts-dtd")(_drop_findings(rewrite=_strip_dtd))
switch("guesses-encoding")(_drop_findings(rewrite=_utf8_if_it_decodes))


@switch("no-size-limit")
def _no_size_limit(svc):
    big = 512 * 1024 * 1024
    svc.max_body = big
    spec = _spec_copy(svc)
    spec.limits = Limits(max_bytes=big, max_depth=10_000, max_elements=50_000_000)


@switch("no-per-record-verdicts")
def _no_verdicts(svc):
    spec = _spec_copy(svc)
    real = spec.build_response
    spec.build_response = lambda resp, fmt="xml": real(dataclasses.replace(resp, results=[]), fmt)


@switch("accepts-replays")
def _accepts_replays(svc):
    real = svc.ingestor.ingest

    def ingest(data):
        with svc.store.write() as tx:  # forgets every envelope it has received
            tx.execute("DELETE FROM requests")
        return real(data)

    svc.ingestor.ingest = ingest


@switch("stores-duplicates")
def _stores_duplicates(svc):
    real = svc.recmap.facts
    svc.recmap.facts = lambda *a: dataclasses.replace(real(*a), rkey=uuid.uuid4().hex)


# -- platform functions --------------------------------------------------------------
@switch("refuses-team-buy-records")
def _refuses_team_buy(svc):
    real = svc.ingestor.ingest

    def ingest(data):
        if b"team_buy_acceptance_info" in data:
            return svc.ingestor.refuse("1106", "json" if data.lstrip()[:1] == b"{" else "xml")
        return real(data)

    svc.ingestor.ingest = ingest


@switch("drops-every-100th-record")
def _drops(svc):
    real = svc.ingestor.commit
    seen = [0]

    def commit(node, res, rtype, rows, *extra):
        kept = []
        for row in rows:
            seen[0] += 1
            if seen[0] % 100:
                kept.append(row)
        return real(node, res, rtype, kept, *extra)  # the dropped record is still answered "accepted"

    svc.ingestor.commit = commit


@switch("double-counts-duplicates")
def _double_counts(svc):
    real = svc.ingestor.commit

    def commit(node, res, rtype, rows, *extra):
        duplicates, conflicts = real(node, res, rtype, rows, *extra)
        with svc.store.write() as tx:
            for pos, _rec, facts, ddate in rows:
                if pos in duplicates:
                    tx.execute(
                        "UPDATE daily_stats SET records = records + 1, weight_g = weight_g + ? WHERE"
                        " node_id = ? AND data_date = ? AND rtype = ? AND goods_code = ?",
                        (facts.weight_g or 0, node, ddate, rtype, facts.goods_code or ""),
                    )
        return duplicates, conflicts

    svc.ingestor.commit = commit


@switch("loses-data-on-restart")
def _write_behind(svc):
    real = svc.ingestor.commit

    def commit(node, res, rtype, rows, *extra):
        t = threading.Timer(30.0, real, (node, res, rtype, rows, *extra))  # answers before anything is committed
        t.daemon = True
        t.start()
        return set(), set()

    svc.ingestor.commit = commit


@switch("overwrites-records")
def _overwrites(svc):
    real = svc.ingestor.commit

    def commit(node, res, rtype, rows, *extra):
        with svc.store.write() as tx:  # a changed record silently replaces the stored one
            for _pos, _rec, facts, _d in rows:
                tx.execute(
                    "DELETE FROM records WHERE node_id = ? AND rtype = ? AND rkey = ?", (node, rtype, facts.rkey)
                )
        return real(node, res, rtype, rows, *extra)

    svc.ingestor.commit = commit


@switch("accepts-other-nodes-records")
def _foreign(svc):
    real = svc.recmap.facts
    svc.recmap.facts = lambda *a: dataclasses.replace(real(*a), foreign=None)


@switch("accepts-unregistered-operators")
def _unregistered_operators(svc):
    svc.registry.unregistered_operators = lambda codes: set()  # never looks operators up


@switch("leaks-internals")
def _leaks(svc):
    real = svc.ingestor.answer

    def answer(resp, fmt, status, node):
        if resp.code != "0000":
            resp.message += (
                ' Traceback (most recent call last): File "/srv/roucai/simulators/platform/ingest.py",'
                " line 131, in ingest: sqlite3.OperationalError"
            )
        return real(resp, fmt, status, node)

    svc.ingestor.answer = answer


@switch("no-operating-logs")
def _silent(svc):
    logging.getLogger(logs.LOGGER).addFilter(lambda record: False)  # every event dropped (the start-up line is not
    # an event: logs.always reaches the handlers directly, so harnesses still learn the port)


@app_switch("openapi-incomplete")
def _openapi(app):
    real = app.openapi

    def openapi():
        doc = real()
        doc["paths"].pop("/api/v1/trace/{code}", None)
        return doc

    app.openapi = openapi


# -- trace ------------------------------------------------------------------------
_WHOLESALE = ("market_in_info", "market_tran_info", "qmarket_detection_info")


@switch("trace-skips-wholesale-hop")
def _skip_wholesale(svc):
    real = svc.tracer.trace

    def trace(code):
        ans = real(code)
        ans["chain"] = [
            h for h in ans.get("chain", []) if not (h.get("records") and h["records"][0]["type"].startswith(_WHOLESALE))
        ]
        return ans

    svc.tracer.trace = trace


def _page_wrapper(change: Callable):
    def install(svc):
        real = svc.trace_page
        svc.trace_page = lambda ans, code="", lang="zh": real(*change(ans, code, lang))

    return install


switch("trace-page-drops-origin")(
    _page_wrapper(
        lambda ans, code, lang: (
            ans
            if not ans
            else {**ans, "chain": [h for h in ans.get("chain", []) if h["kind"] not in ("origin", "intake")]},
            code,
            lang,
        )
    )
)
switch("trace-page-english-only")(_page_wrapper(lambda ans, code, lang: (ans, code, "en")))


@switch("trace-invalid-code-500")
def _invalid_500(svc):
    real = svc.tracer.trace

    def trace(code):
        ans = real(code)
        if ans["status"] == "invalid":
            raise ValueError("code does not parse")
        return ans

    svc.tracer.trace = trace


# -- time service -------------------------------------------------------------------------
def _time_wrapper(change: Callable):
    def install(svc):
        real = svc.time_answer
        svc.time_answer = lambda ms: change(real, ms)

    return install


# UTC wall time labelled as Beijing time (the 8-hour mistake)
switch("time-service-utc")(_time_wrapper(lambda real, ms: real(ms - 8 * 3_600_000)))
# whole seconds only, written with a 000 millisecond part
switch("time-service-no-milliseconds")(_time_wrapper(lambda real, ms: real(ms - ms % 1000)))


# -- monitoring, stop-trade, statistics, feed ------------------------------------------------
@switch("no-offline-status")
def _never_offline(svc):
    svc.monitor.offline_after_ms = 10**15


@switch("stop-trade-undelivered")
def _undelivered(svc):
    svc.stoptrade.max_codes = 1  # stops the tested batch, never the codes issued from it


@switch("ignores-stop-trade-acks")
def _ignores_acks(svc):
    def ack(tx, node, instruction_id, now):
        row = tx.one("SELECT 1 FROM stop_instructions WHERE id = ? AND node_id = ?", (instruction_id, node))
        return "unknown" if row is None else "acked"  # answers, records nothing

    svc.stoptrade.ack = ack


@switch("no-stop-ack-alert")
def _no_alert(svc):
    def flag_overdue(items, now, deadline_ms):  # never raises the alert
        for i in items:
            i["overdue"] = False
        return 0

    svc.stoptrade.flag_overdue = flag_overdue


@switch("wrong-kpi")
def _wrong_kpi(svc):
    real = svc.stats.kpis

    def kpis(date):
        k = real(date)
        for r in [k["report_rate"], *k["report_rate"]["by_role"].values()]:
            r["nodes"] = r["reporting"]  # counts only the nodes that reported
            r["rate" if "rate" in r else "overall"] = 1.0 if r["reporting"] else None
        return k

    svc.stats.kpis = kpis


@switch("scale-usage-quarter-overruns")
def _quarter_overruns(svc):
    real = svc.stats.scale_usage

    def usage(first, last):  # "up to the first day of the next quarter", inclusive
        if first != last:
            last = (dt.datetime.strptime(last, "%Y%m%d") + dt.timedelta(days=1)).strftime("%Y%m%d")
        return real(first, last)

    svc.stats.scale_usage = usage


@switch("scale-usage-counts-sellers")
def _counts_sellers(svc):
    real = svc.stats.scale_usage

    def usage(first, last):  # "used" = sellers seen, whatever scale (or none) they stand at
        out = real(first, last)
        with svc.store.read() as tx:
            n = tx.scalar(
                "SELECT COUNT(*) FROM (SELECT DISTINCT node_id, operator_id, stall FROM seller_days"
                " WHERE data_date >= ? AND data_date <= ?) x",
                (first, last),
            )
        o = out["overall"]
        o["used"], o["rate"] = n, (round(n / o["scales"], 4) if o["scales"] else None)
        return out

    svc.stats.scale_usage = usage


@switch("node-usage-ignores-quarter")
def _usage_all_time(svc):
    real = svc.stats.quarter_kpis

    def quarter_kpis(quarter):  # "uploading" = ever uploaded, whatever the business date
        out = real(quarter)
        with svc.store.read() as tx:
            rows = tx.all(
                "SELECT n.node_type, COUNT(DISTINCT s.node_id) FROM daily_stats s JOIN nodes n"
                " ON n.node_id = s.node_id WHERE n.status = 'active' GROUP BY n.node_type"
            )
        for ntype, n in rows:
            u = out["by_node_type"].get(ntype, {}).get("usage")
            if u and u["registered"]:
                u["uploading"], u["rate"] = n, round(n / u["registered"], 4)
        return out

    svc.stats.quarter_kpis = quarter_kpis


@switch("coverage-ignores-enterprises")
def _coverage_full(svc):
    real = svc.stats.quarter_kpis

    def quarter_kpis(quarter):  # registered ÷ registered: always 100 %
        out = real(quarter)
        for v in out["by_node_type"].values():
            c = v["coverage"]
            c["rate"] = 1.0 if c["registered"] else None
        rates = [v["coverage"]["rate"] for v in out["by_node_type"].values() if v["coverage"]["rate"] is not None]
        out["composite"]["coverage"] = round(sum(rates) / len(rates), 4) if rates else None
        return out

    svc.stats.quarter_kpis = quarter_kpis


@switch("feed-drops-canteens")
def _feed_drops(svc):
    if svc.pusher is None:  # a city platform without --upstream pushes nothing
        return
    real = svc.pusher.rows
    svc.pusher.rows = lambda cursor_ms: [r for r in real(cursor_ms) if r["rtype"] != "team_buy_acceptance_info"]


@switch("slow-ingest")
def _slow_ingest(svc):
    """Every upload is answered 0.2 s late (stored as usual): the load tests' SLO-breach proof."""
    real = svc.ingestor.ingest

    def ingest(data):
        time.sleep(0.2)
        return real(data)

    svc.ingestor.ingest = ingest
