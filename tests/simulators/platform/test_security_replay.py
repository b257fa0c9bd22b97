"""Issue 13 finding 6: a signed request (GET /api/v1/stoptrade, an acknowledgement) cannot be replayed, also
after the platform restarted - the replay memory is in the platform's database."""

import httpx
import pytest

from platformkit import NODES, P, R
from simulators.platform import nodeauth
from simulators.platform.launcher import PlatformProcess
from simulators.platform.registry import Registry
from simulators.platform.secret import PlatformSecret
from simulators.platform.storage import open_store

pytestmark = pytest.mark.slow


def test_signed_requests_are_refused_as_replays_after_a_restart(tmp_path):
    db = str(tmp_path / "p.db")
    store = open_store(db)
    reg = Registry(store, PlatformSecret.load(db + ".secret", create=True), P)
    reg.register_node(R, *NODES[R])
    key = reg.issue_key(R)
    store.close()
    fetch = nodeauth.sign(P.envelope, key, R, "GET", "/api/v1/stoptrade")
    ack = nodeauth.sign(P.envelope, key, R, "POST", "/api/v1/stoptrade/1/ack")
    with PlatformProcess(db, args=["--log-level", "warning"]) as p:
        assert httpx.get(p.url + "/api/v1/stoptrade", headers=fetch).status_code == 200
        assert httpx.post(p.url + "/api/v1/stoptrade/1/ack", headers=ack).status_code == 404  # no such instruction
        assert httpx.get(p.url + "/api/v1/stoptrade", headers=fetch).status_code == 409
    with PlatformProcess(db, args=["--log-level", "warning"]) as p:
        r = httpx.get(p.url + "/api/v1/stoptrade", headers=fetch)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["en"] == "replayed request"
        assert httpx.post(p.url + "/api/v1/stoptrade/1/ack", headers=ack).status_code == 409
        fresh = nodeauth.sign(P.envelope, key, R, "GET", "/api/v1/stoptrade")
        assert httpx.get(p.url + "/api/v1/stoptrade", headers=fresh).status_code == 200
