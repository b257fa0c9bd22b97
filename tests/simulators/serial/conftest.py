"""Shared fixtures for the serial-line tests: every test must leave no line, thread or fd behind."""

from __future__ import annotations

import os
import threading

import pytest

from simulators.serial import line_names


def _fds() -> set[int]:
    return set(int(x) for x in os.listdir("/proc/self/fd"))


@pytest.fixture
def no_leaks():
    """Assert that the test closed every line, joined every pump thread and closed every fd."""
    threads = set(threading.enumerate())
    fds = _fds()
    yield
    assert line_names() == [], f"lines left open: {line_names()}"
    extra = [t for t in threading.enumerate() if t not in threads and t.name.startswith("serial-pump")]
    assert extra == [], f"threads left running: {extra}"
    leaked = _fds() - fds
    # /proc listing itself may briefly hold an fd; check the leftovers really point somewhere
    leaked = {fd for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not leaked, f"fds leaked: {[os.readlink(f'/proc/self/fd/{fd}') for fd in leaked]}"
