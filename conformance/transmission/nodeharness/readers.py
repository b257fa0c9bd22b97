"""What the tests read from a session: the records the harness platform stored, what each node under test
was expected to deliver and what is still missing, the envelopes the nodes POSTed (read with the profile),
and the HTTP wire trace as evidence.

:class:`SessionReaders` is a base of :class:`~.state.SessionState`, which gives it ``platform``,
``recorder``, ``spec``, ``keys``, ``nodes`` and ``_uploads``.  :meth:`SessionReaders.uploads` reads the
recorder once and keeps the result: call it after the scenario has run.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ..recorder import Recorder, analyse_upload, canon
from .city_platform import HarnessPlatform
from .settings import UPLOAD_PATH
from .under_test import NodeUnderTest


class SessionReaders:
    """The accessors the node tests judge with (a base of :class:`~.state.SessionState`)."""

    # given by SessionState (annotations only, for the type checker)
    platform: HarnessPlatform
    recorder: Recorder
    spec: Any
    keys: dict[str, str]
    nodes: dict[str, NodeUnderTest]
    _uploads: list | None

    # -- what the platform has -----------------------------------------------------------------------
    def stored(self, node: str | None = None) -> list[tuple[str, str, str | None, str]]:
        """(node, rtype, own_code, canonical body) of every record the platform stored (of ``node``)."""
        q = "SELECT node_id, rtype, own_code, body FROM records"
        rows = self.platform.rows(q + (" WHERE node_id = ?" if node else "") + " ORDER BY id", (node,) if node else ())
        return [(a, b, c, canon(json.loads(d))) for a, b, c, d in rows]

    def expected(self, n: NodeUnderTest) -> tuple[set[str], set[str]]:
        """(canonical records accepted by the node's handheld intake, trace codes sold on its scales)."""
        recs = {c for (_, _, c, v) in n.handheld if v == "accepted"}
        codes = {s.trace_code for b in n.scales for (_, s, _) in b.sales}
        return recs, codes

    def missing(self, n: NodeUnderTest) -> tuple[set[str], set[str]]:
        recs, codes = self.expected(n)
        stored = self.stored(n.code)
        bodies = {b for (_, _, _, b) in stored}
        owns = {o for (_, _, o, _) in stored if o}
        return recs - bodies, codes - owns

    def _all_at_platform(self) -> bool:
        try:
            return all(not a and not b for a, b in (self.missing(n) for n in self.nodes.values()))
        except sqlite3.Error:
            return False

    # -- what the nodes sent -------------------------------------------------------------------------
    def uploads(self, node: str | None = None) -> list:
        """Every envelope POSTed to the upload path by a node under test, read with the profile."""
        if self._uploads is None:
            keys = dict(self.keys)
            ups = []
            for ex in self.recorder.snapshot():
                if ex.method != "POST" or ex.path != UPLOAD_PATH:
                    continue
                up = analyse_upload(self.spec, ex, keys.get)
                if up.node in self.nodes:
                    ups.append(up)
            self._uploads = ups
        return [u for u in self._uploads if node is None or u.node == node]

    def exchanges_of(self, node: str) -> list:
        return [u.ex for u in self.uploads(node)]

    # -- evidence ------------------------------------------------------------------------------------
    def write_trace(self, path: Path, node: str | None = None, limit: int = 400) -> None:
        """The HTTP wire trace (uploads of the nodes under test) as JSON lines."""
        with open(path, "w", encoding="utf-8") as fh:
            for up in self.uploads(node)[:limit]:
                ex = up.ex
                fh.write(
                    json.dumps(
                        {
                            "t": ex.t,
                            "ms": round((ex.t_end - ex.t) * 1000, 2),
                            "phase": ex.phase,
                            "node": up.node,
                            "index": up.header.get("Index"),
                            "count": up.count,
                            "status": ex.status,
                            "outage": ex.outage,
                            "answer_code": up.answer_code,
                            "request": ex.body[:4096].decode("utf-8", "replace"),
                            "answer": ex.answer[:2048].decode("utf-8", "replace"),
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
