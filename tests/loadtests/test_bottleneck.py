"""The load summary names the side that held the run back (issue 16 item 2): judged from CPU seconds and the
platform's group-commit counters.  Synthetic samples check the rules; real processes check the sampler."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.bottleneck import ORDER, Sample, Sampler, judge, local_pid, utilisations


def series(n: int, *, gen=0.0, plat: float | None = 0.0, machine=0.0, storage: float | None = 0.0, cores=2):
    """``n`` one-second intervals with the given per-interval utilisations (shares as in the module)."""
    out, g, p, busy, total, tx = [], 0.0, 0.0, 0.0, 0.0, [0.0, 0.0]
    for i in range(n + 1):
        out.append(
            Sample(
                float(i),
                {101: g},
                None if plat is None else p,
                busy,
                total,
                None if storage is None else (tx[0], tx[1]),
            )
        )
        g += gen
        p += plat or 0.0
        busy += machine * cores
        total += cores
        tx[0] += (storage or 0.0) + 0.05
        tx[1] += 0.05
    return out


@pytest.mark.parametrize(
    "kw,verdict",
    [
        ({"gen": 0.97, "plat": 0.5, "machine": 0.8}, "generator"),
        ({"gen": 0.1, "plat": 0.2, "machine": 0.99}, "machine"),
        ({"gen": 0.1, "plat": 0.95, "machine": 0.55}, "platform-cpu"),
        ({"gen": 0.1, "plat": 0.3, "machine": 0.25, "storage": 0.93}, "storage"),
        ({"gen": 0.1, "plat": 0.3, "machine": 0.25, "storage": 0.2}, "none"),
        ({"gen": 0.97, "plat": 0.95, "machine": 0.99}, "generator"),  # a saturated generator comes first
        ({"gen": 0.95, "plat": 0.1, "machine": 1.0}, "generator"),  # ... before a busy machine
        ({"gen": 0.1, "plat": 0.95, "machine": 1.0, "storage": 0.95}, "machine"),  # ... which comes before the platform
    ],
)
def test_each_resource_is_named_when_it_saturates(kw, verdict):
    got = judge(series(10, **kw), cores=2)
    assert got["verdict"] == verdict, got
    if verdict != "none":
        assert got["saturated_share"][verdict] == 1.0
        assert f"{got['saturated_share'][verdict]:.0%}" in got["en"]


def test_a_busy_machine_is_not_blamed_on_others_when_the_run_itself_uses_it():
    # both cores busy, but the platform and generator use them: not "other processes"
    got = judge(series(10, gen=0.9, plat=0.95, machine=0.99), cores=2)
    assert got["verdict"] == "generator" and got["saturated_share"]["machine"] == 0.0
    assert judge(series(10, gen=0.5, plat=0.95, machine=0.75), cores=2)["verdict"] == "platform-cpu"


def test_a_resource_saturated_in_a_few_intervals_only_is_not_named():
    quiet = series(20, plat=0.3)
    hot = series(1, plat=0.99)
    # one hot interval in twenty: 5 % < MIN_SHARE
    samples = quiet + [Sample(21.0, {101: 0.0}, quiet[-1].plat + 0.99, quiet[-1].busy, quiet[-1].total + 2, (0.0, 0.0))]
    assert len(hot) == 2
    got = judge(samples, cores=2)
    assert got["verdict"] == "none" and 0 < got["saturated_share"]["platform-cpu"] < 0.1


def test_missing_figures_are_said_not_guessed():
    got = judge(series(5, plat=None, storage=None), cores=2)
    assert got["missing"] == ["platform", "storage"]
    assert "not on this machine" in got["en"] and "no writes" in got["en"]
    assert judge([], cores=2)["en"] == "too few samples to name a bottleneck"


@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1.2), st.floats(0, 1), st.floats(0, 1.5)), min_size=2, max_size=30)
)
def test_utilisations_are_bounded_shares_of_what_was_measured(steps):
    samples, g, p, busy, total, tx = [], 0.0, 0.0, 0.0, 0.0, 0.0
    for dg, dp, dm, ds in steps:
        samples.append(Sample(float(len(samples)), {7: g}, p, busy, total, (tx, 0.0)))
        g, p, busy, total, tx = g + dg, p + dp, busy + 2 * dm, total + 2, tx + ds
    for u in utilisations(samples, 2):
        assert 0 <= u["generator"] <= 1 + 1e-9 and 0 <= u["machine"] <= 1 and 0 <= u["other"] <= u["machine"]
        assert u["platform"] >= 0 and u["storage"] >= 0
    assert judge(samples, cores=2)["verdict"] in (*ORDER, "none")


def test_the_sampler_measures_a_real_busy_process_and_a_real_listener():
    spin = subprocess.Popen(
        [sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass"]
    )
    try:
        s = Sampler(lambda: [spin.pid], interval=0.1).start()
        while os.waitid(os.P_PID, spin.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None and len(s.samples) < 600:
            time.sleep(0.05)  # exited, not reaped yet: its CPU is final
        samples = s.stop()
        _, _, usage = os.wait4(spin.pid, 0)  # reap it, with the kernel's CPU account
        spin.returncode = 0
    finally:
        spin.kill()
    # what the sampler saw of the spinner's CPU seconds is what the kernel charged it (less the last interval)
    seen = max(x.gen.get(spin.pid, 0.0) for x in samples)
    actual = usage.ru_utime + usage.ru_stime
    assert actual - 0.35 <= seen <= actual + 0.01 and seen > 1.0, (seen, actual)
    assert judge(samples, cores=2)["figures"]["generator"]["peak"] > 0
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert local_pid(f"http://127.0.0.1:{port}") == os.getpid()
    assert local_pid("http://192.0.2.1:80") is None  # not this machine: no CPU figure
    t0 = time.monotonic()
    Sampler(lambda: [], health_url="http://127.0.0.1:9/healthz", interval=0.2, timeout=0.2).start().stop()
    assert time.monotonic() - t0 < 5  # a dead /healthz never hangs the sampler
