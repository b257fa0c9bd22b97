"""Evidence of one conformance test: files beside the results, and notes.

Each test gets an :class:`Evidence` (the ``evidence`` fixture).  Files are
written under ``<report>/evidence/<test-slug>/`` and listed, relative to the
report folder, in the results; without a report folder they are kept in a
temporary folder and still listed.  HTTP exchanges go to ``http.jsonl``
through :meth:`Evidence.httpx_hooks`; serial traces are attached by the
fixtures that own the line.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

_BODY_LIMIT = 64 * 1024


def slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


class Evidence:
    def __init__(self, root: Path, nodeid: str, report_root: Path):
        self.dir = root / slug(nodeid)
        self.report_root = report_root
        self.nodeid = nodeid
        self.files: list[str] = []
        self.notes: list[dict] = []
        self.partial_reason: tuple[str, str] | None = None

    def _path(self, name: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.dir / name
        rel = str(p.relative_to(self.report_root)) if p.is_relative_to(self.report_root) else str(p)
        if rel not in self.files:
            self.files.append(rel)
        return p

    def attach_text(self, name: str, text: str) -> Path:
        p = self._path(name)
        p.write_text(text, "utf-8")
        return p

    def attach_json(self, name: str, obj) -> Path:
        return self.attach_text(name, json.dumps(obj, ensure_ascii=False, indent=2, default=str))

    def append_jsonl(self, name: str, obj) -> None:
        p = self._path(name)
        with open(p, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")

    def attach_bytes(self, name: str, data: bytes) -> Path:
        p = self._path(name)
        p.write_bytes(data)
        return p

    def note(self, zh: str, en: str) -> None:
        """A line for the report (what was observed)."""
        self.notes.append({"zh": zh, "en": en})

    def partial(self, zh: str, en: str) -> None:
        """Mark the test *partial*: it passed, but only part of what it checks could be shown."""
        self.partial_reason = (zh, en)

    def httpx_hooks(self) -> dict:
        """``event_hooks`` for an ``httpx.Client``: every exchange to ``http.jsonl``."""

        def on_request(request):
            request.extensions["roucai_t0"] = time.monotonic()

        def on_response(response):
            response.read()
            req = response.request
            t0 = req.extensions.get("roucai_t0", time.monotonic())
            self.append_jsonl(
                "http.jsonl",
                {
                    "t": time.time(),
                    "ms": round((time.monotonic() - t0) * 1000, 2),
                    "request": {
                        "method": req.method,
                        "url": str(req.url),
                        "headers": {k: v for k, v in req.headers.items() if k.lower() != "authorization"},
                        "body": _text(req.content),
                    },
                    "response": {
                        "status": response.status_code,
                        "headers": dict(response.headers),
                        "body": _text(response.content),
                    },
                },
            )

        return {"request": [on_request], "response": [on_response]}


def _text(data: bytes) -> str:
    cut = data[:_BODY_LIMIT]
    try:
        s = cut.decode("utf-8")
    except UnicodeDecodeError:
        s = "hex:" + cut.hex()
    return s + (f"…(+{len(data) - _BODY_LIMIT} bytes)" if len(data) > _BODY_LIMIT else "")
