"""Structured logs of the node: one JSON object per line on stderr (same line format as the platform's).

Keys, VerifyCodes and record bodies are never logged.
"""
from __future__ import annotations

import logging
import sys

from simulators.platform.logs import JsonLineFormatter

LOGGER = "roucai.node"


def setup(level: str = "info", stream=None) -> logging.Logger:
    """Send the node's and uvicorn's loggers to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level.upper())
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    return logging.getLogger(LOGGER)


def event(name: str, level: int = logging.INFO, **fields) -> None:
    logging.getLogger(LOGGER).log(level, name, extra={"event": name, "fields": fields})
