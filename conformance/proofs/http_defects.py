"""The transformations the HTTP proxy can apply: one named, seeded defect per proxy (catalogue ``http_defects.toml``).

A transformation is a class registered in :data:`TRANSFORMS` under its name.  The proxy
(:mod:`conformance.proofs.proxy`) calls, for every exchange, under one lock (so state needs no locking):

* ``request(ex) -> Exchange | Reply`` — change the request, or answer it without forwarding;
* ``delay(ex) -> float`` — seconds to hold the request before forwarding (a slow query);
* ``response(ex, reply) -> Reply | Exchange`` — change the answer, or return a request to send instead (once).

Each is built with its catalogue ``params``, a ``random.Random(seed)`` and the nodes' keys (for transformations
that re-sign what they change, as a broken node or a platform that ignores signatures would).  Every choice is
drawn from the seed or from a hash of the seed and the object, so a run is reproducible.

:func:`make_transform` builds the transformation of a catalogue entry; :func:`load_catalogue` reads the
catalogue (:class:`HttpDefect`: name, zh/en, the requirement expected to catch it, suite, side, transform, params).
"""

from __future__ import annotations

import copy
import html
import json
import random
import re
import time
import tomllib
import zlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

from .proxy import Exchange, ProxyError, Reply

CATALOGUE = Path(__file__).resolve().parent / "http_defects.toml"
UPLOAD_PATHS = ("/api/v1/exchange", "/dts_if/servlet/IfRevSubServlet")
TRACE_JSON = "/api/v1/trace/"
SIDES = ("platform", "node")


@dataclass(frozen=True)
class HttpDefect:
    name: str
    zh: str
    en: str
    breaks: str  #: the requirement a test must fail on
    suite: str  #: the suite expected to catch it
    side: str  #: platform: the proxy fronts the platform under test; node: it carries a node's uplink
    transform: str
    params: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def load_catalogue() -> dict[str, HttpDefect]:
    doc = tomllib.loads(CATALOGUE.read_text("utf-8"))
    out = {}
    for name, d in doc.get("defect", {}).items():
        if d["transform"] not in TRANSFORMS:
            raise ValueError(f"defect {name}: unknown transform {d['transform']!r}")
        if d["side"] not in SIDES:
            raise ValueError(f"defect {name}: side must be one of {SIDES}")
        out[name] = HttpDefect(
            name, d["zh"], d["en"], d["breaks"], d["suite"], d["side"], d["transform"], dict(d.get("params", {}))
        )
    return out


def make_transform(name: str, seed: int, keys: dict[str, str]):
    """The transformation of catalogue entry ``name``, or of a bare transform name; :class:`ProxyError` if unknown."""
    cat = load_catalogue()
    if name in cat:
        d = cat[name]
        return TRANSFORMS[d.transform](d.params, random.Random(seed), keys, seed)
    if name in TRANSFORMS:
        return TRANSFORMS[name]({}, random.Random(seed), keys, seed)
    raise ProxyError(
        f"未知的缺陷「{name}」，可选：{', '.join(sorted(cat))}",
        f"unknown defect {name!r}; known: {', '.join(sorted(cat))}",
    )


TRANSFORMS: dict[str, type] = {}


def transform(name: str):
    def reg(cls):
        cls.name = name
        TRANSFORMS[name] = cls
        return cls

    return reg


class Transform:
    """The identity; subclasses override what they change."""

    name = "identity"

    def __init__(self, params: dict, rng: random.Random, keys: dict[str, str], seed: int):
        self.params, self.rng, self.keys, self.seed = params, rng, keys, seed

    def picks(self, key: str, every: int) -> bool:
        """Whether the object ``key`` is among the affected: one in ``every``, by a hash of seed and key."""
        return zlib.crc32(f"{self.seed}:{key}".encode()) % max(1, every) == 0

    def request(self, ex: Exchange):
        return ex

    def delay(self, ex: Exchange) -> float:
        return 0.0

    def response(self, ex: Exchange, reply: Reply):
        return reply


def _doc(reply: Reply):
    try:
        return json.loads(reply.body)
    except ValueError:
        return None


# --- trace answers -------------------------------------------------------------------------------------------
class _TraceJson(Transform):
    """Base of the transformations of found trace answers (``GET /api/v1/trace/CODE``)."""

    def response(self, ex, reply):
        if ex.method != "GET" or not ex.path.startswith(TRACE_JSON) or reply.status != 200:
            return reply
        doc = _doc(reply)
        if not isinstance(doc, dict) or doc.get("status") != "found":
            return reply
        code = ex.path[len(TRACE_JSON) :]
        if not self.picks(code, int(self.params.get("every", 1))):
            return reply
        return reply.with_json(self.change(code, doc))

    def change(self, code: str, doc: dict) -> dict:
        return doc


@transform("trace-drop-record")
class TraceDropRecord(_TraceJson):
    """A hop with several records shows one fewer (the seeded one): stored, but missing from the answer."""

    def change(self, code, doc):
        for hop in doc.get("chain", []):
            recs = hop.get("records") or []
            if len(recs) >= 2:
                recs.pop(zlib.crc32(f"{self.seed}:{code}".encode()) % len(recs))
                break
        return doc


@transform("trace-field-wrong")
class TraceFieldWrong(_TraceJson):
    """One field (``params.field``) of one record of the answer differs from what was stored: its last digit."""

    def change(self, code, doc):
        name = self.params.get("field", "weight")
        for hop in doc.get("chain", []):
            for r in hop.get("records") or []:
                v = (r.get("fields") or {}).get(name)
                if v and v[-1].isdigit():
                    r["fields"][name] = v[:-1] + str((int(v[-1]) + 1) % 10)
                    return doc
        return doc


