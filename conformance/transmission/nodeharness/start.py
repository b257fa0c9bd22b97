"""Phase ``start``: the harness platform up with the city's nodes registered and keyed; the day simulated
(the tiny city, the market model's records with their certificates); the nodes under test chosen, with
their scales and configs; the day's records of the city nodes *not* under test uploaded by the harness; one
node process per node under test, waited for (bounded).  A node that does not come up raises
:class:`~.errors.HarnessError`: nothing further can be judged."""

from __future__ import annotations

import datetime as _dt
import io
import json

import httpx

from ..recorder import canon_stored
from .certificates import with_certificates
from .errors import HarnessError
from .node_config import write_config
from .node_process import node_ready, start_node
from .ports import free_port
from .scales import make_scales
from .settings import UPLOAD_PATH
from .state import SessionState
from .under_test import NodeUnderTest


def run(sess: SessionState) -> None:
    # imported when the scenario runs: every transmission or coding run imports this package, and the city,
    # the market model and the platform's rules are needed only when the target is a node
    from simulators.city import generate_city
    from simulators.market import run_market
    from simulators.platform.recordmap import load_rules

    day = _dt.date.today()
    sess.city = generate_city("tiny", sess.seed, sess.profile)
    sink = io.StringIO()
    sess.ledger = run_market("tiny", seed=sess.seed, start=day, ledger_sink=sink, profile=sess.profile)
    sess.day_records = with_certificates(
        [
            o
            for o in map(json.loads, sink.getvalue().splitlines())
            if o["k"] == "record" and o["type"] in sess.profile.records.types
        ],
        sess.ledger,
    )
    roles = load_rules()["node_roles"]
    sess.platform.start()
    reg = sess.platform.services.registry
    for nd in sess.city.nodes:
        reg.register_node(nd.code, nd.name, nd.type)
        sess.keys[nd.code] = reg.current_key(nd.code) or reg.issue_key(nd.code)
    for o in sess.city.operators:
        reg.register_operator(o.code, o.name, o.business_type, o.uscc)
    choose_nodes(sess, roles)
    upload_others(sess)
    for n in sess.nodes.values():
        start_node(sess, n)
    for n in sess.nodes.values():
        sess._wait("start", lambda n=n: node_ready(sess, n), 30, f"node {n.code} listening on {n.port}")
    if "start" in sess.timeouts:  # the node did not come up: nothing further can be judged
        raise HarnessError(sess.timeouts["start"])


def choose_nodes(sess: SessionState, roles: dict) -> None:
    fm = next((n for n in sess.city.nodes if roles.get(n.type) == "retail"), None)
    entries = [r for r in sess.day_records if fm and r["node"] == fm.code and r["type"] == "retail_market_in_info_base"]
    veg = next(
        (
            r["data"]["batch_id"]
            for r in entries
            if len(sess.ledger.chain(r["data"]["batch_id"]) or []) > 1
            and sess.ledger.chain(r["data"]["batch_id"])[1].get("kind") == "veg_batch"
        ),
        None,
    )
    sess.stop_batch = veg
    wanted = {}
    for role in sess.roles:
        cands = [n for n in sess.city.nodes if roles.get(n.type) == role]
        if role == "wholesale" and veg:
            cands.sort(key=lambda n: n.code != veg[:9])  # the wholesaler of the retail veg batch
        if cands:
            wanted[role] = cands[0]
    for role, nd in wanted.items():
        wd = sess.workdir / f"node-{nd.code}"
        wd.mkdir(exist_ok=True)
        ops = [o for o in sess.city.operators if o.node_code == nd.code]
        guest = None
        if role == "wholesale":  # NODE-WHOL-01: an operator registered at another node also trades here
            others = sorted(
                (o for o in sess.city.operators if o.node_code != nd.code and not o.code.endswith("0000")),
                key=lambda o: (o.node_code in {x.code for x in wanted.values()}, o.code),
            )
            guest = others[0] if others else None
        n = NodeUnderTest(
            nd.code,
            nd.name,
            nd.type,
            role,
            sess.keys[nd.code],
            free_port(),
            wd / "node.toml",
            wd,
            ops + ([guest] if guest else []),
        )
        n.guest = guest
        sess.nodes[nd.code] = n
        if sess.with_scales and role in ("retail", "wholesale"):
            make_scales(sess, n)
        # a generous answer timeout: the harness's scales share this process with the platform, and a
        # loaded CI machine must not turn into device errors (the node's reconnect backoff grows to 30 s)
        n.devices = [
            {
                "id": b.id,
                "url": b.line.host_url,
                "baud": 115200,
                "poll_s": 0.2,
                "operator": b.operator,
                "stall": b.stall,
                "response_timeout_s": 2.0,
            }
            for b in n.scales
        ]
        write_config(n, sess.platform.url, n.devices)


def upload_others(sess: SessionState) -> None:
    """The day's records of the city nodes not under test, straight to the platform (the harness plays them)."""
    groups: dict[tuple, list] = {}
    for r in sess.day_records:
        if r["node"] not in sess.nodes:
            groups.setdefault((r["node"], r["type"]), []).append(r["data"])
    with httpx.Client(timeout=10, trust_env=False) as c:
        for (node, rtype), recs in groups.items():
            for i in range(0, len(recs), 200):
                part = recs[i : i + 200]
                body = sess.spec.build(node, rtype, part, sess.keys[node])
                c.post(sess.platform.url + UPLOAD_PATH, content=body, headers={"Content-Type": "application/xml"})
                sess.harness_records.update(canon_stored(sess.spec, rtype, x) for x in part)
