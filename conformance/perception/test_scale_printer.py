"""PERC-SCALE-21: printer faults (paper out, print head) are reported in STATUS."""
from __future__ import annotations

import pytest


@pytest.mark.requirement("PERC-SCALE-21")
@pytest.mark.applies(kinds=("scale",), needs=("printer",))
def test_printer_faults_reported_in_status(scale, evidence):
    st = scale.drv.status()
    assert st.paper in (0, 1, 2) and st.ink in (0, 1), f"STATUS paper={st.paper} ink={st.ink}: not the profile's codes"
    scale.require_builtin("无法让实物设备缺纸或打印头故障", "cannot run a device out of paper or fault its print head")
    assert st.paper == 0 and st.ink == 0, f"a fresh scale reports paper={st.paper} ink={st.ink}"
    with scale.runner.lock:
        scale.model.paper = 0                       # the roll runs out
    st = scale.drv.status()
    assert st.paper == 2, f"with the paper out, STATUS reports paper={st.paper} (2 = out): report it"
    with scale.runner.lock:
        scale.model.paper = 500                     # a new roll
        scale.model.faults.add("ink_out")           # the print head fails
    st = scale.drv.status()
    evidence.attach_json("status.json", {"paper": st.paper, "ink": st.ink})
    assert st.paper == 0, f"after a new roll STATUS still reports paper={st.paper}"
    assert st.ink == 1, f"with the print head failed, STATUS reports ink={st.ink} (1 = fault): report it"
    evidence.note(  # a gap of the profile's protocol, same for every target
        "roucai-dp/1 没有补打命令，补打（标明“补打”、追溯码不变）未验证",
        "reprint (marked 补打, same trace codes) not shown: roucai-dp/1 has no reprint command")