@transform("trace-truncate")
class TraceTruncate(_TraceJson):
    """The chain stops after ``params.n`` hops (a recursion bound set too low), still answered as found."""

    def change(self, code, doc):
        if isinstance(doc.get("chain"), list):
            doc["chain"] = doc["chain"][: int(self.params.get("n", 3))]
        return doc


@transform("trace-complete-without-origin")
class TraceCompleteWithoutOrigin(_TraceJson):
    """A chain without a missing hop is answered ``complete`` even when it ends before the intake or origin
    (the completeness flag tests "no missing hop" only)."""

    def change(self, code, doc):
        chain = doc.get("chain") or []
        if chain and not any(isinstance(h, dict) and h.get("kind") == "missing" for h in chain):
            doc["complete"] = True
        return doc


@transform("trace-swap-hops")
class TraceSwapHops(_TraceJson):
    """The first two trade hops of the chain change places (a sort on the wrong key)."""

    def change(self, code, doc):
        chain = doc.get("chain", [])
        idx = [i for i, h in enumerate(chain) if h.get("kind") == "issued"]
        if len(idx) >= 2:
            a, b = idx[0], idx[1]
            chain[a], chain[b] = chain[b], chain[a]
        return doc


@transform("trace-source-stripped")
class TraceSourceStripped(_TraceJson):
    """源头衔接 lost: the answer keeps its hops and the intake's certificate, but no ear tag and no production base id
    anywhere (a platform that stores the profile's known fields only), and the origin hop has no source items."""

    GONE = ("ear_tag_start", "ear_tag_end", "base_id")

    def change(self, code, doc):
        for hop in doc.get("chain", []):
            for k in (*self.GONE, "sources"):
                hop.pop(k, None)
            for r in hop.get("records") or []:
                for k in self.GONE:
                    (r.get("fields") or {}).pop(k, None)
        return doc


@transform("trace-receipts-unknown")
class TraceReceiptsUnknown(Transform):
    """Receipt codes are not traceable: a retail sale record whose ``sale_tran_id`` was issued by the stall's own
    operator (it begins with ``retailer_id``: a scale's receipt line, not the market's daily summary) is stored and
    acknowledged, but the trace index only knows the market's codes, so the JSON answer is ``unknown`` (404, the
    reference's unknown answer) and the consumer page a 404 page saying so.  Every other code answers as before."""

    def __init__(self, *a):
        super().__init__(*a)
        self.receipts: set[str] = set()

    def response(self, ex, reply):
        if ex.method == "POST" and ex.path in UPLOAD_PATHS and reply.status == 200:
            for _h, rec, verdict in _answered_records(ex, reply):
                f = rec.record
                code, seller = f.get("sale_tran_id") or "", f.get("retailer_id") or ""
                if rec.type == "retail_market_tran_info_summ" and seller and code.startswith(seller):
                    self.receipts.add(code)
            return reply
        if ex.method != "GET" or reply.status != 200:
            return reply
        if ex.path.startswith(TRACE_JSON) and ex.path[len(TRACE_JSON) :] in self.receipts:
            code = ex.path[len(TRACE_JSON) :]
            reply.status = 404
            return reply.with_json({"code": code, "status": "unknown", "findings": [], "chain": []})
        code = next((v for k, v in parse_qsl(ex.query) if k == "code"), "").strip()
        if ex.path == "/trace" and code in self.receipts:
            reply.status = 404
            reply.body = f"<html><body><p>未找到追溯码 {html.escape(code)}</p></body></html>".encode()
        return reply


@transform("trace-names-mojibake")
class TraceNamesMojibake(_TraceJson):
    """Business names in the JSON answer are UTF-8 bytes read as GBK (the classic 乱码)."""

    def change(self, code, doc):
        for hop in doc.get("chain", []):
            node = hop.get("node") or {}
            if node.get("name"):
                node["name"] = node["name"].encode("utf-8").decode("gbk", "replace")
        return doc


@transform("trace-invalid-as-unknown")
class TraceInvalidAsUnknown(Transform):
    """A malformed code is answered like a valid code nobody issued (404 unknown instead of 400 invalid)."""

    def response(self, ex, reply):
        if ex.path.startswith(TRACE_JSON) and reply.status == 400:
            doc = _doc(reply)
            if isinstance(doc, dict):
                doc.update(status="unknown", findings=[])
                reply.status = 404
                return reply.with_json(doc)
        return reply


@transform("trace-stale-cache")
class TraceStaleCache(Transform):
    """Trace answers (JSON and page) are served from a cache keyed by the request, never invalidated by uploads."""

    def __init__(self, *a):
        super().__init__(*a)
        self.cache: dict[str, Reply] = {}

    def _is_trace(self, ex):
        return ex.method == "GET" and (ex.path.startswith(TRACE_JSON) or ex.path == "/trace")

    def request(self, ex):
        if self._is_trace(ex) and ex.target in self.cache:
            return copy.deepcopy(self.cache[ex.target])
        return ex

    def response(self, ex, reply):
        if self._is_trace(ex):
            self.cache[ex.target] = copy.deepcopy(reply)
        return reply


