"""Fixtures of the perception suite: the device under test, reached the same way by every test.

``scale`` / ``scale_unbound`` (a :class:`~conformance.perception.bench.ScaleBench`),
``reader`` (a :class:`~conformance.perception.bench.ReaderBench`) and ``handheld_rig``
(the reference handheld against the harness's receiving server).  On the built-in
target each test gets a fresh reference device (with the variant's switch, if any);
on a device target (``serial://``, ``sim://``, ``socket://``) the session's one port.
Each bench writes its wire trace and facts into the test's evidence at teardown.
"""

from __future__ import annotations

import time

import pytest
import serial

from conformance.notjudgeable import NotJudgeable

from profiles.device import get_protocol

from . import observations
from .bench import ReaderBench, ScaleBench, TracedPort


@pytest.fixture(scope="session")
def device_port(target):
    """The device target's port for the whole session (``None`` on builtin)."""
    if not target.is_device:
        yield None
        return
    url, opts = target.serial_open_args()

    def open_raw():
        return serial.serial_for_url(url, timeout=0.01, **opts)

    try:
        raw = open_raw()
    except (serial.SerialException, ValueError, OSError) as exc:
        pytest.fail(f"cannot open the device target {target.url}: {exc} / 无法打开被测设备端口", pytrace=False)
    port = TracedPort(raw, get_protocol(), reopen=open_raw)
    yield port
    port.close()


BENCH_FIXTURES = ("scale", "scale_unbound", "scale_in_memory", "reader")


RUNWIDE_MODULE = "test_scale_invariants.py"


def pytest_collection_modifyitems(items):
    """The run-wide invariants judge what every other test observed: they run last."""
    items.sort(key=lambda it: it.nodeid.split("::", 1)[0].endswith(RUNWIDE_MODULE))


@pytest.fixture(scope="session", autouse=True)
def _observation_log():
    """A fresh run-wide observation log per session (conformance/perception/observations.py)."""
    observations.RUN.reset()
    yield observations.RUN


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Attach each bench's wire trace as soon as the test body ends (the results list a test's evidence
    files as of its call phase, so files written at teardown would not be linked)."""
    observations.RUN.nodeid = item.nodeid
    yield
    for name in BENCH_FIXTURES:
        bench = getattr(item, "funcargs", {}).get(name)
        if bench is not None:
            if bench.kind == "scale":
                _listen_for_owed_events(bench, item.nodeid)
            bench.attach_evidence()


def _listen_for_owed_events(bench, nodeid: str) -> None:
    """Sales of this test whose SALE_EVENT has not arrived: keep reading (and ACKing) until each arrived or the
    protocol's event ACK timeout has passed since the sale; then mark that the harness listened that long (the
    run-wide event invariant judges those sales).  Costs nothing when every event has arrived."""
    owed = observations.RUN.unpushed_sales(bench.port.device, nodeid)
    if not owed or bench.port.trace is None:
        return
    wait = bench.protocol.timing.event_ack_timeout_s
    deadline = max(t for t, _ in owed) + wait
    try:
        while owed and time.monotonic() < deadline:
            bench.drv.wait_event(min(0.1, max(0.0, deadline - time.monotonic())))
            owed = observations.RUN.unpushed_sales(bench.port.device, nodeid)
    except (serial.SerialException, OSError):
        return
    observations.RUN.mark(bench.port.device, "listened")


def _bench(cls, request, target, capabilities, evidence, seed, device_port, **kw):
    if not (target.is_builtin or target.is_device):
        raise NotJudgeable(
            f"感知层测试只针对设备，目标 {target.url} 不是设备",
            f"the perception suite judges devices; target {target.url} is not one",
        )
    bench = cls(target, capabilities, evidence, seed, port=device_port, **kw)
    request.addfinalizer(bench.close)
    return bench


@pytest.fixture
def scale(request, target, capabilities, evidence, seed, device_port, tmp_path) -> ScaleBench:
    """A bound scale (stall bound to the harness's node and operator)."""
    return _bench(ScaleBench, request, target, capabilities, evidence, seed, device_port, tmpdir=tmp_path)


@pytest.fixture
def scale_unbound(request, target, capabilities, evidence, seed, device_port, tmp_path) -> ScaleBench:
    """The scale as found: no binding sent (builtin: a fresh, never bound scale)."""
    return _bench(ScaleBench, request, target, capabilities, evidence, seed, device_port, bind=False, tmpdir=tmp_path)


@pytest.fixture
def scale_in_memory(request, target, capabilities, evidence, seed, device_port) -> ScaleBench:
    """Builtin: a scale whose store is in memory on an unpaced line (fast fills and read-outs of the whole
    store; counts, not durability or line speed, are judged)."""
    return _bench(ScaleBench, request, target, capabilities, evidence, seed, device_port, durable=False, paced=False)


@pytest.fixture
def reader(request, target, capabilities, evidence, seed, device_port) -> ReaderBench:
    return _bench(ReaderBench, request, target, capabilities, evidence, seed, device_port)


@pytest.fixture
def handheld_rig(request, target, evidence, seed):
    """(make_terminal, receiver): the reference handheld and a receiving server on 127.0.0.1."""
    from .handheld_rig import HandheldRig

    if not target.is_builtin:
        raise NotJudgeable(
            "手持终端经 HTTP 上传、需人工操作，本版本只自动测试内置手持终端",
            "a handheld under test uploads over HTTP and is operated by hand; the harness drives only the "
            "built-in handheld",
        )
    from profiles import load_profile

    profile = load_profile()
    if profile.envelope.recipe.algorithm == "unknown":
        raise NotJudgeable(
            f"无法判定：内置手持终端用配置的 VerifyCode 算法为上传签名，而配置 {profile.name} 的算法未知（unknown），"
            "它无法上传；设置问题，不是判定",
            f"not judgeable: the built-in handheld signs its uploads with the profile's VerifyCode recipe, and profile "
            f"{profile.name}'s is unknown, so it cannot upload; a set-up problem, not a verdict",
        )
    rig = HandheldRig(target, evidence, seed)
    request.addfinalizer(rig.close)
    return rig
