"""Children started with die_with_parent end when their parent dies (no leaked servers after a killed run)."""

import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = "import time; time.sleep(60)"
PARENT = f"""
import subprocess, sys, time
from simulators.lifetime import die_with_parent
p = subprocess.Popen([sys.executable, "-c", {CHILD!r}], preexec_fn=die_with_parent)
print(p.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_child_dies_when_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child outlived its killed parent")