@transform("trace-slow")
class TraceSlow(Transform):
    """One trace query in ``params.every`` (the first of them included) waits ``params.seconds`` (a missing index)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.n = 0

    def delay(self, ex):
        if ex.method == "GET" and ex.path.startswith(TRACE_JSON):
            self.n += 1
            if (self.n - 1) % int(self.params.get("every", 1000)) == 0:
                return float(self.params.get("seconds", 3.5))
        return 0.0


@transform("trace-serialized")
class TraceSerialized(Transform):
    """Trace queries run one at a time, each ``params.service_ms`` (one database connection shared by all): a
    query waits for every query before it.  Alone a query takes ``service_ms``; 300 arriving within a second wait
    seconds.  ``delay`` runs under the proxy's lock, so ``free_at`` (when the one connection is next free) is
    consistent."""

    def __init__(self, *a):
        super().__init__(*a)
        self.free_at = 0.0

    def delay(self, ex):
        if ex.method != "GET" or not ex.path.startswith(TRACE_JSON):
            return 0.0
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + float(self.params.get("service_ms", 30)) / 1000
        return self.free_at - now


# --- the consumer page ----------------------------------------------------------------------------------------
class _Page(Transform):
    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/trace" or reply.status != 200:
            return reply
        reply.body = self.change(reply.body.decode("utf-8", "replace")).encode(self.encoding)
        return reply

    encoding = "utf-8"

    def change(self, html: str) -> str:
        return html


@transform("page-gbk")
class PageGbk(_Page):
    """The consumer page is encoded in GBK while its headers (and meta) still declare UTF-8."""

    encoding = "gbk"


@transform("page-test-result-flipped")
class PageTestResultFlipped(_Page):
    """The consumer page shows the opposite of the stored test result (the template tests the wrong value)."""

    def change(self, html):
        return re.sub(r"不合格|合格", lambda m: "合格" if m.group(0) == "不合格" else "不合格", html)


# --- statistics and KPIs ----------------------------------------------------------------------------------------
class _Rows(Transform):
    """Base of the transformations of daily statistics rows (``GET /api/v1/stats/daily``)."""

    empty_too = False  #: whether :meth:`change` also sees a day without rows (a transformation that adds rows)

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/api/v1/stats/daily" or reply.status != 200:
            return reply
        doc = _doc(reply)
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not (doc["rows"] or self.empty_too):
            return reply
        return reply.with_json(self.change(ex, doc))

    def change(self, ex, doc):
        return doc


@transform("stats-off-by-one")
class StatsOffByOne(_Rows):
    """One row (the seeded one) counts one record more than were accepted (a ``<=`` bound)."""

    def change(self, ex, doc):
        rows = doc["rows"]
        rows[zlib.crc32(str(self.seed).encode()) % len(rows)]["records"] += 1
        return doc


@transform("stats-weight-rounded")
class StatsWeightRounded(_Rows):
    """Weights are summed after rounding each to one decimal of a kilogram (float money/weight arithmetic)."""

    def change(self, ex, doc):
        for r in doc["rows"]:
            try:
                r["weight_kg"] = f"{Decimal(r['weight_kg']).quantize(Decimal('0.1'), ROUND_HALF_UP):.3f}"
            except (KeyError, ArithmeticError, TypeError):
                pass
        return doc


@transform("stats-misattributed")
class StatsMisattributed(_Rows):
    """The records of one node are counted under another node (a join on the wrong column)."""

    def change(self, ex, doc):
        nodes = sorted({r.get("node_id") for r in doc["rows"]})
        if len(nodes) >= 2:
            a, b = nodes[0], nodes[1]
            for r in doc["rows"]:
                if r.get("node_id") == a:
                    r["node_id"] = b
        return doc


@transform("stats-count-resends")
class StatsCountResends(_Rows):
    """Records answered ``duplicate`` are counted again in the statistics (re-sends counted twice)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.extra: dict[tuple[str, str, str, str], list[int]] = {}  # (date, node, type, goods) -> [n, grams]

    def response(self, ex, reply):
        if ex.method == "POST" and ex.path in UPLOAD_PATHS and reply.status == 200:
            self._note(ex, reply)
            return reply
        return super().response(ex, reply)

    def _note(self, ex, reply):
        for header, rec, verdict in _answered_records(ex, reply):
            if verdict != "duplicate":
                continue
            f = rec.record
            goods = f.get("goods_code") or f.get("meat_code") or ""
            cell = self.extra.setdefault(
                (header.get("DataDate", ""), header.get("NodeId", ""), rec.type, goods), [0, 0]
            )
            cell[0] += 1
            cell[1] += _grams(f.get("weight"))

    def change(self, ex, doc):
        date = doc.get("date", "")
        for r in doc["rows"]:
            add = self.extra.get((date, r.get("node_id"), r.get("type"), r.get("goods_code") or ""))
            if add:
                r["records"] += add[0]
                r["weight_kg"] = _kg(_grams(r.get("weight_kg")) + add[1])
        return doc


