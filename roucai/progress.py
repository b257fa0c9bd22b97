"""Progress of a step that may take more than a couple of seconds (planning, simulating, certifying).

``Progress`` is called with the current step's text (zh, en) and, when known, the fraction done.
On a terminal (stderr is a TTY) it draws one live line with rich (spinner, bar, elapsed time);
otherwise it degrades to plain lines on stderr, at most one per ``interval_s`` plus the last one, so
logs and CI output stay short.  It never writes to stdout (which may carry ``--json``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A context manager; call it with ``(zh, en, fraction=None)`` as the work goes on."""

    def __init__(self, lang: str = "zh", *, interval_s: float = 2.0, stream: TextIO | None = None, quiet: bool = False):
        self.lang = lang
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._last = float("-inf")
        self._pending: str | None = None
        self._live = None
        self._task = None
        self._t0 = time.monotonic()

    def __enter__(self) -> "Progress":
        if not self.quiet and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._live = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._live.start()
            self._task = self._live.add_task("", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        elif self._pending is not None and exc[0] is None:
            self._write(self._pending)
        self._pending = None

    def __call__(self, zh: str, en: str, fraction: float | None = None) -> None:
        if self.quiet:
            return
        text = en if self.lang == "en" else zh
        if self._live is not None:
            total = 1.0 if fraction is not None else None
            self._live.update(
                self._task,
                description=text,
                total=total,
                completed=min(max(fraction, 0.0), 1.0) if fraction is not None else 0,
            )
            return
        if fraction is not None:
            text = f"{text}  {100 * min(max(fraction, 0.0), 1.0):.0f}%"
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._write(text)
            self._last = now
            self._pending = None
        else:
            self._pending = text

    def _write(self, text: str) -> None:
        print(f"[{time.monotonic() - self._t0:6.1f}s] {text}", file=self.stream, flush=True)
