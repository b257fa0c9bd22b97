"""The verdict of a timed crowd, blaming the platform only for the platform's time (PLAT-PERF-02).

A crowd's measured answer time holds the platform's time and the harness's own (its event loop, its TLS and HTTP
work, the machine starving it).  :func:`judge_crowd` decides from figures only:

* ``slowest_s``: the slowest answer of the platform's crowd; ``refused``: answers that came but were not 200;
* ``loop_lag_s``: the harness's event-loop lag during the platform's crowd (how late a user was sent against its
  schedule, how late a 10 ms ticker woke): above the gate the harness did not *generate* the load asked for;
* ``calibration_s``: the slowest answer of a calibration crowd of the same shape against a trivial endpoint (no
  work per request) right before and right after: the harness's own time inside a measured answer.

``harness_s`` = the larger of ``loop_lag_s`` and ``calibration_s``; ``gate_s`` = :data:`GATE_SHARE` of the
budget.  The rule (a gate, not a subtraction — a pass is never bought by subtracting an estimate):

1. ``refused > 0``: **fail** — a non-200 answer is the platform's own doing, whatever the harness's timing;
2. ``slowest_s < budget_s``: **pass** if ``loop_lag_s <= gate_s`` (the load was generated; the measured time,
   harness included, bounds the platform's from above), else **not judgeable** (the load was not generated);
3. ``slowest_s >= budget_s``: **fail** if ``harness_s <= gate_s`` (the harness was fit, the time is judged as
   measured) or if even crediting the harness with all of its worst delay the platform ran over
   (``slowest_s - harness_s >= budget_s``); else **not judgeable** (the harness could not time the load).
"""

from __future__ import annotations

from dataclasses import dataclass

#: the share of the time budget the harness's own worst delay may take and the measured time still be judged
GATE_SHARE = 1 / 6


@dataclass(frozen=True)
class CrowdJudgement:
    verdict: str  #: "pass", "fail" or "not_judgeable"
    zh: str
    en: str


def judge_crowd(
    budget_s: float, slowest_s: float, refused: int, loop_lag_s: float, calibration_s: float
) -> CrowdJudgement:
    """The verdict of a crowd from its figures (module docstring); ``zh``/``en`` state the figures and the rule."""
    gate_s = budget_s * GATE_SHARE
    harness_s = max(loop_lag_s, calibration_s)
    figs_zh = (
        f"最慢应答 {slowest_s:.2f} 秒（限 {budget_s:g} 秒），非200应答 {refused} 个；工具自身：事件循环延迟 "
        f"{loop_lag_s:.2f} 秒，自校准最慢 {calibration_s:.2f} 秒（可判定上限 {gate_s:.2f} 秒，即时限的六分之一）"
    )
    figs_en = (
        f"slowest answer {slowest_s:.2f} s (limit {budget_s:g} s), {refused} answers not 200; the harness's own: "
        f"event-loop lag {loop_lag_s:.2f} s, calibration slowest {calibration_s:.2f} s (judgeable up to "
        f"{gate_s:.2f} s, a sixth of the limit)"
    )
    if refused > 0:
        return CrowdJudgement("fail", f"不通过：{figs_zh}", f"fail: {figs_en}")
    if slowest_s < budget_s:
        if loop_lag_s <= gate_s:
            return CrowdJudgement("pass", f"通过：{figs_zh}", f"pass: {figs_en}")
        return CrowdJudgement(
            "not_judgeable",
            f"无法判定：工具自身未能按时发出负载（本机过忙），不是对平台的判定；{figs_zh}",
            f"not judgeable: the harness could not generate the load on time (this machine is too busy), "
            f"not a verdict on the platform; {figs_en}",
        )
    if harness_s <= gate_s:
        return CrowdJudgement("fail", f"不通过：{figs_zh}", f"fail: {figs_en}")
    if slowest_s - harness_s >= budget_s:
        return CrowdJudgement(
            "fail",
            f"不通过：{figs_zh}；即使工具自身延迟全部计入，平台仍超时",
            f"fail: {figs_en}; even with all of the harness's own delay credited, the platform ran over",
        )
    return CrowdJudgement(
        "not_judgeable",
        f"无法判定：工具自身无法准确计时（本机过忙），不是对平台的判定；{figs_zh}",
        f"not judgeable: the harness could not time the load (this machine is too busy), "
        f"not a verdict on the platform; {figs_en}",
    )
