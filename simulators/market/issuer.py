"""Trace codes (追溯码 / 交易凭证号) issued by operators, one sequence per operator.

A code is ``operator code (13) + 7-digit sequence`` (``p.codes.trace_code``).  The first
code of every operator is built and validated by ``p.codes.trace_code``; the following
ones reuse the validated operator prefix with plain formatting, which gives the same
string (tested) at a fraction of the cost.  Sequences start at 1 and never repeat within
a run; running out (9,999,999 codes for one operator) raises ``OverflowError``.
"""

from __future__ import annotations


class TraceIssuer:
    def __init__(self, codebook):
        self.codes = codebook
        self._next: dict[str, int] = {}
        self._width = 7

    def issue(self, operator: str) -> str:
        seq = self._next.get(operator)
        if seq is None:
            code = self.codes.trace_code(operator, 1)
            self._width = len(code) - len(operator)
            self._next[operator] = 2
            return code
        if seq >= 10**self._width:
            raise OverflowError(f"operator {operator} has used all {10**self._width - 1} trace codes")
        self._next[operator] = seq + 1
        return f"{operator}{seq:0{self._width}d}"

    def issued(self, operator: str) -> int:
        return self._next.get(operator, 1) - 1
