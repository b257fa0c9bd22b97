"""Structured logs: one JSON object per line on stderr.

Every line has ``ts`` (ISO 8601, CST), ``level``, ``event`` and event fields.
Secrets never reach the log: nothing logs keys, VerifyCodes or request bodies.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

from .clock import CST

LOGGER = "roucai.platform"


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, CST).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or record.name,
        }
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        msg = record.getMessage()
        if msg and msg != out["event"]:
            out["msg"] = msg
        if record.exc_info and record.levelno >= logging.ERROR:
            out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(level: str = "info", stream=None, logger: str = LOGGER) -> logging.Logger:
    """Send ``logger`` (the platform's by default; the node passes its own) and uvicorn's to ``stream``
    (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    for name in (logger, "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level.upper())
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs requests
    return logging.getLogger(logger)


def event(name: str, level: int = logging.INFO, **fields) -> None:
    logging.getLogger(LOGGER).log(level, name, extra={"event": name, "fields": fields})


def always(name: str, **fields) -> None:
    """Log an event whatever the level (start-up lines such as ``listening`` that tools wait for)."""
    lg = logging.getLogger(LOGGER)
    record = lg.makeRecord(LOGGER, logging.INFO, __file__, 0, name, (), None, extra={"event": name, "fields": fields})
    for h in lg.handlers or [logging.lastResort]:
        h.handle(record)
