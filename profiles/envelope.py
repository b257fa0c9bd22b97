"""The upload envelope ``DataExchangeReq`` and its response ``DataExchangeResp`` (data: ``envelope.toml``).

Build (:meth:`EnvelopeSpec.build`) and parse (:meth:`EnvelopeSpec.parse`) in
XML and in the profile's JSON variant.  Parsing is streaming for XML (records
are turned into dicts as their end tags arrive and the tree is cleared), so a
10,000-record envelope stays far below 100 MB.  Parsing never raises for bad
input; it returns an :class:`EnvelopeResult` with envelope-level findings
(TRAN-ENC-*, TRAN-ENV-*) and per-record findings (TRAN-REC-*, TRAN-ENV-08).

VerifyCode: the recipe the profile declares (``[verify_code]``, see
:mod:`profiles.signature`); the reference profile's own is lowercase hex
HMAC-MD5, keyed with the node's secret (UTF-8), over
``NodeId|RequestTime|Index|Count|DataDate|PayloadDigest`` where PayloadDigest
is the hex SHA-256 of the canonical payload (the profile's XML encoding of the
records, see ``envelope.toml``); verified with :func:`hmac.compare_digest`.
Under a recipe declared ``unknown`` the code is checked for its form only and
the finding says it cannot be verified (severity warning), never "tampered".

Checks: after parsing, :attr:`EnvelopeSpec.checks` runs, an ordered table of
named rule functions (:mod:`profiles.envelope_checks`) a dialect can drop or
replace by name (``envelope.toml [checks]``).

Times: RequestTime is Beijing time (UTC+8).  A ``now`` given as a naive
``datetime`` is read as Beijing time; an aware one is converted.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field as dc_field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .envelope_checks import DIGITS, E01, E09, CheckContext, CheckTable, table_from_data
from .findings import Finding
from .forms import CityForm
from .jsonsafe import read_json
from .profile import ProfileError
from .records import DecodedRecord, _escape
from .requesttime import beijing as beijing  # re-exported: callers import the clock helpers from here
from .requesttime import format_request_time as format_request_time
from .requesttime import parse_request_time as parse_request_time
from .signature import Recipe
from .xmlsafe import Limits, XmlSource, looks_like_xml

if TYPE_CHECKING:  # typing only: the profile imports this module
    from xml.etree.ElementTree import Element

    from .profile import Profile

VERDICTS = ("accepted", "duplicate", "rejected")

KeySource = str | bytes | Callable[[str], "str | bytes | None"] | None


def _canonical(type_name: str, record: dict[str, Any]) -> str:
    parts = [f"<{type_name}>"]
    for k, v in record.items():
        parts.append(f"<{k}>{_escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))}</{k}>")
    parts.append(f"</{type_name}>")
    return "".join(parts)


def payload_digest(items: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """Hex SHA-256 of the canonical payload of ``(type_name, record)`` items (see ``envelope.toml``)."""
    h = hashlib.sha256()
    for t, r in items:
        h.update(_canonical(t, r).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(slots=True)
class EnvelopeResult:
    """What :meth:`EnvelopeSpec.parse` found.

    :attr header: envelope elements by wire name (``NodeId``…) as text.
    :attr records: the records in payload order.
    :attr findings: envelope-level findings; any error refuses the whole envelope.
    :attr record_findings: per record (same order as ``records``).
    :attr authenticated: the VerifyCode was checked against the node's key and matched.
    """

    format: str
    header: dict[str, str] = dc_field(default_factory=dict)
    record_type: str | None = None
    records: list[DecodedRecord] = dc_field(default_factory=list)
    findings: list[Finding] = dc_field(default_factory=list)
    record_findings: list[list[Finding]] = dc_field(default_factory=list)
    digest: str | None = None
    authenticated: bool = False

    @property
    def envelope_ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def ok(self) -> bool:
        return self.envelope_ok and not any(any(f.severity == "error" for f in rf) for rf in self.record_findings)

    @property
    def node_id(self) -> str | None:
        return self.header.get("NodeId")

    @property
    def request_time(self) -> str | None:
        return self.header.get("RequestTime")

    @property
    def index(self) -> str | None:
        return self.header.get("Index")


@dataclass(slots=True)
class RecordVerdict:
    """One record's verdict in a response."""

    seq: int
    verdict: str  #: accepted | duplicate | rejected
    reason: str = "0000"
    field: str | None = None
    message: str | None = None  #: zh text of the first error (or the receiver's own reason)
    message_en: str | None = None
    #: every finding about the record, errors and warnings alike: {"rule", "field", "severity", "zh", "en"}
    findings: list[dict[str, str]] = dc_field(default_factory=list)


