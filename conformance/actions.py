"""Performing operator actions on a device under test, as its capability statement declares them.

The ``[actions]`` table of a capability statement (:mod:`conformance.capabilities`) maps each action of the
profile (``profiles/reference/actions.toml``) to one of:

* a **command**: an argv list, or a string split like a shell would, with ``{param}`` placeholders filled in
  per word (never through a shell).  It runs detached: stdin is ``/dev/null``, stdout and stderr go to a log
  kept as the test's evidence, in a new session; bounded by ``timeout_s`` (default: the action's own in the
  profile, e.g. 3600 s for fill-store, else :data:`DEFAULT_TIMEOUT_S`), after which its process group is killed.  Exit 0 is done; any other exit is a
  harness error.  An action marked ``output`` (read-receipt) prints its result as JSON on stdout;
* ``"prompt"``: the person at the bench is asked (zh and en) on the terminal and presses Enter, bounded by
  ``timeout_s``.  Only when the run is interactive (``roucai certify`` on a TTY sets
  :data:`INTERACTIVE_ENV`); a non-interactive run never prompts and the action counts as not declared;
* the statement's ``control = "socket://HOST:PORT"``: a simulated device's control channel
  (:mod:`simulators.devices.control`) performs every action not mapped otherwise.

An action that is not available raises :class:`ActionMissing` (a pytest skip whose verdict is
``not-tested``, naming the action); a command that fails raises :class:`ActionFailed` (verdict ``error``);
one that runs past its time, ``TimeoutError`` (verdict ``timeout``).
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pytest

from profiles.actions import load_actions

DEFAULT_TIMEOUT_S = 30.0
INTERACTIVE_ENV = "ROUCAI_INTERACTIVE"
NT_PREFIX = "roucai-not-tested: "


@dataclass(frozen=True)
class ActionSpec:
    how: str  #: "command" | "prompt" | "control"
    argv: tuple[str, ...] = ()  #: the command's words (templates)
    url: str = ""  #: the control channel
    timeout_s: float = DEFAULT_TIMEOUT_S


class ActionMissing(pytest.skip.Exception):
    """The test needs ``actions`` (any one of them) and the capability statement declares none of them."""

    def __init__(self, actions: list[str], zh_what: str = "", en_what: str = ""):
        self.actions = list(actions)
        names = " / ".join(self.actions)
        self.zh = (
            f"未测试：需要操作 {names}" + (f"（{zh_what}）" if zh_what else "") + "，请在能力声明 [actions] 中声明"
        )
        self.en = (
            f"not tested: needs action {names}"
            + (f" ({en_what})" if en_what else "")
            + "; declare it in the capability statement's [actions]"
        )
        super().__init__(msg=NT_PREFIX + self.en, allow_module_level=False)


class ActionFailed(RuntimeError):
    """A declared action's command failed (exit status, or it could not be started)."""


def interactive() -> bool:
    return os.environ.get(INTERACTIVE_ENV) == "1"


def mark_interactive(stdin=None) -> None:
    """``roucai certify`` calls this before pytest takes the terminal over: "prompt" actions are asked
    iff its stdin is a terminal (:data:`INTERACTIVE_ENV` is ``1``, else ``0``)."""
    s = sys.stdin if stdin is None else stdin
    os.environ[INTERACTIVE_ENV] = "1" if s is not None and s.isatty() else "0"


