"""Structured logs of the node: one JSON object per line on stderr (same line format as the platform's).

Keys, VerifyCodes and record bodies are never logged.
"""

from __future__ import annotations

import logging

from simulators.platform import logs as _platform_logs

LOGGER = "roucai.node"


def setup(level: str = "info", stream=None) -> logging.Logger:
    """Send the node's and uvicorn's loggers to ``stream`` (stderr) as JSON lines."""
    return _platform_logs.setup(level, stream, logger=LOGGER)


def event(name: str, level: int = logging.INFO, **fields) -> None:
    logging.getLogger(LOGGER).log(level, name, extra={"event": name, "fields": fields})