@dataclass(slots=True)
class Response:
    """A ``DataExchangeResp``.  ``code`` "0000": processed, one verdict per record; else refused whole."""

    node_id: str
    request_time: str
    response_time: str
    index: str
    code: str
    message: str
    count: int
    results: list[RecordVerdict] = dc_field(default_factory=list)

    def tally(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        for r in self.results:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out


class ReplayGuard:
    """Remembers (NodeId, RequestTime, VerifyCode) keys to refuse replays; bounded in time and count.

    Thread-safe.  Keys older than ``remember_seconds`` (by RequestTime, against
    ``now``) are forgotten: such envelopes fail the clock window anyway.  When
    ``max_entries`` keys are live, the oldest inserted is dropped and
    :attr:`evicted_live` counts it (a replay of that one key would then go
    unnoticed by this guard; size ``max_entries`` above the peak rate x window).
    """

    def __init__(self, remember_seconds: float = 600, max_entries: int = 200_000):
        if max_entries < 1 or remember_seconds <= 0:
            raise ValueError("max_entries >= 1 and remember_seconds > 0")
        self.remember = _dt.timedelta(seconds=remember_seconds)
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str, str], _dt.datetime] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted_live = 0

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_remember(self, node_id: str, request_time: str, verify_code: str, now: _dt.datetime) -> bool:
        """True if the key is new (and now remembered); False if it is a replay."""
        key = (node_id, request_time, verify_code.lower())
        t = parse_request_time(request_time) or now
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            while len(self._seen) >= self.max_entries:
                self._seen.popitem(last=False)
                self.evicted_live += 1
            self._seen[key] = t
            return True

    def _expire(self, now: _dt.datetime) -> None:
        # insertion order is close to RequestTime order (skew <= the clock window), so dropping from the
        # front while old is O(1) amortised; a stale key behind a fresh one leaves when it reaches the front
        horizon = now - self.remember
        seen = self._seen
        while seen:
            k = next(iter(seen))
            if seen[k] >= horizon:
                break
            del seen[k]


