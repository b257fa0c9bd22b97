"""The checks of a parsed upload envelope, as an ordered table of named rule functions (issue 17 item 5).

:meth:`profiles.envelope.EnvelopeSpec.parse` runs :attr:`EnvelopeSpec.checks` over every envelope
that parsed: first the *envelope* rules in table order, each appending its findings to the
envelope's; then, for each record in payload order, the *record* rules, each appending to that
record's findings.  Order is part of the contract: findings come out in table order.

A rule function takes a :class:`CheckContext` (the parsed envelope and what the receiver knows:
key, clock, replay guard…) and returns its findings; it never raises for bad input.  A record rule
also takes the record and the findings the record has so far.  Values more than one rule needs
(the parsed RequestTime, the record type named by Index, whether DataDate is a valid date) are
computed by the context, not by a rule, so dropping a rule never changes another rule's input;
the one exception is ``replay``, which by its definition judges only an envelope that is otherwise
clean and authenticated (``verify-code`` sets :attr:`EnvelopeResult.authenticated`).

A dialect swaps rules from its data, ``envelope.toml [checks]`` (:func:`table_from_data`)::

    [checks]
    drop = ["clock-window"]                        # a rule by name: not run at all
    replace = { verify-code = "verify-code-form-only" }   # a rule by name -> a registered rule

Names are those of :data:`DEFAULT_TABLE`; a replacement names a rule of :data:`RULES` of the same
kind.  Anything else is a :class:`~profiles.profile.ProfileError` (bilingual, exit 2 in the CLI).
Code (a proof, a test) swaps a rule for any function with :meth:`CheckTable.swapped`.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import re
from dataclasses import dataclass, field as dc_field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping

from .findings import Finding
from .profile import ProfileError
from .requesttime import beijing, parse_request_time
from .signature import Recipe

if TYPE_CHECKING:  # typing only: the envelope module imports this one
    from .envelope import EnvelopeResult, EnvelopeSpec, KeySource, ReplayGuard
    from .records import DecodedRecord, RecordType

E01, E02, E03, E04, E05, E06, E07, E08, E09, E10 = (f"TRAN-ENV-{i:02d}" for i in range(1, 11))
HEX = re.compile(r"[0-9a-fA-F]+\Z")
DIGITS = re.compile(r"(0|[1-9][0-9]{0,8})\Z")

Kind = Literal["envelope", "record"]


@dataclass
class CheckContext:
    """One envelope under check: the parse result and what the receiver brings to it.

    :attr spec: the profile's envelope (recipe, clock window, records, codes…).
    :attr res: the parsed envelope; rules read it, the table appends their findings to it.
    :attr key: the node's secret, a callable ``node_id -> secret | None``, or ``None`` (form only).
    :attr now: the receiver's clock (``None``: no clock or replay checks).
    :attr max_count: the maximum number of records for this envelope.
    """

    spec: EnvelopeSpec
    res: EnvelopeResult
    key: KeySource = None
    now: _dt.datetime | None = None
    replay: ReplayGuard | None = None
    validate_records: bool = True
    max_count: int = 0

    def head(self, name: str) -> str:
        """The header element ``name`` as sent ("" if absent)."""
        return self.res.header.get(name, "")

    @cached_property
    def when(self) -> _dt.datetime | None:
        """The RequestTime as a datetime, ``None`` if absent or not a valid one."""
        rtime = self.head("RequestTime")
        return parse_request_time(rtime) if rtime else None

    @cached_property
    def record_type(self) -> RecordType | None:
        """The record type the Index names, ``None`` if absent or unknown."""
        index = self.head("Index")
        return self.spec.records.by_index.get(index) if index else None

    @cached_property
    def data_date_ok(self) -> bool:
        """DataDate is a valid yyyyMMdd date."""
        ddate = self.head("DataDate")
        try:
            ok_fmt = len(ddate) == 8 and ddate.isascii() and ddate.isdigit()
            return ok_fmt and bool(_dt.date(int(ddate[:4]), int(ddate[4:6]), int(ddate[6:])))
        except ValueError:
            return False


EnvelopeRuleFn = Callable[[CheckContext], list[Finding]]
RecordRuleFn = Callable[[CheckContext, "DecodedRecord", list[Finding]], list[Finding]]


@dataclass(frozen=True)
class NamedRule:
    """A rule function with its name, the rule ids it reports and what it checks (zh, en)."""

    name: str
    kind: Kind
    reports: tuple[str, ...]
    zh: str
    en: str
    check: Callable[..., list[Finding]] = dc_field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "reports": list(self.reports), "zh": self.zh, "en": self.en}


# -- envelope rules --------------------------------------------------------------------------------
def header_complete(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-01: every header element is present and not empty."""
    h = ctx.res.header
    return [Finding(E01, e, f"缺少 <{e}>", f"<{e}> is missing") for e in ctx.spec.header_elements if not h.get(e)]


