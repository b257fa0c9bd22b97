"""Progress: a live line on a terminal, plain throttled lines otherwise, nothing when quiet."""

from __future__ import annotations

import io
import os

from roucai.progress import Progress


def test_plain_lines_when_not_a_terminal_throttled_with_the_last_kept():
    out = io.StringIO()
    with Progress("en", interval_s=3600, stream=out) as p:
        for k in range(100):
            p(f"步骤 {k}", f"step {k}", k / 99)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("step 0  0%") and lines[1].endswith("step 99  100%")


def test_quiet_writes_nothing():
    out = io.StringIO()
    with Progress("zh", stream=out, quiet=True) as p:
        p("步骤", "step", 0.5)
    assert out.getvalue() == ""


def _drain(fd: int) -> bytes:
    """Everything the terminal has to read (one read may return only the first of rich's writes)."""
    import select

    out = b""
    while select.select([fd], [], [], 0.3)[0] and len(out) < 1 << 20:
        out += os.read(fd, 65536)
    return out


def test_a_terminal_gets_a_live_line_in_its_language():
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", encoding="utf-8", closefd=False) as tty:
            with Progress("zh", stream=tty) as p:
                p("市场模型：第 1 天", "market model: day 1", 0.25)
            tty.flush()
        got = _drain(master).decode("utf-8", "replace")
    finally:
        os.close(master)
        os.close(slave)
    assert "市场模型" in got and "market model" not in got