class ActionRunner:
    """Performs the actions of ``statement`` for one test; logs go into ``evidence``.

    :param tty: the terminal prompts are written to and read from (default ``/dev/tty``).
    """

    def __init__(self, statement, evidence, *, tty: str = "/dev/tty", is_interactive: bool | None = None):
        self.specs: dict[str, ActionSpec] = statement.actions
        self.control = statement.control
        self.evidence = evidence
        self.catalogue = load_actions()
        self.tty = tty
        self.interactive = interactive() if is_interactive is None else is_interactive
        self._n = 0

    def spec(self, name: str) -> ActionSpec | None:
        s = self.specs.get(name)
        if s is None and self.control:
            s = ActionSpec("control", url=self.control, timeout_s=self.catalogue[name].timeout_s)
        if s is not None and s.how == "prompt" and not self.interactive:
            return None
        return s

    def available(self, name: str) -> bool:
        return self.spec(name) is not None

    def perform(self, name: str, **params):
        """Do action ``name``; its result (``output`` actions) or None.  ActionMissing if not available."""
        p = self.catalogue.check(name, params)
        s = self.spec(name)
        if s is None:
            raise ActionMissing([name])
        self._n += 1
        t0 = time.monotonic()
        if s.how == "control":
            from simulators.devices.control import ControlError, send_action

            try:
                out = send_action(s.url, name, p, timeout=s.timeout_s)
            except ControlError as exc:
                raise ActionFailed(f"action {name} on {s.url} failed: {exc.en}") from None
        elif s.how == "prompt":
            out = self._prompt(name, p, s.timeout_s)
        else:
            out = self._command(name, p, s)
        self.evidence.append_jsonl(
            "actions.jsonl",
            {"n": self._n, "action": name, "params": p, "how": s.how, "seconds": round(time.monotonic() - t0, 3)},
        )
        return out

    def _command(self, name: str, params: dict, s: ActionSpec):
        argv = [w.format(**params) for w in s.argv]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
            except OSError as exc:
                raise ActionFailed(f"action {name}: command could not run: {argv}: {exc}") from None
            try:
                rc = proc.wait(s.timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
                raise TimeoutError(f"action {name}: command did not finish within {s.timeout_s:g} s: {argv}") from None
            out.seek(0)
            err.seek(0)
            stdout = out.read(1 << 20).decode("utf-8", "replace")
            stderr = err.read(1 << 16).decode("utf-8", "replace")
        self.evidence.attach_text(
            f"action-{self._n:03d}-{name}.log",
            f"$ {shlex.join(argv)}\nexit {rc}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        )
        if rc != 0:
            raise ActionFailed(f"action {name}: command failed (exit {rc}): {argv}: {stderr[-300:]}")
        if not self.catalogue[name].output:
            return None
        try:
            doc = json.loads(stdout)
        except ValueError:
            raise ActionFailed(f"action {name}: the command's output is not JSON: {stdout[:200]!r}") from None
        return doc.get("result") if isinstance(doc, dict) and "result" in doc else doc

    def _prompt(self, name: str, params: dict, timeout_s: float):
        zh, en = self.catalogue.text(name, params, "zh"), self.catalogue.text(name, params, "en")
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise ActionFailed(f"action {name}: cannot open the terminal {self.tty} to ask: {exc}") from None
        try:
            os.write(
                fd,
                (
                    f"\n>>> 操作 {name}：{zh}\n>>> action {name}: {en}\n"
                    f"    完成后按回车 / press Enter when done ({timeout_s:g} s) "
                ).encode("utf-8"),
            )
            ready, _, _ = select.select([fd], [], [], timeout_s)
            if not ready:
                raise TimeoutError(f"action {name}: nobody confirmed it at the bench within {timeout_s:g} s")
            os.read(fd, 1024)
        finally:
            os.close(fd)
        return None


def parse_actions_table(table: dict, source: str):
    """(specs, control URL) from a statement's ``[actions]`` table; ValueError(zh, en) when malformed."""
    cat = load_actions()
    specs: dict[str, ActionSpec] = {}
    control = table.get("control")
    if control is not None and not (isinstance(control, str) and control.startswith("socket://")):
        raise ValueError(
            f"{source}：[actions] control 须为 socket://HOST:PORT",
            f"{source}: [actions] control must be socket://HOST:PORT",
        )
    for name, val in table.items():
        if name == "control":
            continue
        if name not in cat:
            raise ValueError(
                f"{source}：[actions] 中的未知操作「{name}」，可选：{', '.join(cat.names)}",
                f"{source}: unknown action {name!r} in [actions]; one of {', '.join(cat.names)}",
            )
        timeout = cat[name].timeout_s
        if isinstance(val, dict):
            timeout = val.get("timeout_s", timeout)
            val = val.get("command")
        if not isinstance(timeout, (int, float)) or not 0 < timeout <= 86_400 * 2:
            raise ValueError(
                f"{source}：操作「{name}」的 timeout_s 须在 0 到 172800 秒之间",
                f"{source}: timeout_s of action {name!r} must be within (0, 172800] s",
            )
        if val == "prompt":
            specs[name] = ActionSpec("prompt", timeout_s=float(timeout))
            continue
        if isinstance(val, str):
            try:
                val = shlex.split(val)
            except ValueError:
                val = None
        if not (isinstance(val, list) and val and all(isinstance(w, str) for w in val)):
            raise ValueError(
                f'{source}：操作「{name}」须映射为命令（argv 列表或字符串）或 "prompt"',
                f'{source}: action {name!r} must map to a command (argv list or string) or "prompt"',
            )
        allowed = set(cat[name].params)
        for w in val:
            try:
                used = {f[1] for f in string.Formatter().parse(w) if f[1] is not None}
            except ValueError:
                used = {"{"}
            bad = used - allowed
            if bad:
                raise ValueError(
                    f"{source}：操作「{name}」的命令使用了未知占位符 {sorted(bad)}（可用：{sorted(allowed)}）",
                    f"{source}: the command of {name!r} uses unknown placeholders {sorted(bad)} "
                    f"(available: {sorted(allowed)})",
                )
        specs[name] = ActionSpec("command", tuple(val), timeout_s=float(timeout))
    return specs, control
