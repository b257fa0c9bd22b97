"""流通节点编码, 经营者编码, 追溯码 and 商品编码: parse, explain, validate, generate.

Structures (reference profile, ``codes.toml``; evidence: deployed practice)::

    node      RRRRRR NNN                    9 digits  (GB/T 2260 county code + registration seq)
    operator  RRRRRR NNN OOOO              13 digits  (node code + operator seq; 0000 = the node itself)
    trace     RRRRRR NNN OOOO TTTTTTT      20 digits  (operator code + 7-digit sequence)
    batch     RRRRRR NNN BBBBBBB           16 digits  (node code + 7-digit sequence; Guangzhou 批次码)
    commodity CCCCCCCC                      8 digits  (the profile's commodity table)

Every validator returns :class:`~profiles.findings.Finding` objects; it never
raises for bad input.  Generators raise :class:`CodeError` (a ``ValueError``
carrying the findings) when asked to build an invalid code.

The fast path (:meth:`CodeBook.is_valid`) is a handful of string operations,
so a valid code costs well under a microsecond; explanations are built only
for codes that fail it.
"""

from __future__ import annotations

from dataclasses import dataclass, asdict
from typing import TYPE_CHECKING, Any

from .errors import RoucaiError
from .findings import Finding, Report
from .regions import RegionTable

if TYPE_CHECKING:  # typing only: the profile builds the table
    from .commodities import CommodityTable

KINDS = ("node", "operator", "trace", "commodity", "batch")

_KIND_ZH = {
    "node": "流通节点编码",
    "operator": "经营者编码",
    "trace": "追溯码",
    "commodity": "商品编码",
    "batch": "批次码",
}
_KIND_EN = {
    "node": "node code",
    "operator": "operator code",
    "trace": "trace code",
    "commodity": "commodity code",
    "batch": "batch code",
}
_RULE_FORMAT = {
    "node": "CODE-NODE-01",
    "operator": "CODE-OPER-01",
    "trace": "CODE-TRACE-01",
    "commodity": "CODE-COMM-01",
    "batch": "CODE-BATCH-01",
}


class CodeError(RoucaiError, ValueError):
    """Raised by the generators when the requested code would be invalid (non-conformant, exit 1)."""

    exit_code = 1

    def __init__(self, findings: list[Finding]):
        super().__init__("；".join(f.zh for f in findings), "; ".join(f.en for f in findings))
        self.findings = findings


@dataclass(frozen=True, slots=True)
class CodeParts:
    """The parts of a code.  Fields that do not apply to ``kind`` are ``None``."""

    kind: str
    code: str
    region_code: str | None = None
    region_name: str | None = None
    node_code: str | None = None
    node_seq: str | None = None
    operator_code: str | None = None
    operator_seq: str | None = None
    trace_seq: str | None = None
    batch_seq: str | None = None
    commodity_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _char_findings(code: str, rule: str, label_zh: str, label_en: str) -> list[Finding]:
    """Explain every character that is not an ASCII digit (full-width, space, letter…)."""
    out = []
    for i, ch in enumerate(code):
        if "0" <= ch <= "9":
            continue
        pos = f"[{i}]"
        if "\uff10" <= ch <= "\uff19":
            zh = f"第{i + 1}位「{ch}」是全角数字，应为半角数字「{chr(ord(ch) - 0xFEE0)}」"
            en = f"position {i + 1} is the full-width digit {ch!r}; use the ASCII digit {chr(ord(ch) - 0xFEE0)!r}"
        elif ch.isspace():
            zh = f"第{i + 1}位是空白字符（U+{ord(ch):04X}），{label_zh}不能含空格"
            en = f"position {i + 1} is white space (U+{ord(ch):04X}); a {label_en} has no spaces"
        else:
            zh = f"第{i + 1}位「{ch}」不是数字，{label_zh}只含数字0-9"
            en = f"position {i + 1} is {ch!r}, not a digit; a {label_en} has digits 0-9 only"
        out.append(Finding(rule, pos, zh, en, value=ch))
    return out