class EnvelopeSpec:
    """The profile's envelope: build, parse, sign, verify, respond."""

    def __init__(self, profile: Profile):
        self.profile = profile
        d = profile.data("envelope")
        self.data = d
        req = d["request"]
        self.root: str = req["root"]
        self.payload: str = req["payload"]
        self.elements: list[str] = list(req["elements"])
        self.header_elements = [e for e in self.elements if e != self.payload]
        self.window = _dt.timedelta(seconds=int(d["clock"]["window_seconds"]))
        self.utc_offset = int(d["clock"].get("utc_offset_hours", 8))
        lim = d["limits"]
        self.max_count = int(lim["max_count"])
        self.limits = Limits(max_bytes=int(lim["max_bytes"]), max_depth=int(lim["max_depth"]))
        self.replay_seconds = float(d["replay"]["remember_seconds"])
        self.replay_max = int(d["replay"]["max_entries"])
        resp = d["response"]
        self.resp_root: str = resp["root"]
        self.resp_elements: list[str] = list(resp["elements"])
        self.reasons: dict[str, dict[str, Any]] = d["reasons"]
        self._reason_by_rule: dict[str, str] = {r: code for code, v in self.reasons.items() for r in v.get("rules", [])}
        self.records = profile.records
        try:
            self.recipe: Recipe = Recipe.from_data(d.get("verify_code"))
        except ValueError as exc:
            raise ProfileError(f"envelope.toml [verify_code]: {exc}") from exc
        #: the checks :meth:`parse` runs, in order (``[checks]``: a dialect drops or replaces rules by name)
        self.checks: CheckTable = table_from_data(d.get("checks"))

    @cached_property
    def city_form(self) -> CityForm:
        """How this profile writes its records (a dialect's ``[emit]``; identity for the reference)."""
        return CityForm(self.records, self.profile.data("records").get("emit"))

    def with_recipe(self, recipe: Recipe) -> "EnvelopeSpec":
        """The same envelope with another VerifyCode recipe (e.g. the one a target declares)."""
        other = copy.copy(self)
        other.recipe = recipe
        return other

    def with_checks(self, checks: CheckTable) -> "EnvelopeSpec":
        """The same envelope checked by another table (e.g. ``self.checks.swapped(...)`` from a proof)."""
        other = copy.copy(self)
        other.checks = checks
        return other

    def replay_guard(self) -> ReplayGuard:
        """A :class:`ReplayGuard` sized by the profile."""
        return ReplayGuard(self.replay_seconds, self.replay_max)

    # -- signing -----------------------------------------------------------
    def verify_code(
        self, key: str | bytes, node_id: str, request_time: str, index: str, count: str, data_date: str, digest: str
    ) -> str:
        """The VerifyCode (lowercase hex) for these values, exactly as transmitted, by the declared recipe.

        Raises :class:`~profiles.signature.RecipeUnavailable` under a recipe declared
        ``unknown`` or ``none`` (nothing can be signed with it)."""
        return self.recipe.compute(
            key,
            {
                "NodeId": node_id,
                "RequestTime": request_time,
                "Index": index,
                "Count": str(count),
                "DataDate": data_date,
                "PayloadDigest": digest,
            },
        )

    # -- building ----------------------------------------------------------
    def build(
        self,
        node_id: str,
        record_type: str,
        records: list[dict[str, str]],
        key: str | bytes,
        request_time: _dt.datetime | str | None = None,
        data_date: str | None = None,
        fmt: str = "xml",
    ) -> bytes:
        """An envelope of ``records`` (all of ``record_type``) signed with ``key``.

        ``request_time``: a datetime (Beijing time if naive), a 17-digit
        string, or ``None`` for now.  ``data_date``: yyyyMMdd; by default the
        first record's business date, else the request date.  Raises
        ``KeyError`` for an unknown record type and
        :class:`~profiles.records.RecordEncodeError` for unencodable values.
        """
        rt = self.records.types[record_type]
        if self.city_form.active:
            records = [self.city_form.write(record_type, r) for r in records]
        if request_time is None:
            request_time = _dt.datetime.now(_dt.timezone.utc)
        rtime = (
            request_time
            if isinstance(request_time, str)
            else format_request_time(beijing(request_time, self.utc_offset))
        )
        if data_date is None:
            data_date = next((d for d in (rt.business_date(r) for r in records) if d), rtime[:8])
        count = str(len(records))
        digest = payload_digest((record_type, r) for r in records)
        vc = self.verify_code(key, node_id, rtime, rt.index, count, data_date, digest)
        head = {
            "NodeId": node_id,
            "RequestTime": rtime,
            "VerifyCode": vc,
            "Index": rt.index,
            "Count": count,
            "DataDate": data_date,
        }
        if fmt == "json":
            self.records._check_json(record_type, {})
            for r in records:
                self.records._check_json(record_type, r)
            return json.dumps(
                {self.root: {**head, self.payload: {record_type: records}}}, ensure_ascii=False, separators=(",", ":")
            ).encode("utf-8")
        if fmt != "xml":
            raise ValueError("fmt must be 'xml' or 'json'")
        body = "".join(self.records.record_xml(record_type, r) for r in records)
        heads = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in head.items())
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><{self.root}>{heads}'
            f"<{self.payload}>{body}</{self.payload}></{self.root}>"
        ).encode("utf-8")

    # -- parsing -----------------------------------------------------------
    def parse(
        self,
        data: bytes,
        key: KeySource = None,
        now: _dt.datetime | None = None,
        replay: ReplayGuard | None = None,
        validate_records: bool = True,
        max_count: int | None = None,
        limits: Limits | None = None,
    ) -> EnvelopeResult:
        """Parse and check an envelope (XML or JSON, by its first byte).  Never raises for bad input.

        :param key: the node's secret, or a callable ``node_id -> secret | None``
            (``None``: unknown node, TRAN-ENV-05), or ``None`` to check the
            VerifyCode's format only.
        :param now: the receiver's clock for TRAN-ENV-04 (skipped if ``None``).
        :param replay: a :class:`ReplayGuard`; consulted only for authenticated envelopes.
        :param max_count: override of the profile's maximum Count.
        """
        limits = limits or self.limits
        if looks_like_xml(data):
            res = self._parse_xml(data, limits)
        else:
            res = self._parse_json(data, limits)
        if res.findings:
            return res
        self._check(res, key, now, replay, validate_records, self.max_count if max_count is None else max_count)
        return res

    def _parse_xml(self, data: bytes, limits: Limits) -> EnvelopeResult:
        res = EnvelopeResult("xml")
        src = XmlSource(data, limits)
        if not src.findings:
            wrong = self._undeclared_encoding(src.declared)
            if wrong is not None:
                res.findings.append(wrong)
                return res
        cat = self.records
        seen_payload = in_payload = False
        for ev, el, depth in src.events():
            if ev == "start":
                if depth == 1 and el.tag != self.root:
                    res.findings.append(
                        Finding(
                            E01,
                            str(el.tag)[:40],
                            f"根元素应为 <{self.root}>，实为 <{el.tag}>",
                            f"the root element must be <{self.root}>, not <{el.tag}>",
                        )
                    )
                    break
                if depth == 2:
                    in_payload = el.tag == self.payload
                continue
            if depth == 3 and in_payload:
                rec, found = cat.element_record(el)
                res.records.append(DecodedRecord(str(el.tag), rec, len(res.records) + 1, found))
                el.clear()
            elif depth == 2:
                tag = str(el.tag)
                if tag == self.payload:
                    if seen_payload:
                        res.findings.append(Finding(E01, tag, f"<{tag}> 出现多次", f"<{tag}> occurs more than once"))
                    seen_payload = True
                elif tag in self.header_elements:
                    if tag in res.header:
                        res.findings.append(Finding(E01, tag, f"<{tag}> 出现多次", f"<{tag}> occurs more than once"))
                    elif len(el):
                        res.findings.append(
                            Finding(E01, tag, f"<{tag}> 不应含子元素", f"<{tag}> must not contain elements")
                        )
                    else:
                        res.header[tag] = el.text or ""
                else:
                    res.findings.append(
                        Finding(
                            E01,
                            tag[:40],
                            f"{self.root} 中有未知元素 <{tag}>",
                            f"unknown element <{tag}> in {self.root}",
                        )
                    )
                el.clear()
        res.findings[:0] = src.findings
        if not res.findings and not seen_payload:
            res.findings.append(
                Finding(
                    E01,
                    self.payload,
                    f"缺少 <{self.payload}>（数据记录）",
                    f"<{self.payload}> (the records) is missing",
                )
            )
        return res

    def _undeclared_encoding(self, declared: str | None) -> Finding | None:
        """TRAN-ENC-01 when the XML declares an encoding the profile's transport does not accept (GBK, GB2312
        and CP936 count as GBK; no declaration is UTF-8); ``None`` if accepted or the profile declares no list."""
        accepted = self.profile.transport.get("encodings", {}).get("accepted")
        if not accepted:
            return None
        norm = {"GB2312": "GBK", "CP936": "GBK", "X-GBK": "GBK", "EUC-CN": "GBK", "UTF8": "UTF-8"}
        name = (declared or "UTF-8").upper()
        name = norm.get(name, name)
        if name in {norm.get(a.upper(), a.upper()) for a in accepted}:
            return None
        return Finding(
            "TRAN-ENC-01",
            "encoding",
            f"声明的编码 {declared} 不在本配置接受的编码（{'、'.join(accepted)}）之内",
            f"the declared encoding {declared} is not one this profile accepts ({', '.join(accepted)})",
            value=str(declared)[:40],
        )

    def _parse_json(self, data: bytes, limits: Limits) -> EnvelopeResult:
        res = EnvelopeResult("json")
        value, found = read_json(data, limits)
        if found:
            res.findings += found
            return res
        if not (isinstance(value, dict) and set(value) == {self.root} and isinstance(value[self.root], dict)):
            res.findings.append(
                Finding(E01, "$", f'JSON 应为 {{"{self.root}": {{…}}}}', f'JSON must be {{"{self.root}": {{…}}}}')
            )
            return res
        body = value[self.root]
        for k, v in body.items():
            if k == self.payload:
                continue
            if k not in self.header_elements:
                res.findings.append(
                    Finding(E01, str(k)[:40], f"{self.root} 中有未知元素 {k}", f"unknown element {k} in {self.root}")
                )
            elif not isinstance(v, str):
                res.findings.append(Finding(E01, k, f"{k} 应为文本", f"{k} must be text"))
            else:
                res.header[k] = v
        pay = body.get(self.payload)
        if pay is None:
            res.findings.append(
                Finding(
                    E01, self.payload, f"缺少 {self.payload}（数据记录）", f"{self.payload} (the records) is missing"
                )
            )
            return res
        if not (isinstance(pay, dict) and len(pay) <= 1 and all(isinstance(v, list) for v in pay.values())):
            res.findings.append(
                Finding(
                    E01,
                    self.payload,
                    f'{self.payload} 应为 {{"记录类型": [记录…]}}',
                    f'{self.payload} must be {{"TYPE": [records…]}}',
                )
            )
            return res
        for tname, recs in pay.items():
            for r in recs:
                pos = len(res.records) + 1
                if isinstance(r, dict):
                    res.records.append(DecodedRecord(tname, {str(k): v for k, v in r.items() if v is not None}, pos))
                else:
                    res.records.append(
                        DecodedRecord(
                            tname,
                            {},
                            pos,
                            [
                                Finding(
                                    "TRAN-REC-01", f"[{pos}]", "记录应为 JSON 对象", "a record must be a JSON object"
                                )
                            ],
                        )
                    )
        return res

    def _check(
        self,
        res: EnvelopeResult,
        key: KeySource,
        now: _dt.datetime | None,
        replay: ReplayGuard | None,
        validate_records: bool,
        max_count: int,
    ) -> None:
        ctx = CheckContext(self, res, key, now, replay, validate_records, max_count)
        if ctx.record_type is not None:
            res.record_type = ctx.record_type.name
        res.digest = payload_digest((r.type, r.record) for r in res.records)
        self.checks.run(ctx)

    # -- responses ---------------------------------------------------------
    def reason_for(self, finding: Finding) -> str:
        """The reason code for a finding's rule ("1199" if the rule has none)."""
        return self._reason_by_rule.get(finding.rule, "1199")

    def reason_text(self, code: str, lang: str = "zh") -> str:
        r = self.reasons.get(code)
        return "" if r is None else (r["en"] if lang == "en" else r["zh"])

    def respond(
        self,
        res: EnvelopeResult,
        now: _dt.datetime | None = None,
        duplicates: Iterable[int] = (),
        overrides: dict[int, tuple[str, ...]] | None = None,
    ) -> Response:
        """The response to a parsed envelope.

        ``duplicates``: 1-based positions the receiver already had (verdict
        duplicate, reason 2009); ``overrides``: position -> (reason, message)
        for records the receiver rejects for its own reasons (e.g. 2008).
        """
        now = now or _dt.datetime.now(_dt.timezone.utc)
        h = res.header
        reply = partial(
            Response,
            h.get("NodeId", ""),
            h.get("RequestTime", ""),
            format_request_time(beijing(now, self.utc_offset)),
            h.get("Index", ""),
        )
        errs = [f for f in res.findings if f.severity == "error"]
        if errs:
            code = self.reason_for(errs[0])
            return reply(code=code, message=self.result_message(code), count=0)
        dup = set(duplicates)
        overrides = overrides or {}
        results = []
        for r, rf in zip(res.records, res.record_findings):
            errs = [f for f in rf if f.severity == "error"]
            every = [_finding_row(f) for f in rf]  # all of them, not only the first (issue 12)
            if errs:
                f = errs[0]
                results.append(RecordVerdict(r.position, "rejected", self.reason_for(f), f.field, f.zh, f.en, every))
            elif r.position in overrides:
                reason, msg, *more = overrides[r.position]
                en = more[0] if more else self.reason_text(reason, "en")
                every.insert(
                    0, {"rule": more[1] if len(more) > 1 else "", "field": "", "severity": "error", "zh": msg, "en": en}
                )
                results.append(RecordVerdict(r.position, "rejected", reason, None, msg, en, every))
            elif r.position in dup:
                results.append(RecordVerdict(r.position, "duplicate", "2009", findings=every))
            else:
                results.append(RecordVerdict(r.position, "accepted", "0000", findings=every))
        return reply(code="0000", message=self.result_message("0000"), count=len(results), results=results)

    def result_message(self, code: str) -> str:
        """ResultMsg: the reason's text in both languages, ``"zh / en"`` (one element, as the format allows)."""
        zh, en = self.reason_text(code, "zh"), self.reason_text(code, "en")
        return f"{zh} / {en}" if en and en != zh else zh

    def refuse(self, code: str, now: _dt.datetime | None = None, header: dict[str, str] | None = None) -> Response:
        """A whole-envelope refusal with ``code`` (e.g. "1111" unknown node, "1199" busy)."""
        if code not in self.reasons or code == "0000":
            raise ValueError(f"not a refusal reason: {code!r}")
        now = now or _dt.datetime.now(_dt.timezone.utc)
        h = header or {}
        return Response(
            h.get("NodeId", ""),
            h.get("RequestTime", ""),
            format_request_time(beijing(now, self.utc_offset)),
            h.get("Index", ""),
            code,
            self.result_message(code),
            0,
        )

    def build_response(self, resp: Response, fmt: str = "xml") -> bytes:
        """Serialise a response (XML or JSON)."""
        t = resp.tally()
        head = {
            "NodeId": resp.node_id,
            "RequestTime": resp.request_time,
            "ResponseTime": resp.response_time,
            "Index": resp.index,
            "ResultCode": resp.code,
            "ResultMsg": resp.message,
            "Count": str(resp.count),
            "Accepted": str(t["accepted"]),
            "Duplicate": str(t["duplicate"]),
            "Rejected": str(t["rejected"]),
        }
        rows = []
        for r in resp.results:
            row: dict[str, Any] = {"Seq": str(r.seq), "Verdict": r.verdict, "Reason": r.reason}
            if r.field is not None:
                row["Field"] = r.field
            if r.message is not None:
                row["Message"] = r.message
            if r.message_en is not None:
                row["MessageEn"] = r.message_en
            rows.append(row)
        if fmt == "json":
            for row, r in zip(rows, resp.results):
                if r.findings:
                    row["Findings"] = [{k.capitalize(): v for k, v in f.items()} for f in r.findings]
            return json.dumps(
                {self.resp_root: {**head, "Results": rows}}, ensure_ascii=False, separators=(",", ":")
            ).encode("utf-8")
        inner = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in head.items())
        res = "".join(
            "<Result>" + "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in row.items()) + _findings_xml(r) + "</Result>"
            for row, r in zip(rows, resp.results)
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><{self.resp_root}>{inner}<Results>{res}</Results>'
            f"</{self.resp_root}>"
        ).encode("utf-8")

    def parse_response(self, data: bytes, limits: Limits | None = None) -> tuple[Response | None, list[Finding]]:
        """Read and check a response (TRAN-ENV-09 and TRAN-ENC-*); ``(None, findings)`` if unreadable."""
        limits = limits or self.limits
        head: dict[str, Any] = {}
        rows: list[dict[str, Any]] = []
        fs: list[Finding] = []
        if looks_like_xml(data):
            src = XmlSource(data, limits)
            root = src.tree()
            if root is None:
                return None, src.findings
            if root.tag != self.resp_root:
                return None, [
                    Finding(
                        E09,
                        str(root.tag)[:40],
                        f"根元素应为 <{self.resp_root}>",
                        f"the root element must be <{self.resp_root}>",
                    )
                ]
            for c in root:
                if c.tag == "Results":
                    rows = [
                        {g.tag: (_findings_of(g) if g.tag == "Findings" else g.text or "") for g in r}
                        for r in c
                        if r.tag == "Result"
                    ]
                    if any(r.tag != "Result" for r in c):
                        fs.append(Finding(E09, "Results", "Results 只能含 <Result>", "Results holds only <Result>"))
                elif c.tag in head:
                    fs.append(Finding(E09, str(c.tag), f"<{c.tag}> 出现多次", f"<{c.tag}> occurs more than once"))
                else:
                    head[c.tag] = c.text or ""
            if "Results" not in {c.tag for c in root}:
                head.pop("Results", None)
                fs.append(Finding(E09, "Results", "缺少 <Results>", "<Results> is missing"))
        else:
            value, found = read_json(data, limits)
            if found:
                return None, found
            if not (isinstance(value, dict) and isinstance(value.get(self.resp_root), dict)):
                return None, [
                    Finding(
                        E09,
                        "$",
                        f'JSON 应为 {{"{self.resp_root}": {{…}}}}',
                        f'JSON must be {{"{self.resp_root}": {{…}}}}',
                    )
                ]
            body = value[self.resp_root]
            head = {k: v for k, v in body.items() if k != "Results"}
            rows = body.get("Results") if isinstance(body.get("Results"), list) else []
            if not isinstance(body.get("Results"), list):
                fs.append(Finding(E09, "Results", "缺少 Results 数组", "Results (an array) is missing"))
            rows = [r if isinstance(r, dict) else {} for r in rows]
        return self._check_response(head, rows, fs)

    def _check_response(
        self, head: dict[str, Any], rows: list[dict[str, Any]], fs: list[Finding]
    ) -> tuple[Response | None, list[Finding]]:
        for e in self.resp_elements:
            if e != "Results" and e not in head:
                fs.append(Finding(E09, e, f"响应缺少 <{e}>", f"the response lacks <{e}>"))
        for k in head:
            if k not in self.resp_elements:
                fs.append(
                    Finding(E09, str(k)[:40], f"响应中有未知元素 <{k}>", f"unknown element <{k}> in the response")
                )
        if fs:
            return None, fs
        head = {k: (v if isinstance(v, str) else str(v)) for k, v in head.items()}
        code = head["ResultCode"]
        if code not in self.reasons:
            fs.append(
                Finding(E09, "ResultCode", f"未知的结果码 {code}", f"unknown result code {code!r}", value=code[:40])
            )
        if parse_request_time(head["ResponseTime"]) is None:
            fs.append(
                Finding(
                    E09,
                    "ResponseTime",
                    "ResponseTime 应为 yyyyMMddHHmmssSSS",
                    "ResponseTime must be yyyyMMddHHmmssSSS",
                    value=head["ResponseTime"][:40],
                )
            )
        nums = {}
        for e in ("Count", "Accepted", "Duplicate", "Rejected"):
            if not DIGITS.match(head[e]):
                fs.append(
                    Finding(E09, e, f"{e} 应为非负整数", f"{e} must be a non-negative integer", value=head[e][:40])
                )
            else:
                nums[e] = int(head[e])
        results = []
        for i, row in enumerate(rows, 1):
            seq, verdict, reason = str(row.get("Seq", "")), row.get("Verdict"), str(row.get("Reason", ""))
            where = f"Results[{i}]"
            if seq != str(i):
                fs.append(Finding(E09, where, f"Seq 应为 {i}", f"Seq must be {i}", value=seq[:40]))
            if verdict not in VERDICTS:
                fs.append(
                    Finding(
                        E09,
                        where,
                        "Verdict 应为 accepted/duplicate/rejected",
                        "Verdict must be accepted/duplicate/rejected",
                        value=str(verdict)[:40],
                    )
                )
            want = {"accepted": "0000", "duplicate": "2009"}.get(str(verdict))
            if (
                reason not in self.reasons
                or (want and reason != want)
                or (verdict == "rejected" and reason in ("0000", "2009"))
            ):
                fs.append(
                    Finding(
                        E09,
                        where,
                        f"Reason {reason} 与 Verdict {verdict} 不符",
                        f"Reason {reason!r} does not fit Verdict {verdict!r}",
                        value=reason[:40],
                    )
                )
            listed = row.get("Findings")
            found = listed if isinstance(listed, list) else []
            results.append(
                RecordVerdict(
                    i,
                    str(verdict),
                    reason,
                    row.get("Field"),
                    row.get("Message"),
                    row.get("MessageEn"),
                    [{k.lower(): str(v) for k, v in f.items()} for f in found if isinstance(f, dict)],
                )
            )
        resp = Response(
            head["NodeId"],
            head["RequestTime"],
            head["ResponseTime"],
            head["Index"],
            code,
            head["ResultMsg"],
            nums.get("Count", 0),
            results,
        )
        if len(nums) == 4:
            t = resp.tally()
            if code == "0000" and nums["Count"] != len(results):
                fs.append(Finding(E09, "Count", "Count 与 Result 条数不符", "Count differs from the number of Results"))
            if code != "0000" and results:
                fs.append(
                    Finding(
                        E09, "Results", "整报文被拒时不应有逐条结果", "a refused envelope has no per-record results"
                    )
                )
            if (nums["Accepted"], nums["Duplicate"], nums["Rejected"]) != (
                t["accepted"],
                t["duplicate"],
                t["rejected"],
            ):
                fs.append(
                    Finding(
                        E09,
                        "Accepted",
                        "Accepted/Duplicate/Rejected 与逐条结果不符",
                        "Accepted/Duplicate/Rejected do not match the results",
                    )
                )
        return (None if fs else resp), fs


# -- the per-record findings of a response (a documented extension of the profile's response) --------------
_FINDING_KEYS = ("rule", "field", "severity", "zh", "en")


def _finding_row(f: Finding) -> dict[str, str]:
    return {"rule": f.rule, "field": f.field, "severity": f.severity, "zh": f.zh, "en": f.en}


def _findings_xml(r: RecordVerdict) -> str:
    """``<Findings><Finding><Rule/><Field/><Severity/><Zh/><En/></Finding>…</Findings>`` ('' if none)."""
    if not r.findings:
        return ""
    return (
        "<Findings>"
        + "".join(
            "<Finding>"
            + "".join(f"<{k.capitalize()}>{_escape(str(f.get(k, '')))}</{k.capitalize()}>" for k in _FINDING_KEYS)
            + "</Finding>"
            for f in r.findings
        )
        + "</Findings>"
    )


def _findings_of(el: Element) -> list[dict[str, str]]:
    return [{g.tag: g.text or "" for g in f} for f in el if f.tag == "Finding"]