@transform("stats-apply-corrections")
class StatsApplyCorrections(StatsCountResends):
    """A re-sent record with the same trace code and another weight (a correction, answered ``duplicate``: the stored
    version is kept) still changes the statistics: its weight replaces the stored one's in the day's row (the
    statistics are updated by a trigger on every received record, not on what is stored)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.kept: dict[tuple[str, str, str], int] = {}  # (node, type, code) -> grams of the stored version

    def _note(self, ex, reply):
        from conformance.simday import OWN_CODE

        for header, rec, verdict in _answered_records(ex, reply):
            f = rec.record
            code = f.get(OWN_CODE.get(rec.type, ""))
            if not code or "weight" not in f:
                continue
            key, g = (header.get("NodeId", ""), rec.type, code), _grams(f.get("weight"))
            if verdict == "accepted":
                self.kept.setdefault(key, g)
            elif verdict == "duplicate" and key in self.kept and g != self.kept[key]:
                goods = f.get("goods_code") or f.get("meat_code") or ""
                cell = self.extra.setdefault((header.get("DataDate", ""), key[0], rec.type, goods), [0, 0])
                cell[1] += g - self.kept[key]
                self.kept[key] = g


@transform("kpi-count-resends")
class KpiCountResends(StatsCountResends):
    """The daily KPI answer counts records answered ``duplicate`` again: the day's timeliness record count (and its
    rate) includes re-sends (the KPI is computed over received records, not stored ones); the statistics rows
    stay right."""

    def response(self, ex, reply):
        if _is_upload(ex) and reply.status == 200:
            self._note(ex, reply)
            return reply
        if ex.method != "GET" or ex.path != "/api/v1/kpis" or reply.status != 200:
            return reply
        doc = _doc(reply)
        t = doc.get("timeliness") if isinstance(doc, dict) else None
        if not isinstance(t, dict) or not isinstance(t.get("records"), int):
            return reply
        add = sum(v[0] for (date, *_rest), v in self.extra.items() if date == doc.get("date"))
        if add:
            t["records"] += add
            t["overall"] = round((t.get("on_time") or 0) / t["records"], 4)
        return reply.with_json(doc)


class _StatsDayMoved(_Rows):
    """Base of the transformations that count accepted records on another day than their business day:
    :meth:`to_day` maps a record's business day (yyyyMMdd, and the parts of its business-date value) to the day
    the broken platform counts it on (``None``: where it belongs)."""

    empty_too = True

    def __init__(self, *a):
        super().__init__(*a)
        self.moved: list[tuple[str, str, tuple[str, str, str], int]] = []  # (from day, to day, cell, grams)

    def response(self, ex, reply):
        if _is_upload(ex) and reply.status == 200:
            self._note(ex, reply)
            return reply
        return super().response(ex, reply)

    def to_day(self, day: str, parts: dict) -> str | None:
        return None

    def _note(self, ex, reply):
        from profiles.records import parse_date_form

        types = _profile().records.types
        for header, rec, verdict in _answered_records(ex, reply):
            rt = types.get(rec.type)
            f = rt.by_name.get(rt.date_field) if rt is not None and rt.date_field else None
            got = parse_date_form(f.date_forms, rec.record.get(f.name, "")) if f is not None else None
            if verdict != "accepted" or got is None:
                continue
            day = got[1]["y"] + got[1]["mo"] + got[1]["d"]
            to = self.to_day(day, got[1])
            if to is None or to == day:
                continue
            r = rec.record
            cell = (header.get("NodeId", ""), rec.type, r.get("goods_code") or r.get("meat_code") or "")
            self.moved.append((day, to, cell, _grams(r.get("weight"))))

    def change(self, ex, doc):
        date = doc.get("date", "")
        rows = {(r.get("node_id"), r.get("type"), r.get("goods_code") or ""): r for r in doc["rows"]}
        for frm, to, cell, g in self.moved:
            if date not in (frm, to):
                continue
            sign = -1 if date == frm else 1
            r = rows.get(cell)
            if r is None:
                r = rows[cell] = {
                    "node_id": cell[0],
                    "node_type": None,
                    "type": cell[1],
                    "goods_code": cell[2] or None,
                    "goods_name": None,
                    "records": 0,
                    "weight_kg": "0.000",
                    "on_time": 0,
                }
            r["records"] += sign
            r["weight_kg"] = _kg(max(0, _grams(r.get("weight_kg")) + sign * g))
        doc["rows"] = [r for r in rows.values() if r["records"] > 0]
        return doc


@transform("stats-day-utc")
class StatsDayUtc(_StatsDayMoved):
    """Business days taken in UTC: an accepted record whose business time of day is before 08:00 Beijing time is
    counted on the day before (the platform converts record times to UTC before taking the date, or buckets by a
    UTC timestamp); records whose business date has no time of day stay where they are."""

    def to_day(self, day, parts):
        import datetime as dt

        if "h" not in parts or int(parts["h"]) >= 8:
            return None
        return (dt.datetime.strptime(day, "%Y%m%d") - dt.timedelta(days=1)).strftime("%Y%m%d")


@transform("stats-day-of-upload")
class StatsDayOfUpload(_StatsDayMoved):
    """Records counted on the Beijing day they were uploaded, not on their business day (the platform buckets by
    its receipt timestamp)."""

    def to_day(self, day, parts):
        import datetime as dt

        return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).strftime("%Y%m%d")


def _answered_records(ex, reply):
    """``(header, record, verdict)`` of every record of the upload ``ex`` that ``reply`` answered (ResultCode 0000)."""
    p = _profile()
    res = p.envelope.parse(ex.body, validate_records=False)
    resp, _f = p.envelope.parse_response(reply.body)
    if resp is None or resp.code != "0000" or not res.records:
        return []
    return [(res.header, rec, v.verdict) for rec, v in zip(res.records, resp.results)]


def _grams(kg) -> int:
    whole, _, frac = str(kg or "0").partition(".")
    try:
        return int(whole or 0) * 1000 + int((frac + "000")[:3])
    except ValueError:
        return 0


def _kg(g: int) -> str:
    return f"{g // 1000}.{g % 1000:03d}"


class _Rates(Transform):
    """Base of the transformations of the KPI answers under ``params.path``: :meth:`leaf` maps every value."""

    default_path = "/api/v1/kpis"

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != self.params.get("path", self.default_path) or reply.status != 200:
            return reply
        doc = _doc(reply)
        if doc is None:
            return reply

        def walk(x):
            if isinstance(x, dict):
                return {k: (walk(v) if isinstance(v, (dict, list)) else self.leaf(k, v)) for k, v in x.items()}
            if isinstance(x, list):
                return [walk(v) for v in x]
            return x

        return reply.with_json(walk(doc))

    def leaf(self, key: str, value):
        return value


@transform("rate-floored")
class RateFloored(_Rates):
    """Every rate of the KPI answers (``params.path``) is cut to ``params.places`` decimals instead of rounded."""

    def leaf(self, key, value):
        if ("rate" in key or key == "overall") and isinstance(value, float):
            q = Decimal(1).scaleb(-int(self.params.get("places", 2)))
            return float(Decimal(str(value)).quantize(q, rounding="ROUND_DOWN"))
        return value


@transform("rate-null-as-zero")
class RateNullAsZero(_Rates):
    """A rate whose denominator is zero (``null``) is answered 0 (or ``params.value``) under ``params.path``."""

    def leaf(self, key, value):
        if value is None and ("rate" in key or key == "overall"):
            return float(self.params.get("value", 0.0))
        return value


@transform("server-error-on-data")
class ServerErrorOnData(Transform):
    """A GET of ``params.path`` that the platform answered 200 is answered 500 when its JSON member
    ``params.member`` is non-empty (a day or quarter with data), or always without ``params.member``."""

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != self.params.get("path") or reply.status != 200:
            return reply
        member = self.params.get("member")
        doc = _doc(reply)
        if member and not (isinstance(doc, dict) and doc.get(member)):
            return reply
        return Reply(500, [("content-type", "text/plain")], b"Internal Server Error")


@transform("leap-day-refused")
class LeapDayRefused(Transform):
    """A query whose ``date`` is 29 February (of any year) is refused 400 "not a calendar day" on the statistics
    and KPI paths (a calendar check that reads the year wrong)."""

    PATHS = ("/api/v1/stats/", "/api/v1/kpis")

    def request(self, ex):
        if ex.method != "GET" or not ex.path.startswith(self.PATHS):
            return ex
        from urllib.parse import parse_qs

        date = (parse_qs(ex.query).get("date") or [""])[0]
        if len(date) == 8 and date[4:] == "0229":
            body = {"error": {"zh": f"不是日历日：{date}", "en": f"not a calendar day (yyyyMMdd): {date!r}"}}
            return Reply(400, [("content-type", "application/json")], json.dumps(body, ensure_ascii=False).encode())
        return ex


@transform("kpi-completeness-scaled")
class KpiCompletenessScaled(Transform):
    """The data completeness of every role (and overall) of the daily KPIs is ``params.factor`` times the true
    share: a denominator counting record types the role is not expected to send."""

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/api/v1/kpis" or reply.status != 200:
            return reply
        doc = _doc(reply)
        comp = doc.get("completeness") if isinstance(doc, dict) else None
        if not isinstance(comp, dict):
            return reply
        f = float(self.params.get("factor", 0.75))
        if isinstance(comp.get("overall"), (int, float)):
            comp["overall"] = round(comp["overall"] * f, 4)
        for k, v in (comp.get("by_role") or {}).items():
            if isinstance(v, (int, float)):
                comp["by_role"][k] = round(v * f, 4)
        return reply.with_json(doc)


@transform("totals-off-by-one")
class TotalsOffByOne(Transform):
    """The day's totals (``GET /api/v1/stats/totals``) count one record too many for the seeded node."""

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/api/v1/stats/totals" or reply.status != 200:
            return reply
        doc = _doc(reply)
        by_node = doc.get("by_node") if isinstance(doc, dict) else None
        if not isinstance(by_node, dict) or not by_node:
            return reply
        keys = sorted(by_node)
        by_node[keys[zlib.crc32(str(self.seed).encode()) % len(keys)]]["records"] += 1
        return reply.with_json(doc)


