"""PERC-SCALE-21: printer faults (paper out, print head) are reported in STATUS."""

from __future__ import annotations

import pytest

from conformance.actions import ActionMissing


@pytest.mark.requirement("PERC-SCALE-21")
@pytest.mark.applies(kinds=("scale",), needs=("printer",))
def test_printer_faults_reported_in_status(scale, evidence):
    st = scale.drv.status()
    assert st.paper in (0, 1, 2) and st.ink in (0, 1), f"STATUS paper={st.paper} ink={st.ink}: not the profile's codes"
    missing = [a for a in ("paper-out", "paper-in", "printhead-fault", "printhead-ok") if not scale.can(a)]
    if missing:
        raise ActionMissing(missing, "缺纸与打印头故障", "paper out and a print-head fault")
    scale.act("paper-in")  # a full roll to begin with
    st = scale.drv.status()
    assert st.paper == 0 and st.ink == 0, (
        f"with a new roll and a working head, STATUS reports paper={st.paper} ink={st.ink}"
    )
    try:
        scale.act("paper-out")  # the roll runs out
        st = scale.drv.status()
        assert st.paper == 2, f"with the paper out, STATUS reports paper={st.paper} (2 = out): report it"
        scale.act("paper-in")  # a new roll
        scale.act("printhead-fault")  # the print head fails
        st = scale.drv.status()
    finally:  # the device stays in use
        scale.act("paper-in")
        scale.act("printhead-ok")
    evidence.attach_json("status.json", {"paper": st.paper, "ink": st.ink})
    assert st.paper == 0, f"after a new roll STATUS still reports paper={st.paper}"
    assert st.ink == 1, f"with the print head failed, STATUS reports ink={st.ink} (1 = fault): report it"
    evidence.note(  # a gap of the profile's protocol, same for every target
        "roucai-dp/1 没有补打命令，补打（标明“补打”、追溯码不变）未验证",
        "reprint (marked 补打, same trace codes) not shown: roucai-dp/1 has no reprint command",
    )
