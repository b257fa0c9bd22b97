"""The node scenario, run once: the phases in order, each marked on the recorder and timed, then shutdown.

:meth:`NodeSession.run` runs ``start`` (which raises :class:`~.errors.HarnessError` when a node does not come
up), ``handheld`` (intake, batch push, stall transfer), ``sales``, ``outage``, ``backoff``, ``stoptrade`` and
``operators``; :meth:`NodeSession.close` stops the nodes, the scales and the platform, and may be called more
than once.  The readers the tests use come from :class:`~.state.SessionState`.
"""

from __future__ import annotations

from . import backoff, batch_push, handheld, operators, outage, sales, stall_transfer, start, stoptrade
from .node_process import stop_nodes
from .state import SessionState


class NodeSession(SessionState):
    """Run the scenario once (:meth:`run`), then judge with the accessors.  Always :meth:`close`."""

    def run(self) -> "NodeSession":
        with self._phase("start"):
            start.run(self)
        with self._phase("handheld"):
            handheld.run(self)
            batch_push.run(self)
            stall_transfer.run(self)
        with self._phase("sales"):
            sales.run(self)
        with self._phase("outage"):
            outage.run(self)
        with self._phase("backoff"):
            backoff.run(self)
        with self._phase("stoptrade"):
            stoptrade.run(self)
        with self._phase("operators"):
            operators.run(self)
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        stop_nodes(list(self.nodes.values()))
        for b in self._scales():
            b.runner.stop()
            b.line.close()
        self.platform.stop()