# --- operations: time, monitoring, interface description ------------------------------------------------------------
@transform("time-utc")
class TimeUtc(Transform):
    """The time service formats the instant in UTC but still labels it Beijing time (+08:00)."""

    def response(self, ex, reply):
        if ex.path != "/api/v1/time" or reply.status != 200:
            return reply
        doc = _doc(reply)
        if not isinstance(doc, dict) or "epoch_ms" not in doc:
            return reply
        import datetime as dt

        ms = int(doc["epoch_ms"])
        t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        doc["beijing_time"] = t.strftime("%Y%m%d%H%M%S") + f"{ms % 1000:03d}"
        doc["iso"] = t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "+08:00"
        return reply.with_json(doc)


@transform("monitor-online-as-offline")
class MonitorOnlineAsOffline(Transform):
    """Node monitoring compares the last contact across time zones: every online node is shown offline."""

    def response(self, ex, reply):
        if ex.method != "GET" or not ex.path.startswith("/api/v1/nodes") or reply.status != 200:
            return reply
        doc = _doc(reply)

        def fix(n):
            if isinstance(n, dict) and n.get("state") == "online":
                n["state"] = "offline"

        if isinstance(doc, dict) and isinstance(doc.get("nodes"), list):
            for n in doc["nodes"]:
                fix(n)
        else:
            fix(doc)
        return reply.with_json(doc) if doc is not None else reply


