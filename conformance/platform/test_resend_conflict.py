"""One trace code, two different sale lines: the platform must tell that apart from a plain re-send (CODE-TRACE-04).

CODE-TRACE-04 (evidence ``profile``): "a platform receiving one trace code for two different sale lines judges it
non-conformant".  A node re-sending a line it already sent (a lost answer, a retry) is normal and answered
``duplicate``; the same trace code with another weight or price is a second sale line under one code.  Neither
the profile's answer format nor practice fixes *how* the platform says so (the reference answers ``duplicate``,
keeps the stored version and adds a per-record message, docs/platform.md), so the test asks only that the two
cases be answered differently and the plain re-send the same each time.
"""

from __future__ import annotations

import pytest

from conformance.simday import grams

PLATFORM = ("city_platform",)
RTYPE = "retail_market_tran_info_summ"
#: conflicting lines sent: each with another weight and price; several, so that a platform whose judgement
#: depends on anything but "same content or not" (an ordering of digests, the first conflict only) is seen
CONFLICTS = 8


def _answer(a) -> tuple:
    """What the platform said of the one record of ``a``: verdict, reason and message (zh and en)."""
    if a.response is None or a.code != "0000" or len(a.response.results) != 1:
        return ("refused", a.code, None, None)
    r = a.response.results[0]
    return (r.verdict, r.reason, r.message or None, r.message_en or None)


@pytest.mark.requirement("CODE-TRACE-04")
@pytest.mark.applies(kinds=PLATFORM)
def test_a_trace_code_sent_again_with_other_content_is_answered_apart_from_a_resend(records, uploader, evidence):
    """A retail sale line is accepted; re-sent unchanged (twice: before and after the conflicts) it is answered
    the same both times and not ``accepted``; each of 8 lines with the same trace code and identity but another
    weight and price is answered differently from that re-send (verdict, reason or message) and is not taken
    silently as a fresh record (``accepted``, reason 0000, no message)."""
    d = records.fresh_day()
    date = d.strftime("%Y%m%d")
    node = records.node_for(RTYPE)
    rec = records.make(RTYPE, d, weight="12.340", price="23.50")
    first = uploader.upload(node, RTYPE, [rec], header={"DataDate": date})
    assert first.verdicts == ["accepted"], f"set-up: the sale line was not accepted: {first}"
    resend = _answer(uploader.upload(node, RTYPE, [rec], header={"DataDate": date}))
    seen = {"first": _answer(first), "resend": resend, "conflicts": [], "resend_after": None}
    wrong = []
    if resend[0] == "accepted" or resend[0] == "refused":
        wrong.append(f"the unchanged re-send was answered {resend} (a re-send is acknowledged as already held)")
    for i in range(1, CONFLICTS + 1):
        other = {
            **rec,
            "weight": f"{(grams(rec['weight']) + 7 * i) / 1000:.3f}",
            "price": f"{23.5 + 0.25 * i:.2f}",
        }
        got = _answer(uploader.upload(node, RTYPE, [other], header={"DataDate": date}))
        seen["conflicts"].append({"weight": other["weight"], "price": other["price"], "answer": got})
        if got == resend:
            wrong.append(
                f"the line with weight {other['weight']} and price {other['price']} under the same trace code was "
                f"answered exactly as the unchanged re-send: {got}"
            )
        elif got[0] == "accepted" and got[1] == "0000" and not (got[2] or got[3]):
            wrong.append(f"the line with weight {other['weight']} under the same trace code was accepted silently")
    again = _answer(uploader.upload(node, RTYPE, [rec], header={"DataDate": date}))
    seen["resend_after"] = again
    if again != resend:
        wrong.append(f"the unchanged re-send was answered {resend} before the conflicting lines and {again} after")
    evidence.attach_json("answers.json", seen)
    evidence.note(
        f"追溯码 {rec['sale_tran_id']}：原样重发 1+1 次，不同内容 {CONFLICTS} 次；{len(wrong)} 处无法区分",
        f"trace code {rec['sale_tran_id']}: re-sent unchanged 1+1 times, with other content {CONFLICTS} times; "
        f"{len(wrong)} answers fail to tell them apart",
    )
    assert not wrong, (
        "one trace code for two different sale lines must be judged (answered differently from a plain re-send): "
        + "; ".join(wrong[:4])
    )
