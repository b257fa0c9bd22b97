"""Structured findings: what every validator in the harness returns.

A finding names the rule it comes from (a requirement id of the catalogue,
``AREA-TOPIC-NN``), where it was found (a field name or a position such as
``[6:9]``), and says what is wrong in Chinese and in English.  Validators
never raise for bad *input*; they return findings.  They raise only for
misuse of the API (wrong argument types) or a broken profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, Iterable

#: Severities, most serious first.  ``error`` makes the input non-conformant.
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a validator found.

    :param rule: requirement id from the catalogue, e.g. ``CODE-TRACE-01``.
    :param field: field name or position (``trace_code[6:9]``, ``weight``).
    :param zh: the message in Chinese (the default language of all output).
    :param en: the same message in English.
    :param severity: one of :data:`SEVERITIES`.
    :param value: the offending value, as text, when it helps the reader.
    """

    rule: str
    field: str
    zh: str
    en: str
    severity: str = "error"
    value: str | None = None

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh

    def to_dict(self) -> dict[str, Any]:
        d = {"rule": self.rule, "field": self.field, "severity": self.severity, "zh": self.zh, "en": self.en}
        if self.value is not None:
            d["value"] = self.value
        return d

    def render(self, lang: str = "zh") -> str:
        sev = {"zh": {"error": "错误", "warning": "警告", "info": "提示"}}.get(lang, {}).get(
            self.severity, self.severity
        )
        return f"[{self.rule}] {sev} {self.field}: {self.message(lang)}"


@dataclass(slots=True)
class Report:
    """Findings about one subject (a code, a record, a file) plus its verdict."""

    subject: str
    findings: list[Finding] = dc_field(default_factory=list)
    details: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def extend(self, items: Iterable[Finding]) -> None:
        self.findings.extend(items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "details": self.details,
            "findings": [f.to_dict() for f in self.findings],
        }
