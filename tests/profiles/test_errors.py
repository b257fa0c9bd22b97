"""One bilingual error base: every exception class of the five packages derives from RoucaiError,
unless the allow-list below says why it must not (issue 17 item 3)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from profiles.errors import RoucaiError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("profiles", "simulators", "conformance", "loadtests", "roucai")

#: exception classes that are not user-facing errors, each with the reason (``module.Class``)
ALLOWED = {
    "profiles.xmlsafe._Stop": "control flow inside the XML reader, never leaves the module",
    "profiles.records.RecordEncodeError": "a programming error of an encoder, not bad input",
    "profiles.signature.RecipeUnavailable": "control flow: the caller falls back to checking the code's form",
    "profiles.device.protocol.UnknownCommand": "a frame decoding signal, answered on the wire by the device",
    "simulators.platform.ingest._Replay": "control flow inside the ingest transaction",
    "simulators.devices.card.CardError": "the card's answer (a NAK reason), answered on the wire by the reader",
    "simulators.devices.card.CardLost": "the card's answer (a NAK reason), answered on the wire by the reader",
    "simulators.devices.refusal.Refused": "a device's refusal, answered on the wire as a NAK",
    "simulators.devices.refusal.PowerLost": "a simulated power loss inside a device, control flow",
    "simulators.serial.line.ModemLinesUnsupported": "a serial.SerialException, as pyserial callers expect",
    "conformance.plugin.ConformanceTimeout": "a verdict (timeout) of the pytest plugin, not an error of the run",
    "conformance.actions.ActionMissing": "a pytest skip: a declared action is absent",
    "conformance.notjudgeable.NotJudgeable": "a pytest skip: the requirement cannot be judged in this run (a verdict)",
    "conformance.actions.ActionFailed": "a declared action's command failed: turned into a verdict by the suites",
    "loadtests.exchange.UploadError": "a failed request reported to Locust's statistics, never raised",
}


_WALK = r"""
import importlib, inspect, json, pkgutil, sys
from pathlib import Path
from profiles.errors import RoucaiError
root = Path(sys.argv[1])
names = []
for pkg in sys.argv[2:]:
    names.append(pkg)
    names += [i.name for i in pkgutil.walk_packages([str(root / pkg)], prefix=pkg + ".")]
def patches(name):      # modules that import locust (gevent monkey-patches ssl) are imported last
    f = root.joinpath(*name.split("."))
    src = (f / "__init__.py") if f.is_dir() else f.with_suffix(".py")
    return src.is_file() and "locust" in src.read_text("utf-8")
out = {}
for name in sorted(names, key=patches):
    mod = importlib.import_module(name)
    for n, obj in vars(mod).items():
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name:
            out[name + "." + n] = [issubclass(obj, RoucaiError), getattr(obj, "exit_code", None)]
print(json.dumps(out))
"""


@functools.cache
def exception_classes() -> dict[str, tuple[bool, int | None]]:
    """Every exception class defined (not imported) in a module of the five packages: ``(derives from
    RoucaiError, exit_code)``.  In a child process: importing locust monkey-patches this one."""
    r = subprocess.run(
        [sys.executable, "-c", _WALK, str(ROOT), *PACKAGES], capture_output=True, text=True, timeout=240, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return {k: tuple(v) for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items()}


def test_every_error_class_derives_from_the_base_or_is_allowed():
    classes = exception_classes()
    assert len(classes) > 40, sorted(classes)  # the walk itself works
    missing = sorted(q for q, (based, _) in classes.items() if not based and q not in ALLOWED)
    assert not missing, f"error classes without RoucaiError (derive from it or add to ALLOWED with a reason): {missing}"


def test_the_allow_list_names_only_classes_that_exist_and_lack_the_base():
    classes = exception_classes()
    stale = sorted(q for q in ALLOWED if q not in classes or classes[q][0])
    assert not stale, f"remove from ALLOWED: {stale}"


def test_every_error_has_an_exit_code_of_the_readme_table():
    for q, (based, code) in exception_classes().items():
        if based:
            assert code in (1, 2, 3), q


def test_base_contract():
    e = RoucaiError("坏了", "broken")
    assert (e.zh, e.en, e.exit_code, str(e)) == ("坏了", "broken", 2, "broken")
    assert RoucaiError("只有中文").en == "只有中文"
    assert RoucaiError("a", "b", 3).exit_code == 3 and RoucaiError.exit_code == 2


def test_classes_keep_their_bases_and_attributes():
    from loadtests.run import LoadError
    from profiles.codes import CodeError
    from profiles.findings import Finding
    from simulators.devices.driver import DeviceTimeout
    from simulators.market.errors import MarketConfigError
    from simulators.platform.registry import RegistryError

    assert issubclass(MarketConfigError, ValueError)  # callers catch ValueError
    t = DeviceTimeout("COM1", 3, 1.0)
    assert (t.wire, t.attempts, t.exit_code) == ("COM1", 3, 3) and "设备无应答" in t.zh and "no answer" in t.en
    assert LoadError("甲", "a", 3).code == 3 == LoadError("甲", "a", 3).exit_code
    assert RegistryError("甲", "a", ["f"]).findings == ["f"]
    f = Finding("CODE-01", "code", "编码错", "bad code")
    c = CodeError([f])
    assert (c.findings, c.zh, c.en, c.exit_code) == ([f], "编码错", "bad code", 1)


@pytest.mark.parametrize("lang, text", [(None, "错误：没有故障集 'nosuch'"), ("en", "error: no fault set 'nosuch'")])
def test_the_cli_says_a_domain_error_in_one_place(lang, text):
    """A MarketConfigError (no command re-wraps it) reaches roucai's main: one line in the run's language, exit 2."""
    argv = [
        sys.executable,
        "-m",
        "roucai.cli",
        *(["--lang", lang] if lang else []),
        "simulate",
        "--preset",
        "tiny",
        "--fault-set",
        "nosuch",
    ]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (2, "") and r.stderr.splitlines()[0].startswith(text), r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
