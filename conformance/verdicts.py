"""Verdicts of a conformance test and of a requirement.

A test ends in exactly one verdict.  ``timeout`` is its own verdict (a
timeout is never a hang and never a silent gap); ``unexpected-pass`` is a
declared expected failure that passed, and fails the run.  ``not-tested``:
the test could not exercise its requirement because an operator action it
needs is not declared (the reason names the action); it is neither a pass nor
a failure, and a required requirement left ``not-tested`` makes the run
INCOMPLETE (:data:`RUN_VERDICTS`).  ``partial`` is kept for a test that
observed part of its requirement and says which part.

Per requirement, the verdicts of its tests are combined by
:func:`combine`: the worst one wins, in :data:`ORDER`, except that ``pass``
mixed with ``partial`` (or with ``not-applicable``) is ``partial`` (resp.
``pass``).
"""

from __future__ import annotations

PASS, FAIL, ERROR, TIMEOUT = "pass", "fail", "error", "timeout"
NOT_APPLICABLE, PARTIAL, NOT_TESTED = "not-applicable", "partial", "not-tested"
#: a requirement of a suite that ran which no test of this harness can judge (the catalogue's
#: ``testable_by = "not-tested"`` with its reason: an audit, a document not public…): listed with the
#: reason, outside the run verdict
NOT_TESTABLE = "not-testable"
EXPECTED_FAILURE, UNEXPECTED_PASS = "expected-failure", "unexpected-pass"

#: Worst first.
ORDER = (
    UNEXPECTED_PASS,
    FAIL,
    TIMEOUT,
    ERROR,
    PARTIAL,
    NOT_TESTED,
    EXPECTED_FAILURE,
    PASS,
    NOT_APPLICABLE,
    NOT_TESTABLE,
)
#: Verdicts that make a target non-conformant when the requirement is required.
BAD = frozenset({UNEXPECTED_PASS, FAIL, TIMEOUT, ERROR, PARTIAL})

LABELS = {
    PASS: ("通过", "pass"),
    FAIL: ("不通过", "fail"),
    ERROR: ("错误", "error"),
    TIMEOUT: ("超时", "timeout"),
    NOT_APPLICABLE: ("不适用", "not applicable"),
    PARTIAL: ("部分通过", "partial"),
    EXPECTED_FAILURE: ("已声明的预期失败", "expected failure"),
    UNEXPECTED_PASS: ("意外通过", "UNEXPECTED PASS"),
    NOT_TESTED: ("未测试", "not tested"),
    NOT_TESTABLE: ("本工具无法测试", "not testable by the harness"),
}

#: The verdict of a whole run: every applicable required requirement passed / something failed /
#: nothing failed but required requirements were not exercised (actions to declare).  Exit 0, 1, 1.
CONFORMANT, NON_CONFORMANT, INCOMPLETE = "CONFORMANT", "NON-CONFORMANT", "INCOMPLETE"
RUN_VERDICTS = {
    CONFORMANT: ("符合", "CONFORMANT"),
    NON_CONFORMANT: ("不符合", "NON-CONFORMANT"),
    INCOMPLETE: ("未完成：部分必须项未测试", "INCOMPLETE: required requirements not tested"),
}


def run_verdict(failed: bool, not_tested: bool) -> str:
    """NON-CONFORMANT if anything failed, else INCOMPLETE if a required requirement was not tested."""
    return NON_CONFORMANT if failed else (INCOMPLETE if not_tested else CONFORMANT)


def label(verdict: str, lang: str = "zh") -> str:
    zh, en = LABELS[verdict]
    return en if lang == "en" else zh


def combine(verdicts: list[str]) -> str:
    """One verdict for a requirement from the verdicts of its tests."""
    vs = set(verdicts)
    if not vs:
        return NOT_APPLICABLE
    for v in ORDER:
        if v in vs:
            if v == PASS and PARTIAL in vs:
                return PARTIAL
            return v
    raise ValueError(f"unknown verdicts {vs}")
