"""Wire trace: every chunk of bytes on a line as one JSON object per line of text.

Records (see the package docstring for the full shape)::

    {"event": "open", "line": "scale-01", "backend": "sim", "settings": {...}, "wall_time": "..."}
    {"t": 0.001042, "dir": "device->host", "hex": "02 41 03", "n": 3}

``t`` is seconds since the line opened, on the line's clock, when the first
byte of the chunk starts on the wire.  The optional ``decoder(bytes) ->
dict | None`` is called on the bytes the receiver gets; a dict is stored as
``frame``; a decoder that raises is recorded as ``frame_error`` (the trace never
breaks the line).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import threading
from pathlib import Path
from typing import Callable

Decoder = Callable[[bytes], "dict | None"]


def hexs(data: bytes) -> str:
    """``b"\\x02A"`` -> ``"02 41"``."""
    return data.hex(" ")


class WireTrace:
    """A JSON-lines sink for line traffic; thread-safe.

    :param target: a path (opened for writing, truncated), a text file object, or
        ``None`` to keep records only in memory (:attr:`records`).
    :param decoder: optional frame decoder, ``bytes -> dict | None``.
    :param keep: also keep records in :attr:`records` when writing to a file.
    """

    def __init__(
        self, target: str | Path | io.TextIOBase | None = None, decoder: Decoder | None = None, keep: bool | None = None
    ) -> None:
        self.decoder = decoder
        self.records: list[dict] = []
        self._lock = threading.Lock()
        self._own = False
        if target is None:
            self._fh = None
            self._keep = True
        else:
            if isinstance(target, (str, Path)):
                self._fh = open(target, "w", encoding="utf-8")
                self._own = True
            else:
                self._fh = target
            self._keep = bool(keep)

    def write(self, record: dict) -> None:
        with self._lock:
            if self._keep:
                self.records.append(record)
            if self._fh is not None:
                self._fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")

    def opened(self, line_name: str, backend: str, settings: dict, clock: str) -> None:
        self.write(
            {
                "event": "open",
                "line": line_name,
                "backend": backend,
                "settings": settings,
                "clock": clock,
                "wall_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
            }
        )

    def chunk(
        self, t: float, direction: str, data: bytes, sent: bytes | None = None, faults: list[str] | None = None
    ) -> None:
        rec = {"t": round(t, 6), "dir": direction, "hex": hexs(data), "n": len(data)}
        if faults:
            rec["faults"] = faults
        if sent is not None and sent != data:
            rec["sent_hex"] = hexs(sent)
        if self.decoder is not None and data:
            try:
                frame = self.decoder(data)
            except Exception as e:  # a decoder bug must not break the line
                rec["frame_error"] = f"{type(e).__name__}: {e}"
            else:
                if frame is not None:
                    rec["frame"] = frame
        self.write(rec)

    def event(self, t: float, what: str, **extra) -> None:
        self.write({"t": round(t, 6), "event": what, **extra})

    def flush(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                if self._own:
                    self._fh.close()
                self._fh = None
