"""Transformations of the problem-discovery answers (PLAT-PROB-*), registered in :data:`.http_defects.TRANSFORMS`.

* ``problems-hide-kind`` (``params.kind``): the problem list never shows problems of one kind (a platform whose
  detector lacks that rule, or whose list query filters it out);
* ``problems-node-key-accepted``: a problem action (acknowledge, close) signed with a node's key, which the
  platform refuses, is answered as done (a platform that checks the signature but not that the signer is a
  regulator).
"""

from __future__ import annotations

import json
import re

from .http_defects import Transform, _doc, transform
from .proxy import Reply

LIST = "/api/v1/problems"
_ACTION = re.compile(r"^/api/v1/problems/([0-9]+)/(ack|close)$")


@transform("problems-hide-kind")
class ProblemsHideKind(Transform):
    def response(self, ex, reply):
        if ex.method != "GET" or ex.path != LIST or reply.status != 200:
            return reply
        doc = _doc(reply)
        if not isinstance(doc, dict) or not isinstance(doc.get("problems"), list):
            return reply
        doc["problems"] = [p for p in doc["problems"] if p.get("kind") != self.params["kind"]]
        return reply.with_json(doc)


@transform("problems-node-key-accepted")
class ProblemsNodeKeyAccepted(Transform):
    def response(self, ex, reply):
        m = _ACTION.match(ex.path)
        if ex.method != "POST" or not m or reply.status != 401 or ex.header("X-Node-Id") not in self.keys:
            return reply
        state = "acknowledged" if m.group(2) == "ack" else "closed"
        return Reply(
            200,
            [("content-type", "application/json")],
            json.dumps({"id": int(m.group(1)), "state": state}).encode("utf-8"),
        )