class CodeBook:
    """The profile's code rules over a region table.

    :param regions: the profile's GB/T 2260 table.
    :param spec: the ``codes`` data of the profile (see ``codes.toml``).
    :param commodities: optional :class:`~profiles.commodities.CommodityTable`
        for commodity-code checks (``None``: any 8-digit code with a known
        prefix passes the table check).
    """

    def __init__(self, regions: RegionTable, spec: dict[str, Any], commodities: CommodityTable | None = None):
        self.regions = regions
        self.spec = spec
        self.commodities = commodities
        n, o, t, c = spec["node"], spec["operator"], spec["trace"], spec["commodity"]
        b = spec.get("batch", {"length": int(n["length"]) + int(t["seq_digits"]), "seq_digits": t["seq_digits"]})
        self.len = {
            "node": int(n["length"]),
            "operator": int(o["length"]),
            "trace": int(t["length"]),
            "commodity": int(c["length"]),
            "batch": int(b["length"]),
        }
        self._zero_batch = "0" * (int(b["length"]) - int(n["length"]))
        self._rd = int(n["region_digits"])
        self._nl, self._ol, self._tl = self.len["node"], self.len["operator"], self.len["trace"]
        self._zero_node = "0" * int(n["seq_digits"])
        self._zero_trace = "0" * int(t["seq_digits"])
        self.self_seq = str(o.get("self_seq", "0000"))
        self.meat_prefix = c["meat_prefix"]
        self.vegetable_prefix = c["vegetable_prefix"]
        self._prefixes = regions.node_prefixes

    # -- fast path ---------------------------------------------------------
    def is_valid(self, code: object, kind: str = "trace") -> bool:
        """True iff ``code`` is a valid code of ``kind``.  No explanation; fast."""
        if type(code) is not str or len(code) != self.len[kind] or not (code.isascii() and code.isdigit()):
            return False
        if kind == "commodity":
            return self._commodity_known(code)
        rd, nl = self._rd, self._nl
        if code[:rd] not in self._prefixes:
            return False
        if kind == "batch":
            return code[nl:] != self._zero_batch
        return kind != "trace" or code[self._ol :] != self._zero_trace

    def _commodity_known(self, code: str) -> bool:
        if self.commodities is not None:
            return code in self.commodities
        return code.startswith((self.meat_prefix, self.vegetable_prefix))

    # -- explanation -------------------------------------------------------
    def guess_kind(self, code: str) -> str:
        """The kind whose length is nearest to ``len(code)`` (ties go to ``trace``)."""
        n = len(code)
        return min(("trace", "batch", "operator", "node", "commodity"), key=lambda k: abs(self.len[k] - n))

    def findings(self, code: str, kind: str | None = None) -> list[Finding]:
        """Every finding about ``code`` read as ``kind`` (guessed by length if ``None``)."""
        if not isinstance(code, str):
            raise TypeError("code must be str")
        kind = kind or self.guess_kind(code)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.is_valid(code, kind):
            return self._advice(code, kind)
        rule = _RULE_FORMAT[kind]
        lz, le = _KIND_ZH[kind], _KIND_EN[kind]
        out: list[Finding] = []
        if code == "":
            return [Finding(rule, "code", f"{lz}为空", f"the {le} is empty")]
        want = self.len[kind]
        if len(code) != want:
            out.append(
                Finding(
                    rule,
                    "length",
                    f"{lz}应为{want}位，实为{len(code)}位",
                    f"a {le} has {want} digits, this has {len(code)}",
                    value=str(len(code)),
                )
            )
        out += _char_findings(code, rule, lz, le)
        if out and len(code) != want:
            return out
        if out:  # right length, bad characters: positions are meaningful, but parts are not
            return out
        if kind == "commodity":
            return self._commodity_findings(code)
        out += self._node_part_findings(code)
        if kind in ("operator", "trace"):
            pass  # any 4-digit operator sequence is valid; 0000 is the node itself
        if kind == "trace" and code[self._ol :] == self._zero_trace:
            out.append(
                Finding(
                    "CODE-TRACE-03",
                    f"[{self._ol}:{self._tl}]",
                    f"追溯码流水号（第{self._ol + 1}-{self._tl}位）不能全为0",
                    f"the trace sequence (positions {self._ol + 1}-{self._tl}) cannot be all zeros",
                    value=code[self._ol :],
                )
            )
        if kind == "batch" and code[self._nl :] == self._zero_batch:
            out.append(
                Finding(
                    "CODE-BATCH-01",
                    f"[{self._nl}:{self.len['batch']}]",
                    f"批次码流水号（第{self._nl + 1}-{self.len['batch']}位）不能全为0",
                    f"the batch sequence (positions {self._nl + 1}-{self.len['batch']}) cannot be all zeros",
                    value=code[self._nl :],
                )
            )
        return out

    def _advice(self, code: str, kind: str) -> list[Finding]:
        """Warnings (recommended rules) about a valid code: node registration sequence 000 (CODE-NODE-03).

        Practice shows 000 (Guangzhou's portal code 4401060000014401; rlscsy's getNodeCode does not refuse
        it), so the profile's 001-999 rule is a recommendation.
        """
        if kind == "commodity" or code[self._rd : self._nl] != self._zero_node:
            return []
        rd, nl = self._rd, self._nl
        return [
            Finding(
                "CODE-NODE-03",
                f"[{rd}:{nl}]",
                f"节点备案流水号（第{rd + 1}-{nl}位）为{self._zero_node}：实践中可见，本配置建议从001起",
                f"the node registration sequence (positions {rd + 1}-{nl}) is {self._zero_node}: seen in "
                "practice; the profile recommends starting at 001",
                severity="warning",
                value=code[rd:nl],
            )
        ]

    def _node_part_findings(self, code: str) -> list[Finding]:
        out = []
        rd = self._rd
        region = code[:rd]
        if region not in self._prefixes:
            r = self.regions.get(region)
            if r is None:
                zh = f"区域码「{region}」不是GB/T 2260行政区划代码"
                en = f"region {region!r} is not a GB/T 2260 administrative division code"
            else:
                level_zh = {"province": "省级", "prefecture": "地级"}.get(r.level, r.level)
                zh = f"区域码「{region}」是{level_zh}代码（{r.name}），节点编码应使用县级代码"
                en = f"region {region!r} is a {r.level}-level code ({r.name}); node codes use a county-level code"
            out.append(Finding("CODE-NODE-02", f"[0:{rd}]", zh, en, value=region))
        return out

    def _commodity_findings(self, code: str) -> list[Finding]:
        if not code.startswith((self.meat_prefix, self.vegetable_prefix)):
            return [
                Finding(
                    "CODE-COMM-02",
                    "[0:4]",
                    f"商品编码「{code}」不以肉类前缀{self.meat_prefix}或蔬菜前缀{self.vegetable_prefix}开头",
                    f"commodity code {code!r} starts with neither the meat prefix {self.meat_prefix} "
                    f"nor the vegetable prefix {self.vegetable_prefix}",
                    value=code,
                )
            ]
        # practice sends codes outside any one table (Ningbo's pork 21113011): a recommendation only
        return [
            Finding(
                "CODE-COMM-03",
                "code",
                f"商品编码「{code}」不在本配置的商品码表中（实践中可见，按原样接收）",
                f"commodity code {code!r} is not in the profile's commodity table (seen in practice; accepted as sent)",
                severity="warning",
                value=code,
            )
        ]

    def parts(self, code: str, kind: str) -> CodeParts:
        """Split a code (assumed valid for ``kind``) into its named parts."""
        if kind == "commodity":
            name = None
            if self.commodities is not None and code in self.commodities:
                name = self.commodities[code].name_zh
            return CodeParts(kind, code, commodity_name=name)
        rd, nl, ol = self._rd, self._nl, self._ol
        region = code[:rd]
        return CodeParts(
            kind,
            code,
            region_code=region,
            region_name=self.regions.full_name(region) or None,
            node_code=code[:nl],
            node_seq=code[rd:nl],
            operator_code=code[:ol] if kind in ("operator", "trace") else None,
            operator_seq=code[nl:ol] if kind in ("operator", "trace") else None,
            trace_seq=code[ol:] if kind == "trace" else None,
            batch_seq=code[nl:] if kind == "batch" else None,
        )

    def check(self, code: str, kind: str | None = None) -> Report:
        """Parse and explain ``code``: a :class:`Report` with parts and findings."""
        kind = kind or self.guess_kind(code)
        rep = Report(code)
        rep.details["kind"] = kind
        rep.extend(self.findings(code, kind))
        if len(code) == self.len[kind] and code.isascii() and code.isdigit():
            rep.details["parts"] = self.parts(code, kind).to_dict()
            if kind == "operator" and code[self._nl :] == self.self_seq:
                rep.details["node_self"] = True
        return rep

    # -- generation --------------------------------------------------------
    def _ensure(self, code: str, kind: str) -> str:
        f = self.findings(code, kind)
        if f:
            raise CodeError(f)
        return code

    def node_code(self, region: str, seq: int) -> str:
        """Node code for ``region`` (6 digits) and registration ``seq`` (1..999)."""
        width = self._nl - self._rd
        if not 1 <= int(seq) < 10**width:
            raise CodeError(
                [
                    Finding(
                        "CODE-NODE-03",
                        "seq",
                        f"节点流水号须为1-{10**width - 1}",
                        f"node sequence must be 1..{10**width - 1}",
                        value=str(seq),
                    )
                ]
            )
        return self._ensure(f"{region}{int(seq):0{width}d}", "node")

    def operator_code(self, node: str, seq: int) -> str:
        """Operator code under ``node``; ``seq`` 0 is the node's own operator record."""
        width = self._ol - self._nl
        if not 0 <= int(seq) < 10**width:
            raise CodeError(
                [
                    Finding(
                        "CODE-OPER-01",
                        "seq",
                        f"经营者流水号须为0-{10**width - 1}",
                        f"operator sequence must be 0..{10**width - 1}",
                        value=str(seq),
                    )
                ]
            )
        return self._ensure(f"{node}{int(seq):0{width}d}", "operator")

    def trace_code(self, operator: str, seq: int) -> str:
        """Trace code ``seq`` (1..9,999,999) of ``operator``."""
        width = self._tl - self._ol
        if not 1 <= int(seq) < 10**width:
            raise CodeError(
                [
                    Finding(
                        "CODE-TRACE-03",
                        "seq",
                        f"追溯码流水号须为1-{10**width - 1}",
                        f"trace sequence must be 1..{10**width - 1}",
                        value=str(seq),
                    )
                ]
            )
        return self._ensure(f"{operator}{int(seq):0{width}d}", "trace")

    def batch_code(self, node: str, seq: int) -> str:
        """16-digit batch code ``seq`` (1..9,999,999) first booked at ``node`` (Guangzhou 批次码: node + 7)."""
        width = self.len["batch"] - self._nl
        if not 1 <= int(seq) < 10**width:
            raise CodeError(
                [
                    Finding(
                        "CODE-BATCH-01",
                        "seq",
                        f"批次码流水号须为1-{10**width - 1}",
                        f"batch sequence must be 1..{10**width - 1}",
                        value=str(seq),
                    )
                ]
            )
        return self._ensure(f"{node}{int(seq):0{width}d}", "batch")

    def operator_of(self, trace: str) -> str:
        return trace[: self._ol]

    def node_of(self, code: str) -> str:
        return code[: self._nl]
