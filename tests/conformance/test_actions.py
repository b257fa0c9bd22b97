"""Operator actions: the profile's catalogue, the [actions] table of a capability statement, and how the
harness performs them (commands detached and bounded, prompts only on a terminal, a control channel)."""

from __future__ import annotations

import os
import pty
import sys
import threading
import time

import pytest

from conformance.actions import ActionFailed, ActionMissing, ActionRunner
from conformance.capabilities import CapabilityError, CapabilityStatement
from profiles.actions import ActionError, load_actions
from simulators.devices.control import ControlServer, ScaleControl, TimeSkew
from simulators.devices.scale import ScaleModel

PY = sys.executable
HEAD = '[target]\nkind = "scale"\n'


class Ev:
    """The evidence surface the runner uses, kept in memory."""

    def __init__(self):
        self.files, self.lines = {}, []

    def attach_text(self, name, text):
        self.files[name] = text

    def append_jsonl(self, name, obj):
        self.lines.append(obj)


def statement(actions: str, caps: str = "") -> CapabilityStatement:
    return CapabilityStatement.parse(HEAD + "[capabilities]\n" + caps + "\n[actions]\n" + actions)


def test_catalogue_names_every_physical_step_in_zh_and_en():
    cat = load_actions()
    need = {
        "put-load",
        "remove-load",
        "unstable-load",
        "overload",
        "below-min",
        "press-tare",
        "paper-out",
        "paper-in",
        "power-off",
        "power-on",
        "power-cut-mid-sale",
        "tap-card",
        "remove-card",
        "pull-card-mid-write",
        "advance-clock",
        "fill-store",
        "read-receipt",
        "unbind",
    }
    assert need <= set(cat.names)
    for a in cat.actions.values():
        assert a.zh and a.en and a.kinds, a.name
        for p in a.params:
            assert "{" + p + "}" in a.zh and "{" + p + "}" in a.en, (a.name, p)
    assert cat.text("put-load", {"grams": 1236}, "en") == "Place 1236 g on the pan and let the reading settle"
    with pytest.raises(ActionError):
        cat.check("put-load", {})
    with pytest.raises(ActionError):
        cat.check("no-such", {})


def test_actions_table_forms_and_its_errors():
    st = statement(
        'put-load = ["rig", "load", "{grams}"]\npower-off = "relay off"\n'
        'power-on = { command = "prompt", timeout_s = 5 }\ncontrol = "socket://127.0.0.1:7302"\n'
    )
    assert st.actions["put-load"].argv == ("rig", "load", "{grams}")
    assert st.actions["power-off"].argv == ("relay", "off")
    assert (st.actions["power-on"].how, st.actions["power-on"].timeout_s) == ("prompt", 5.0)
    assert statement('fill-store = "vendor-tool fill"').actions["fill-store"].timeout_s == 3600  # the profile's
    assert st.control == "socket://127.0.0.1:7302"
    for bad in (
        'nope = "x"',
        'put-load = "rig {gram}"',
        "put-load = 3",
        'control = "http://x"',
        'put-load = { command = "x", timeout_s = -1 }',
        "put-load = []",
    ):
        with pytest.raises(CapabilityError) as e:
            statement(bad)
        assert e.value.zh and e.value.en


def test_a_test_load_and_put_load_exclude_each_other():
    with pytest.raises(CapabilityError, match="exclude each other"):
        statement('control = "socket://127.0.0.1:7302"', "test_load_g = 1000")
    with pytest.raises(CapabilityError):
        statement('put-load = "prompt"', "test_load_g = 1000")
    assert statement('power-off = "prompt"', "test_load_g = 1000").actions["power-off"].how == "prompt"


def test_legacy_power_commands_declare_the_power_actions():
    st = CapabilityStatement.parse(
        HEAD + '[capabilities]\npower_off_command = ["relay", "0"]\npower_on_command = "relay 1"\n'
    )
    assert st.actions["power-off"].argv == ("relay", "0") and st.actions["power-on"].argv == ("relay", "1")


def test_a_command_runs_detached_with_its_parameters_and_its_log_kept():
    ev = Ev()
    code = "import sys; print(sys.argv[1], repr(sys.stdin.read())); print('err', file=sys.stderr)"
    r = ActionRunner(statement(f'put-load = ["{PY}", "-c", "{code}", "{{grams}}"]'), ev)
    assert r.perform("put-load", grams=1236) is None
    [log] = ev.files.values()
    assert "1236 ''" in log and "err" in log and "exit 0" in log  # stdin was /dev/null, not the harness's
    assert ev.lines[0]["action"] == "put-load" and ev.lines[0]["params"] == {"grams": "1236"}