@transform("openapi-hides-path")
class OpenapiHidesPath(Transform):
    """The interface description lacks one served endpoint (``params.path``)."""

    def response(self, ex, reply):
        if ex.path != "/openapi.json" or reply.status != 200:
            return reply
        doc = _doc(reply)
        if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
            doc["paths"].pop(self.params.get("path", "/api/v1/kpis"), None)
            return reply.with_json(doc)
        return reply


# --- stop-trade -----------------------------------------------------------------------------------------------
@transform("stop-pending-dropped")
class StopPendingDropped(Transform):
    """A node fetching its pending stop-trade instructions gets none (the seeded nodes: one in ``params.every``)."""

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/api/v1/stoptrade" or reply.status != 200:
            return reply
        doc = _doc(reply)
        node = ex.header("X-Node-Id") or ""
        if isinstance(doc, dict) and doc.get("instructions") and self.picks(node, int(self.params.get("every", 1))):
            doc["instructions"] = []
            return reply.with_json(doc)
        return reply


@transform("stop-broadcast-wrong-node")
class StopBroadcastWrongNode(Transform):
    """The broadcast listing names the wrong addressee: each instruction shows the node whose failed test raised it
    (``source_node``) instead of the node it was sent to (a join on the wrong column)."""

    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != "/api/v1/stoptrade/broadcasts" or reply.status != 200:
            return reply
        doc = _doc(reply)
        items = doc.get("instructions") if isinstance(doc, dict) else None
        if not items:
            return reply
        for it in items:
            if it.get("source_node"):
                it["node_id"] = it["source_node"]
        return reply.with_json(doc)


# --- uploads: answers -----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _profile():
    from profiles import load_profile

    return load_profile()