def node_id(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-02: the NodeId is a valid node code (one finding per code-rule it breaks)."""
    node, codes = ctx.head("NodeId"), ctx.spec.profile.codes
    if not node or codes.is_valid(node, "node"):
        return []
    return [
        Finding(E02, "NodeId", f"NodeId：{c.zh}（{c.rule}）", f"NodeId: {c.en} ({c.rule})", value=node[:40])
        for c in codes.findings(node, "node")
    ]


def request_time(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-03: the RequestTime is yyyyMMddHHmmssSSS, a valid time."""
    rtime = ctx.head("RequestTime")
    if not rtime or ctx.when is not None:
        return []
    return [
        Finding(
            E03,
            "RequestTime",
            "RequestTime 应为 yyyyMMddHHmmssSSS（17位数字，有效时间）",
            "RequestTime must be yyyyMMddHHmmssSSS (17 digits, a valid time)",
            value=rtime[:40],
        )
    ]


def clock_window(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-04: the RequestTime is within the profile's window of the receiver's clock (if one is given)."""
    if ctx.when is None or ctx.now is None:
        return []
    spec = ctx.spec
    skew = ctx.when - beijing(ctx.now, spec.utc_offset)
    if abs(skew) <= spec.window:
        return []
    secs, win = int(skew.total_seconds()), int(spec.window.total_seconds())
    return [
        Finding(
            E04,
            "RequestTime",
            f"RequestTime 与平台时钟相差 {secs} 秒，超出 ±{win} 秒",
            f"RequestTime is {secs} s off the receiver's clock, outside ±{win} s",
            value=ctx.head("RequestTime"),
        )
    ]


def index(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-06: the Index is a known record-type code and the first record of another type is named."""
    idx, rt = ctx.head("Index"), ctx.record_type
    if idx and rt is None:
        return [Finding(E06, "Index", f"未知的 Index「{idx}」", f"unknown Index {idx!r}", value=idx[:40])]
    if rt is None:
        return []
    for r in ctx.res.records:
        if r.type != rt.name:
            return [
                Finding(
                    E06,
                    f"{ctx.spec.payload}[{r.position}]",
                    f"Index {idx} 表示 {rt.name}，第 {r.position} 条记录却是 {r.type}",
                    f"Index {idx} means {rt.name}, but record {r.position} is {r.type}",
                    value=str(r.type)[:40],
                )
            ]
    return []


def count(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-07: the Count is a non-negative integer equal to the number of records, within the maximum."""
    cnt, n = ctx.head("Count"), len(ctx.res.records)
    if not cnt:
        return []
    if not DIGITS.match(cnt):
        return [Finding(E07, "Count", "Count 应为非负整数", "Count must be a non-negative integer", value=cnt[:40])]
    out = []
    if int(cnt) != n:
        out.append(
            Finding(
                E07,
                "Count",
                f"Count 为 {cnt}，实际记录 {n} 条",
                f"Count says {cnt} but there are {n} records",
                value=cnt,
            )
        )
    if n > ctx.max_count:
        out.append(
            Finding(
                E07,
                "Count",
                f"记录 {n} 条，超过每个报文上限 {ctx.max_count} 条",
                f"{n} records, over the limit of {ctx.max_count} per envelope",
                value=str(n),
            )
        )
    return out


def data_date(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-08: the DataDate is a valid yyyyMMdd date, not after the RequestTime's date."""
    ddate = ctx.head("DataDate")
    if not ddate:
        return []
    if not ctx.data_date_ok:
        return [
            Finding(
                E08,
                "DataDate",
                "DataDate 应为有效的 yyyyMMdd 日期",
                "DataDate must be a valid yyyyMMdd date",
                value=ddate[:40],
            )
        ]
    if ctx.when is not None and ddate > ctx.head("RequestTime")[:8]:
        return [
            Finding(
                E08,
                "DataDate",
                f"DataDate {ddate} 晚于 RequestTime 的日期",
                f"DataDate {ddate} is after the RequestTime's date",
                value=ddate,
            )
        ]
    return []


def _bad_form(vc: str, n: int) -> Finding | None:
    """TRAN-ENV-05 when the VerifyCode is not ``n`` hex characters, else ``None``."""
    if len(vc) == n and HEX.match(vc):
        return None
    return Finding(
        E05, "VerifyCode", f"VerifyCode 应为{n}位十六进制字符", f"VerifyCode must be {n} hex characters", value=vc[:40]
    )


def _unchecked(zh: str, en: str) -> Finding:
    """TRAN-ENV-05 as a warning: the VerifyCode was not checked (not a sign of tampering)."""
    return Finding(E05, "VerifyCode", zh, en, severity="warning")


def not_verifiable(recipe: Recipe) -> Finding:
    """TRAN-ENV-05 as a warning: the declared recipe cannot verify a VerifyCode (not a sign of tampering)."""
    if recipe.algorithm == "none":
        return _unchecked(
            "声明为无报文认证：VerifyCode 不作校验，报文来源与完整性无法确认",
            "declared without message authentication: the VerifyCode is not checked, so the sender and "
            "the content's integrity cannot be confirmed",
        )
    return _unchecked(
        "VerifyCode 无法校验：未掌握该城市的签名算法（配置声明 unknown），并非判定报文被篡改",
        "the VerifyCode cannot be verified without the city's recipe (the profile declares it unknown); "
        "this does not mean the message was altered",
    )


def verify_code(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-05: the VerifyCode has the recipe's form and, with a key and a complete header, matches.

    Sets :attr:`EnvelopeResult.authenticated` when it matches.  Under a recipe that cannot verify
    (``unknown``, ``none``) a well-formed code is reported not verifiable (warning)."""
    spec, h, vc = ctx.spec, ctx.res.header, ctx.head("VerifyCode")
    if not vc:
        return []
    bad = _bad_form(vc, spec.recipe.hex_length)
    if bad is not None:
        return [bad]
    if not spec.recipe.verifiable:
        return [not_verifiable(spec.recipe)]
    if ctx.key is None or not all(h.get(e) for e in spec.header_elements):
        return []
    node = ctx.head("NodeId")
    k = ctx.key(node) if callable(ctx.key) else ctx.key
    if k is None:
        return [
            Finding(
                E05,
                "NodeId",
                f"节点 {node} 未注册或无密钥，无法校验 VerifyCode",
                f"node {node} is not registered or has no key; VerifyCode cannot be checked",
                value=node[:40],
            )
        ]
    want = spec.verify_code(
        k,
        node,
        ctx.head("RequestTime"),
        ctx.head("Index"),
        ctx.head("Count"),
        ctx.head("DataDate"),
        ctx.res.digest or "",
    )
    if hmac.compare_digest(want.encode("ascii"), vc.lower().encode("ascii")):
        ctx.res.authenticated = True
        return []
    return [
        Finding(
            E05,
            "VerifyCode",
            "VerifyCode 校验失败（密钥或报文内容不符）",
            "VerifyCode does not match (wrong key or altered content)",
        )
    ]


def verify_code_form_only(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-05 by form only: a VerifyCode of the recipe's form is reported not checked (warning), whatever
    the recipe; the envelope is never authenticated (so ``replay`` does not judge it)."""
    vc = ctx.head("VerifyCode")
    if not vc:
        return []
    bad = _bad_form(vc, ctx.spec.recipe.hex_length)
    if bad is not None:
        return [bad]
    return [
        _unchecked(
            "本配置只校验 VerifyCode 的格式，不校验其值：报文来源与完整性无法确认",
            "this profile checks the VerifyCode's form only, not its value: the sender and the content's "
            "integrity cannot be confirmed",
        )
    ]


def replay(ctx: CheckContext) -> list[Finding]:
    """TRAN-ENV-10: an authenticated envelope without other findings was not seen before (needs a replay guard
    and a clock); it is remembered."""
    res, now = ctx.res, ctx.now
    if not (res.authenticated and ctx.replay is not None and now is not None and not res.findings):
        return []
    rtime = ctx.head("RequestTime")
    if ctx.replay.check_and_remember(
        ctx.head("NodeId"), rtime, ctx.head("VerifyCode"), beijing(now, ctx.spec.utc_offset)
    ):
        return []
    return [
        Finding(
            E10,
            "RequestTime",
            "重复提交的报文（NodeId+RequestTime+VerifyCode 已出现过）",
            "replayed envelope (NodeId+RequestTime+VerifyCode seen before)",
            value=rtime,
        )
    ]


# -- record rules ----------------------------------------------------------------------------------
def record_fields(ctx: CheckContext, r: DecodedRecord, found: list[Finding]) -> list[Finding]:
    """TRAN-REC-*: the record against its type in the profile (skipped when the caller validates records itself)."""
    return ctx.spec.records.validate(r.type, r.record) if ctx.validate_records else []


def record_date(ctx: CheckContext, r: DecodedRecord, found: list[Finding]) -> list[Finding]:
    """TRAN-ENV-08 per record: the record's business date is not after the DataDate (error); earlier is a
    warning.  Only for records of the Index's type with a date field no earlier finding already names."""
    rt, ddate = ctx.record_type, ctx.head("DataDate")
    if not (ctx.data_date_ok and rt is not None and rt.date_field is not None and r.type == rt.name):
        return []
    bd = rt.business_date(r.record)  # None without a date field
    if not bd or rt.date_field in {f.field for f in found}:
        return []
    if bd > ddate:
        return [
            Finding(
                E08,
                rt.date_field,
                f"记录业务日期 {bd} 晚于 DataDate {ddate}",
                f"the record's business date {bd} is after the DataDate {ddate}",
                value=bd,
            )
        ]
    if bd == ddate:
        return []
    # earlier: only a warning, in practice DataDate is the upload day (Changchun 2015, standards.md §4.3)
    return [
        Finding(
            E08,
            rt.date_field,
            f"记录业务日期 {bd} 早于 DataDate {ddate}（实践中 DataDate 可为上传日）",
            f"the record's business date {bd} is before the DataDate {ddate} (in practice DataDate may be the upload day)",
            "warning",
            value=bd,
        )
    ]


def _rule(name: str, kind: Kind, reports: str, zh: str, en: str, check: Callable[..., list[Finding]]) -> NamedRule:
    return NamedRule(name, kind, tuple(reports.split()), zh, en, check)


#: Every named rule function, by name: the default table's and the alternatives a dialect may swap in.
RULES: dict[str, NamedRule] = {
    r.name: r
    for r in (
        _rule(
            "header-complete",
            "envelope",
            E01,
            "报头元素齐全且非空",
            "every header element present, not empty",
            header_complete,
        ),
        _rule("node-id", "envelope", E02, "NodeId 为有效节点编码", "NodeId is a valid node code", node_id),
        _rule(
            "request-time",
            "envelope",
            E03,
            "RequestTime 为 yyyyMMddHHmmssSSS 有效时间",
            "RequestTime is a valid yyyyMMddHHmmssSSS time",
            request_time,
        ),
        _rule(
            "clock-window",
            "envelope",
            E04,
            "RequestTime 在接收方时钟的容差窗口内（给定时钟时）",
            "RequestTime within the window of the receiver's clock (when one is given)",
            clock_window,
        ),
        _rule(
            "index",
            "envelope",
            E06,
            "Index 为已知记录类型代码，且记录都属该类型",
            "Index is a known record-type code and every record is of that type",
            index,
        ),
        _rule(
            "count",
            "envelope",
            E07,
            "Count 为非负整数，等于记录条数，不超过上限",
            "Count is a non-negative integer, equals the number of records, within the maximum",
            count,
        ),
        _rule(
            "data-date",
            "envelope",
            E08,
            "DataDate 为有效 yyyyMMdd 日期，不晚于 RequestTime 的日期",
            "DataDate is a valid yyyyMMdd date, not after the RequestTime's date",
            data_date,
        ),
        _rule(
            "verify-code",
            "envelope",
            E05,
            "VerifyCode 符合算法声明的格式，有密钥时校验其值（算法未知或无认证时报告无法校验）",
            "VerifyCode has the recipe's form and, given a key, matches (not verifiable under unknown or none)",
            verify_code,
        ),
        _rule(
            "verify-code-form-only",
            "envelope",
            E05,
            "（可替换 verify-code）只校验 VerifyCode 格式，报告未校验其值（警告）",
            "(may replace verify-code) the VerifyCode's form only; reports its value as not checked (warning)",
            verify_code_form_only,
        ),
        _rule(
            "replay",
            "envelope",
            E10,
            "已认证且无其他问题的报文未曾提交过（给定防重放记录与时钟时）",
            "an authenticated, otherwise clean envelope was not seen before (given a replay guard and a clock)",
            replay,
        ),
        _rule(
            "record-fields",
            "record",
            "TRAN-REC-*",
            "每条记录按其记录类型校验（字段、格式、编码、日期…）",
            "each record against its record type (fields, formats, codes, dates…)",
            record_fields,
        ),
        _rule(
            "record-date",
            "record",
            E08,
            "记录业务日期不晚于 DataDate（早于为警告）",
            "a record's business date not after the DataDate (earlier: a warning)",
            record_date,
        ),
    )
}

_DEFAULT_ORDER = (
    "header-complete",
    "node-id",
    "request-time",
    "clock-window",
    "index",
    "count",
    "data-date",
    "verify-code",  # last among the header checks but replay: it needs the payload digest
    "replay",  # after every other envelope rule: it judges only an otherwise clean envelope
    "record-fields",
    "record-date",
)


@dataclass(frozen=True)
class CheckTable:
    """The ordered rules: :attr:`envelope` run once per envelope, then :attr:`record` once per record."""

    envelope: tuple[NamedRule, ...]
    record: tuple[NamedRule, ...]

    @classmethod
    def of(cls, rules: Iterable[NamedRule]) -> CheckTable:
        rs = list(rules)
        return cls(tuple(r for r in rs if r.kind == "envelope"), tuple(r for r in rs if r.kind == "record"))

    @property
    def rules(self) -> tuple[NamedRule, ...]:
        return self.envelope + self.record

    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def run(self, ctx: CheckContext) -> None:
        """Every rule over ``ctx``: envelope rules append to ``ctx.res.findings``; record rules fill
        ``ctx.res.record_findings``, one list per record starting from the record's decoding findings."""
        res = ctx.res
        for rule in self.envelope:
            res.findings.extend(rule.check(ctx))
        for r in res.records:
            found = list(r.findings)
            for rule in self.record:
                found.extend(rule.check(ctx, r, found))
            res.record_findings.append(found)

    def swapped(
        self, drop: Iterable[str] = (), replace: Mapping[str, NamedRule | Callable[..., list[Finding]]] | None = None
    ) -> CheckTable:
        """This table with the rules named in ``drop`` removed and those keyed in ``replace`` swapped in place:
        by a :class:`NamedRule` of the same kind, or by a bare function (keeping the slot's name and texts).

        Raises :class:`~profiles.profile.ProfileError` for a name not in the table or a kind mismatch."""
        drop, replace = set(drop), dict(replace or {})
        known = set(self.names())
        for name in sorted((drop | set(replace)) - known):
            raise ProfileError(
                f"envelope.toml [checks]：未知的检查规则 {name!r}；已知：{'、'.join(self.names())}",
                f"envelope.toml [checks]: unknown check rule {name!r}; known: {', '.join(self.names())}",
            )
        for name in sorted(drop & set(replace)):
            raise ProfileError(
                f"envelope.toml [checks]：规则 {name!r} 不能既删除又替换",
                f"envelope.toml [checks]: rule {name!r} cannot be both dropped and replaced",
            )
        out = []
        for r in self.rules:
            if r.name in drop:
                continue
            new = replace.get(r.name, r)
            if not isinstance(new, NamedRule):
                new = NamedRule(r.name, r.kind, r.reports, r.zh, r.en, new)
            elif new.kind != r.kind:
                raise ProfileError(
                    f"envelope.toml [checks]：{new.name!r} 是{_KIND_ZH[new.kind]}规则，不能替换{_KIND_ZH[r.kind]}规则 {r.name!r}",
                    f"envelope.toml [checks]: {new.name!r} is a {new.kind} rule and cannot replace the {r.kind} rule "
                    f"{r.name!r}",
                )
            out.append(new)
        return CheckTable.of(out)


_KIND_ZH = {"envelope": "报文级", "record": "记录级"}

#: The table every profile starts from (the reference profile's checks, in their order).
DEFAULT_TABLE = CheckTable.of(RULES[n] for n in _DEFAULT_ORDER)


def table_from_data(data: Mapping[str, Any] | None) -> CheckTable:
    """The table a profile's ``envelope.toml [checks]`` makes of :data:`DEFAULT_TABLE` (``drop``, ``replace``).

    Raises :class:`~profiles.profile.ProfileError` (zh, en) for an unknown key, a malformed value, an unknown
    rule name or a replacement of another kind."""
    if not data:
        return DEFAULT_TABLE
    extra = sorted(set(data) - {"drop", "replace", "evidence", "source"})
    if extra:
        raise ProfileError(
            f"envelope.toml [checks]：未知的键 {', '.join(extra)}（可用 drop、replace）",
            f"envelope.toml [checks]: unknown key(s) {', '.join(extra)} (drop, replace are allowed)",
        )
    drop, replace = data.get("drop", []), data.get("replace", {})
    if not (isinstance(drop, list) and all(isinstance(n, str) for n in drop)):
        raise ProfileError(
            "envelope.toml [checks] drop：应为规则名的列表", "envelope.toml [checks] drop: a list of rule names"
        )
    if not (isinstance(replace, dict) and all(isinstance(v, str) for v in replace.values())):
        raise ProfileError(
            "envelope.toml [checks] replace：应为 规则名 = 规则名 的表",
            "envelope.toml [checks] replace: a table of rule name = rule name",
        )
    for name, other in replace.items():
        if other not in RULES:
            raise ProfileError(
                f"envelope.toml [checks] replace {name} = {other!r}：未知的规则；已知：{'、'.join(RULES)}",
                f"envelope.toml [checks] replace {name} = {other!r}: unknown rule; known: {', '.join(RULES)}",
            )
    return DEFAULT_TABLE.swapped(drop, {name: RULES[other] for name, other in replace.items()})