def test_failing_missing_and_hanging_commands_are_reported_and_bounded(tmp_path):
    ev = Ev()
    pidfile = tmp_path / "child.pid"
    hang = f"import os, time; open('{pidfile}', 'w').write(str(os.getpid())); time.sleep(30)"
    r = ActionRunner(
        statement(
            f'power-off = ["{PY}", "-c", "raise SystemExit(3)"]\n'
            f'power-on = ["{tmp_path / "no-such-relay"}"]\n'
            f'paper-out = {{ command = ["{PY}", "-c", "{hang}"], timeout_s = 1 }}\n'
        ),
        ev,
    )
    with pytest.raises(ActionFailed, match="exit 3"):
        r.perform("power-off")
    with pytest.raises(ActionFailed, match="could not run"):
        r.perform("power-on")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        r.perform("paper-out")
    assert time.monotonic() - t0 < 5
    pid = int(pidfile.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):  # its process group was killed
        os.kill(pid, 0)
    with pytest.raises(ActionMissing) as e:
        r.perform("put-load", grams=5)
    assert e.value.actions == ["put-load"] and "put-load" in e.value.en and "put-load" in e.value.zh


def test_an_output_action_returns_the_json_the_command_prints(tmp_path):
    (tmp_path / "good.py").write_text('print(\'{"result": [{"lines": []}]}\')')
    (tmp_path / "bad.py").write_text("print(1, 2)")
    r = ActionRunner(statement(f'read-receipt = ["{PY}", "{tmp_path / "good.py"}", "{{count}}"]'), Ev())
    assert r.perform("read-receipt", count=1) == [{"lines": []}]
    r = ActionRunner(statement(f'read-receipt = ["{PY}", "{tmp_path / "bad.py"}"]'), Ev())
    with pytest.raises(ActionFailed, match="not JSON"):
        r.perform("read-receipt", count=1)


def test_certify_allows_prompts_only_on_a_terminal(monkeypatch):
    import io
    from conformance.actions import INTERACTIVE_ENV, interactive, mark_interactive

    monkeypatch.setenv(INTERACTIVE_ENV, "1")
    mark_interactive(io.StringIO())
    assert not interactive()
    master, slave = pty.openpty()
    try:
        with os.fdopen(os.dup(slave)) as tty:
            mark_interactive(tty)
        assert interactive()
    finally:
        os.close(master)
        os.close(slave)


def test_prompts_only_when_interactive_and_bounded():
    st = statement('tap-card = { command = "prompt", timeout_s = 1 }')
    assert not ActionRunner(st, Ev(), is_interactive=False).available("tap-card")
    with pytest.raises(ActionMissing):
        ActionRunner(st, Ev(), is_interactive=False).perform("tap-card", operator="6501020010001", uid="01020304")
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    try:
        r = ActionRunner(st, Ev(), tty=name, is_interactive=True)
        seen = []

        def person():  # reads the question, presses Enter
            deadline = time.monotonic() + 5
            buf = b""
            while b"Enter" not in buf and time.monotonic() < deadline:
                buf += os.read(master, 4096)
            seen.append(buf.decode("utf-8", "replace"))
            os.write(master, b"\n")

        th = threading.Thread(target=person)
        th.start()
        assert r.perform("tap-card", operator="6501020010001", uid="01020304") is None
        th.join(5)
        assert "6501020010001" in seen[0] and "服务卡" in seen[0] and "service card" in seen[0]
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):  # nobody answers
            r.perform("tap-card", operator="6501020010001", uid="01020304")
        assert time.monotonic() - t0 < 3
    finally:
        os.close(master)
        os.close(slave)


def test_a_control_channel_performs_the_actions_on_a_simulated_scale():
    model = ScaleModel(None, seed=1)
    skew = TimeSkew()
    srv = ControlServer(ScaleControl(model, threading.RLock(), None, skew)).start()
    try:
        r = ActionRunner(statement(f'control = "{srv.url}"'), Ev())
        r.perform("put-load", grams=1236)
        assert model.weigh_response().net_g == 1236
        r.perform("advance-clock", seconds=3600)
        assert skew.seconds == 3600
        r.perform("paper-out")
        assert model.status().paper == 2
        r.perform("power-off")
        assert not model.powered
        r.perform("power-on")
        assert model.powered
        assert r.perform("read-receipt", count=2) == []
        r.perform("remove-load")
        with pytest.raises(ActionFailed, match="refused"):  # TARE with nothing on the pan and no tare
            r.perform("press-tare")
    finally:
        srv.stop()