def _is_upload(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path in UPLOAD_PATHS


def _fmt(body: bytes) -> str:
    return "json" if body.lstrip()[:1] == b"{" else "xml"


@transform("duplicate-as-accepted")
class DuplicateAsAccepted(Transform):
    """A re-sent record is answered ``accepted`` (reason 0000) instead of ``duplicate`` (it is still stored once)."""

    turned = ("duplicate",)  #: the verdicts answered ``accepted`` instead (a subclass may name others)

    def response(self, ex, reply):
        if not _is_upload(ex) or reply.status != 200:
            return reply
        spec = _profile().envelope
        resp, _f = spec.parse_response(reply.body)
        if resp is None or not any(r.verdict in self.turned for r in resp.results):
            return reply
        for r in resp.results:
            if r.verdict in self.turned:
                r.verdict, r.reason = "accepted", "0000"
        reply.body = spec.build_response(resp, _fmt(reply.body))
        return reply


@transform("duplicates-content-blind")
class DuplicatesContentBlind(Transform):
    """Every record answered ``duplicate`` is answered alike, without a message: the platform compares identities
    only, so a second sale line under a stored trace code is answered like a plain re-send."""

    def response(self, ex, reply):
        if not _is_upload(ex) or reply.status != 200:
            return reply
        spec = _profile().envelope
        resp, _f = spec.parse_response(reply.body)
        if resp is None or not any(r.verdict == "duplicate" for r in resp.results):
            return reply
        for r in resp.results:
            if r.verdict == "duplicate":
                r.message = r.message_en = None
        reply.body = spec.build_response(resp, _fmt(reply.body))
        return reply


@transform("ack-then-lose")
class AckThenLose(Transform):
    """One well-formed envelope in ``params.every`` is acknowledged (0000, every record accepted) and never stored."""

    def __init__(self, *a):
        super().__init__(*a)
        self.n = 0

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        spec = _profile().envelope
        res = spec.parse(ex.body)
        if not res.ok or not res.records:
            return ex
        self.n += 1
        if (self.n + self.seed) % int(self.params.get("every", 7)):
            return ex
        body = spec.build_response(spec.respond(res), _fmt(ex.body))
        return Reply(
            200,
            [
                (
                    "content-type",
                    "application/xml; charset=utf-8" if _fmt(ex.body) == "xml" else "application/json; charset=utf-8",
                )
            ],
            body,
        )


# --- uploads: requests re-signed --------------------------------------------------------------------------------
def _resign(
    ex: Exchange, keys: dict, *, records=None, header: dict | None = None, now: bool = False
) -> Exchange | None:
    """``ex`` rebuilt and signed with its node's key: ``records`` instead of the parsed ones, ``header`` values over
    the parsed ones, a fresh RequestTime if ``now``.  ``None`` when the body cannot be parsed or the key is unknown."""
    import datetime as dt

    from profiles.envelope import beijing, format_request_time, payload_digest

    p = _profile()
    spec = p.envelope
    res = spec.parse(ex.body, validate_records=False)
    node = res.header.get("NodeId")
    if not res.records or node not in keys or res.record_type is None:
        return None
    recs = [r.record for r in res.records] if records is None else records(res)
    h = {**res.header, **(header or {})}
    if h.get("Count") is None:
        h["Count"] = str(len(recs))
    if now:
        h["RequestTime"] = format_request_time(beijing(dt.datetime.now(dt.UTC), spec.utc_offset))
    digest = payload_digest((res.record_type, r) for r in recs)
    h["VerifyCode"] = spec.verify_code(
        keys[node], h["NodeId"], h["RequestTime"], h["Index"], h["Count"], h["DataDate"], digest
    )
    rt = res.record_type
    if _fmt(ex.body) == "json":
        body = json.dumps(
            {spec.root: {**h, spec.payload: {rt: recs}}}, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
    else:
        from profiles.records import _escape

        heads = "".join(
            f"<{k}>{_escape(h[k])}</{k}>"
            for k in ("NodeId", "RequestTime", "VerifyCode", "Index", "Count", "DataDate")
            if k in h
        )
        inner = "".join(p.records.record_xml(rt, r) for r in recs)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><{spec.root}>{heads}<{spec.payload}>{inner}'
            f"</{spec.payload}></{spec.root}>"
        ).encode()
    return Exchange(ex.method, ex.path, ex.query, list(ex.headers), body)


@transform("ignores-verifycode")
class IgnoresVerifyCode(Transform):
    """Uploads are accepted whatever their VerifyCode: every envelope is re-signed with its node's key."""

    def request(self, ex):
        if _is_upload(ex):
            return _resign(ex, self.keys) or ex
        return ex


class _RetryRefused(Transform):
    """A refused upload (ResultCode in ``codes``) is re-signed with a fresh RequestTime and sent once more."""

    codes: tuple[str, ...] = ()

    def response(self, ex, reply):
        if not _is_upload(ex) or reply.status == 200:
            return reply
        resp, _f = _profile().envelope.parse_response(reply.body)
        if resp is not None and resp.code in self.codes:
            again = _resign(ex, self.keys, now=True)
            if again is not None:
                return again
        return reply


@transform("accepts-replay")
class AcceptsReplay(_RetryRefused):
    """A replayed envelope (1110) is not refused: the platform forgets what it has seen."""

    codes = ("1110",)


@transform("accepts-stale-request-time")
class AcceptsStaleRequestTime(_RetryRefused):
    """A RequestTime outside the clock window (1104) is not refused."""

    codes = ("1104",)


@transform("replay-forgotten-after")
class ReplayForgottenAfter(Transform):
    """The memory of received envelopes is emptied once a minute: an envelope sent again more than
    ``params.seconds`` (default 60) after the proxy saw it accepted is taken again (re-signed with a fresh
    RequestTime, as if the platform had processed it); a replay sooner is still refused."""

    def __init__(self, *a):
        super().__init__(*a)
        self.first: dict[tuple, float] = {}

    def response(self, ex, reply):
        if not _is_upload(ex):
            return reply
        import time

        spec = _profile().envelope
        resp, _f = spec.parse_response(reply.body)
        if resp is None:
            return reply
        h = spec.parse(ex.body, validate_records=False).header
        key = (h.get("NodeId"), h.get("RequestTime"), (h.get("VerifyCode") or "").lower())
        if resp.code == "0000":
            self.first.setdefault(key, time.monotonic())
        elif key in self.first and time.monotonic() - self.first[key] > float(self.params.get("seconds", 60)):
            again = _resign(ex, self.keys, now=True)
            if again is not None:
                return again
        return reply


@transform("signed-endpoints-open")
class SignedEndpointsOpen(Transform):
    """The signed node endpoints (stop-trade fetch and acknowledgement) accept any signature: the proxy signs
    every such request afresh with the key of the node its X-Node-Id names."""

    def request(self, ex):
        if not ex.path.startswith("/api/v1/stoptrade") or ex.path.endswith("/broadcasts"):
            return ex
        node = ex.header("X-Node-Id")
        if node not in self.keys:
            return ex
        from simulators.platform.nodeauth import sign

        for k, v in sign(_profile().envelope, self.keys[node], node, ex.method, ex.target, ex.body).items():
            ex.set_header(k, v)
        return ex


# --- a node's uplink (the proxy between the node under test and the harness platform) ---------------------------
@transform("node-resends-answered")
class NodeResendsAnswered(Transform):
    """One answered envelope in ``params.every`` is sent again at once (fresh RequestTime, signed): the node does
    not clear its outbox on the platform's answer; the node is given the answer to the re-send."""

    def __init__(self, *a):
        super().__init__(*a)
        self.n = 0

    def response(self, ex, reply):
        if not _is_upload(ex) or reply.status != 200:
            return reply
        resp, _f = _profile().envelope.parse_response(reply.body)
        if resp is None or resp.code != "0000" or not resp.results:
            return reply
        self.n += 1
        if (self.n + self.seed) % int(self.params.get("every", 5)):
            return reply
        return _resign(ex, self.keys, now=True) or reply


@transform("node-drops-field")
class NodeDropsField(Transform):
    """The node leaves one field (``params.field``, else the record's first field) out of the first record."""

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        name = self.params.get("field")

        def recs(res):
            out = [dict(r.record) for r in res.records]
            f = name if name in out[0] else next(iter(out[0]))
            out[0].pop(f, None)
            return out

        return _resign(ex, self.keys, records=recs) or ex


@transform("node-header-shifted")
class NodeHeaderShifted(Transform):
    """The node writes one header wrong and signs it: ``params.header`` RequestTime shifted by ``params.hours``
    (a clock in UTC), DataDate a day early, or Count one more than the records."""

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        import datetime as dt

        res = _profile().envelope.parse(ex.body, validate_records=False)
        h = dict(res.header)
        which = self.params.get("header", "RequestTime")
        try:
            if which == "RequestTime":
                t = dt.datetime.strptime(h["RequestTime"][:14], "%Y%m%d%H%M%S")
                h["RequestTime"] = (t + dt.timedelta(hours=float(self.params.get("hours", -8)))).strftime(
                    "%Y%m%d%H%M%S"
                ) + h["RequestTime"][14:]
            elif which == "DataDate":
                h["DataDate"] = (dt.datetime.strptime(h["DataDate"], "%Y%m%d") - dt.timedelta(days=1)).strftime(
                    "%Y%m%d"
                )
            elif which == "Count":
                h["Count"] = str(int(h["Count"]) + 1)
        except (KeyError, ValueError):
            return ex
        return _resign(ex, self.keys, header=h) or ex


class _AfterNodeFailure(Transform):
    """Base of node-side defects that act on a node's next upload after one of its uploads was answered HTTP 5xx
    (:meth:`take` says whether ``ex`` is that upload, and forgets the failure)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.failed: set[str] = set()

    def take(self, ex) -> bool:
        node = _profile().envelope.parse(ex.body, validate_records=False).header.get("NodeId") or ""
        if node in self.failed:
            self.failed.discard(node)
            return True
        return False

    def response(self, ex, reply):
        if _is_upload(ex) and reply.status >= 500:
            node = _profile().envelope.parse(ex.body, validate_records=False).header.get("NodeId")
            if node:
                self.failed.add(node)
        return reply


@transform("node-loses-retry")
class NodeLosesRetry(_AfterNodeFailure):
    """After an upload of a node was answered with a failure (HTTP 5xx or a transport error), the node's next
    envelope is lost: the proxy acknowledges it (0000, all accepted) and never forwards it."""

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        spec = _profile().envelope
        res = spec.parse(ex.body)
        if res.records and self.take(ex):
            return Reply(
                200,
                [("content-type", "application/xml; charset=utf-8")],
                spec.build_response(spec.respond(res), _fmt(ex.body)),
            )
        return ex


@transform("node-retry-late")
class NodeRetryLate(_AfterNodeFailure):
    """After an upload of a node was answered HTTP 5xx, the node's next upload is held ``seconds`` before it goes
    on (default 0.75): the first retry after a failure arrives that much later than the node's backoff, as from a
    node whose backoff starts too high (``first × 2^(n+1)`` instead of ``2^(n-1)``).  Nothing is changed."""

    def delay(self, ex):
        if _is_upload(ex) and self.take(ex):
            return float(self.params.get("seconds", 0.75))
        return 0.0


class _NodeRecordEdit(Transform):
    """Base of node-side defects that change single fields of the records the node uploads (then re-sign)."""

    def edit(self, rec: dict) -> bool:
        """Change ``rec`` in place; True when it changed."""
        return False

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        changed = []

        def recs(res):
            out = [dict(r.record) for r in res.records]
            changed.extend(rec for rec in out if self.edit(rec))
            return out

        out = _resign(ex, self.keys, records=recs)
        return out if out is not None and changed else ex


@transform("node-ear-tags-swapped")
class NodeEarTagsSwapped(_NodeRecordEdit):
    """The node writes an intake's ear-tag range the wrong way round (``ear_tag_start`` and ``ear_tag_end`` swapped:
    the first tag after the last), as a form whose two columns are mapped crosswise."""

    def edit(self, rec):
        if rec.get("ear_tag_start") and rec.get("ear_tag_end") and rec["ear_tag_start"] != rec["ear_tag_end"]:
            rec["ear_tag_start"], rec["ear_tag_end"] = rec["ear_tag_end"], rec["ear_tag_start"]
            return True
        return False


@transform("node-base-id-cut")
class NodeBaseIdCut(_NodeRecordEdit):
    """The node cuts every production base id to ``params.chars`` characters (a column defined too short)."""

    def edit(self, rec):
        n = int(self.params.get("chars", 9))
        if len(rec.get("base_id") or "") > n:
            rec["base_id"] = rec["base_id"][:n]
            return True
        return False


@transform("node-stale-commodity-name")
class NodeStaleCommodityName(Transform):
    """The node writes the right commodity name on the first record of each commodity code only; later records of
    the same code carry a name cut to ``params.chars`` characters (a fixed-width column filled from a cache)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.seen: set[tuple[str, str]] = set()

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        n = int(self.params.get("chars", 1))
        changed = []

        def recs(res):
            out = []
            for r in res.records:
                rec = dict(r.record)
                for code_f, name_f in (("goods_code", "goods_name"), ("meat_code", "meat_name")):
                    code = rec.get(code_f)
                    if code and rec.get(name_f):
                        if (code_f, code) in self.seen and len(rec[name_f]) > n:
                            rec[name_f] = rec[name_f][:n]
                            changed.append(code)
                        self.seen.add((code_f, code))
                out.append(rec)
            return out

        out = _resign(ex, self.keys, records=recs)
        return out if out is not None and changed else ex


SALE_LINES = ("retail_market_tran_info_summ", "market_tran_info_detail")


@transform("node-sale-weight-rounded")
class NodeSaleWeightRounded(Transform):
    """The node rounds the weight of every sale line record it uploads (``SALE_LINES``) half-up to ``params.round_g``
    grams (a weight kept as float kg with fewer decimals) and signs the records as changed; the records stay valid.
    Envelopes it does not change pass as sent."""

    def request(self, ex):
        if not _is_upload(ex):
            return ex
        step = max(1, int(self.params.get("round_g", 10)))
        changed = []

        def recs(res):
            out = []
            for r in res.records:
                rec = dict(r.record)
                if r.type in SALE_LINES and "weight" in rec:
                    g = _grams(rec["weight"])
                    rec["weight"] = _kg((g + step // 2) // step * step)
                    if rec["weight"] != r.record["weight"]:
                        changed.append(r.type)
                out.append(rec)
            return out

        out = _resign(ex, self.keys, records=recs)
        return out if out is not None and changed else ex


from . import regulator_defects  # noqa: E402,F401  (registers the regulator answers' transformations)
from . import problem_defects  # noqa: E402,F401  (registers the problem-discovery answers' transformations)
