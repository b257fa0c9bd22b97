"""Phase ``sales``: :data:`~.settings.SALES_PER_SCALE` sales on every scale, then a bounded wait until every
record (handheld and scale) is at the platform."""

from __future__ import annotations

from .settings import SALES_PER_SCALE
from .state import SessionState


def run(sess: SessionState) -> None:
    for b in sess._scales():
        for _ in range(SALES_PER_SCALE):
            b.sell(sess.rng, "sales")
    sess._wait("sales", sess._all_at_platform, 30, "every record at the platform")
