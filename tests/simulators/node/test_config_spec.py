"""The declarative node config (issue 17 item 5) accepts and refuses exactly what the hand-written parser did.

Oracle: ``simulators/node/config.py`` as it was at :data:`ORACLE_COMMIT` (the last hand-written
``parse_config``), read with ``git show`` and run as a module beside the new one.  Both parse the same
document; the test asserts the same :class:`NodeConfig` (as a dict) or the same error: class name, exit code
and the zh and en messages (word for word, except the two key names the spec writes better, see
:func:`_renamed`).  Inputs: the example config, the configs the test kits and the harness write, and
hypothesis-generated documents where every key is absent, valid, out of range or of a wrong type, plus
unknown keys, malformed sections, and every source of the node key.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.transmission.nodeharness.settings import STOP_POLL_S, UPLOAD_CFG
from nodekit import write_config
from profiles import load_profile
from simulators.node import config as new

ROOT = Path(__file__).resolve().parents[3]
ORACLE_COMMIT = "7fd60a7e3595cb76a5f56ac02641bef7d408303f"
EXAMPLE = ROOT / "fixtures" / "nodes" / "example-node.toml"


def _load_oracle():
    """The hand-written config module of :data:`ORACLE_COMMIT`, as ``simulators.node._config_oracle``."""
    res = subprocess.run(
        ["git", "show", f"{ORACLE_COMMIT}:simulators/node/config.py"], cwd=ROOT, capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(f"the oracle needs the git history ({res.stderr.strip()})")
    name = "simulators.node._config_oracle"
    spec = importlib.util.spec_from_loader(name, loader=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "simulators.node"
    sys.modules[name] = mod
    exec(compile(res.stdout, f"<{ORACLE_COMMIT[:7]}:simulators/node/config.py>", "exec"), mod.__dict__)
    return mod


@pytest.fixture(scope="module")
def oracle():
    return _load_oracle()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with every kind of key file and outbox location the generated documents name."""
    d = tmp_path_factory.mktemp("cfgspec")
    (d / "keys.json").write_text(json.dumps({"650103002": "from-json"}), "utf-8")
    (d / "other.json").write_text(json.dumps({"650103003": "x"}), "utf-8")
    (d / "list.json").write_text("{", "utf-8")
    (d / "plain.key").write_text("plain-key\n", "utf-8")
    (d / "blank.key").write_text("a b\n", "utf-8")
    (d / "keysdir").mkdir()
    return d


def _renamed(text: str) -> str:
    """What the spec words better: the old parser named an array item's key ``[operators #1] code`` and
    ``[[[devices]] #1] id`` (now ``[[operators]] #1 code``, ``[[devices]] #1 id``), and wrote "must be a
    false", "must be a array", "应为 true" (now "must be true or false", "an array", "应为 true 或 false")."""
    text = re.sub(r"\[operators (#\d+)\] ", r"[[operators]] \1 ", text)
    text = re.sub(r"\[(\[\[devices\]\] #\d+)\] ", r"\1 ", text)
    text = re.sub(r"must be a (array|integer)$", r"must be an \1", text)
    text = re.sub(r"must be a false$", "must be true or false", text)
    return re.sub(r"应为 true$", "应为 true 或 false", text)


def outcome(mod, data: dict, base: Path, profile):
    """``("ok", fields)`` or ``("error", class name, exit code, zh, en)`` (old names rewritten)."""
    try:
        cfg = mod.parse_config(copy.deepcopy(data), base, profile, "spec-test")
    except mod.ConfigError as exc:
        return ("error", type(exc).__name__, exc.exit_code, _renamed(exc.zh), _renamed(exc.en))
    return ("ok", dataclasses.asdict(cfg))


def same(oracle, data: dict, base: Path, profile=None, env_key: str | None = None):
    saved = os.environ.pop(new.KEY_ENV, None)
    try:
        if env_key is not None:
            os.environ[new.KEY_ENV] = env_key
        want = outcome(oracle, data, base, profile)
        got = outcome(new, data, base, profile)
    finally:
        os.environ.pop(new.KEY_ENV, None)
        if saved is not None:
            os.environ[new.KEY_ENV] = saved
    assert got == want, data
    return got


def test_the_example_and_the_written_configs_agree(oracle, work):
    ok = same(oracle, tomllib.loads(EXAMPLE.read_text("utf-8")), EXAMPLE.parent)
    assert ok[0] == "ok" and ok[1]["devices"][1]["port_url"] == "socket://127.0.0.1:7003"
    path = work / "kit.toml"
    write_config(
        path,
        "650103002",
        "昊嘉",
        "farmers_market",
        "http://127.0.0.1:9",
        "k-1",
        operators=[("6501030020001", "王杨")],
        devices=[{"id": "s1", "url": "sim://l1", "operator": "6501030020001", "stall": "B1"}],
        upload=UPLOAD_CFG,
        stop_poll_s=STOP_POLL_S,
    )
    assert same(oracle, tomllib.loads(path.read_text("utf-8")), work)[0] == "ok"


#: a value of any TOML type: a wrong type or an out-of-range value for most keys
JUNK = st.one_of(
    st.integers(-5, 10**7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.booleans(),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "code"]), st.integers(0, 3), max_size=2),
)
ABSENT = object()
NODE_CODES = (["650103002"], ["65010300", "000000001", "650103003"])
OP_CODES = (["6501030020001", "6501030020003", "6501030020000"], ["650103002001", "6501030030001"])


def edge(lo: float, hi: float, *more: float) -> st.SearchStrategy:
    """Out of ``lo..hi``: just outside either end, ``more``, or anywhere."""
    step = 1 if isinstance(lo, int) and isinstance(hi, int) else 0.001
    return st.one_of(st.sampled_from([lo - step, hi + step, *more]), st.floats(-1, 5000, allow_nan=False))


def span(lo: float, hi: float, *more: float) -> tuple:
    """(valid, invalid) numbers for a key bounded by ``lo..hi``."""
    good = st.integers(lo, hi) if isinstance(lo, int) and isinstance(hi, int) else st.floats(lo, hi)
    return good, edge(lo, hi, *more)


def _choice(pair) -> tuple:
    good, bad = pair
    return st.sampled_from(good), st.sampled_from(bad)


class _Doc:
    """Draws one document: each key valid (or left out when optional), or, with chance ``noise`` %, left
    out when required, of any type, or out of its range."""

    def __init__(self, draw, noise: int, focus: str):
        self.draw, self.base_noise, self.focus, self.noise = draw, noise, focus, noise

    def at(self, section: str) -> _Doc:
        """Keys drawn next belong to ``section``: many faults there when it is the focus."""
        self.noise = 40 if section == self.focus else self.base_noise
        return self

    def value(self, good, bad=None, optional=True):
        if self.draw(st.integers(0, 99)) >= 100 - self.noise:  # hypothesis favours 0: 0 is valid
            fault = self.draw(st.sampled_from(["absent", "junk", "bad"] if bad is not None else ["absent", "junk"]))
            return ABSENT if fault == "absent" else self.draw(JUNK if fault == "junk" else bad)
        if optional and self.draw(st.booleans()):
            return ABSENT
        return self.draw(good)

    def table(self, fields: dict, optional=True):
        """``fields``: key -> (good, bad, optional); the table itself may be junk or left out."""
        out = {}
        for k, (good, bad, opt) in fields.items():
            v = self.value(good, bad, opt)
            if v is not ABSENT:
                out[k] = v
        return self.value(st.just(out), None, optional=False) if optional else out


@st.composite
def documents(draw, work: Path) -> dict:
    sections = ["node", "operators", "platform", "outbox", "upload", "stoptrade", "batches", "server", "devices"]
    d = _Doc(draw, draw(st.sampled_from([0, 0, 2, 5, 15])), draw(st.sampled_from(["", *sections])))
    ops = [
        d.at("operators").table(
            {
                "code": (*_choice(OP_CODES), False),
                "name": (st.sampled_from(["王杨", "o"]), None, False),
                "property": (st.sampled_from(["1", "2"]), None, True),
                "tel": (st.just("13800000000"), None, True),
                "surprise": (st.just(1), None, True),
            }
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    devices = []
    for i in range(draw(st.integers(0, 3))):
        fields = {
            "id": (st.just(f"s{i}"), st.just("s0"), False),
            "kind": (st.just("scale"), st.just("reader"), True),
            "url": (
                st.sampled_from(
                    ["sim://x", "socket://127.0.0.1:7003", "serial:///dev/ttyUSB0?baud=4800", "/dev/pts/3"]
                ),
                st.sampled_from(["serial://x", "relative", "http://x", "sim://", "socket://h", "/dev/x?baud=zz"]),
                False,
            ),
            "baud": (*span(50, 4_000_000), True),
            "poll_s": (*span(0.01, 600), True),
            "read_max": (*span(1, 255), True),
            "response_timeout_s": (*span(0.01, 30), True),
        }
        if draw(st.booleans()):  # bound to a stall at start: both keys or (a fault) one of them
            fields["operator"] = (st.just("6501030020000"), st.sampled_from(OP_CODES[0] + OP_CODES[1]), False)
            fields["stall"] = (st.just("B1"), None, False)
        devices.append(d.at("devices").table(fields))
    key_source = draw(st.sampled_from(["key", "key", "key_file", "none"]))  # "none": the environment or no key
    doc = {
        "node": d.at("node").table(
            {
                "code": (*_choice(NODE_CODES), False),
                "name": (st.sampled_from(["昊嘉", "n"]), None, False),
                "type": (st.just("farmers_market"), st.sampled_from(["supermarket", "x"]), False),
                "report_operators": (st.booleans(), None, True),
            },
            optional=False,
        ),
        "operators": d.at("operators").value(st.just(ops), None, True),
        "platform": d.at("platform").table(
            {
                "url": (
                    st.sampled_from(["http://127.0.0.1:8553", "https://h:1"]),
                    st.sampled_from(["ftp://x", "http://", "x"]),
                    False,
                ),
                "path": (
                    st.sampled_from(["/api/v1/exchange", "/dts_if/servlet/IfRevSubServlet"]),
                    st.just("api"),
                    True,
                ),
                **(
                    {"key": (st.just("k-123"), st.sampled_from(["a b", "", "k" * 513]), False)}
                    if key_source == "key"
                    else {}
                ),
                **(
                    {
                        "key_file": (
                            st.sampled_from(["keys.json", "plain.key"]),
                            st.sampled_from(["other.json", "list.json", "blank.key", "keysdir", "missing"]),
                            False,
                        )
                    }
                    if key_source == "key_file"
                    else {}
                ),
                "timeout_s": (*span(0.1, 120), True),
                "format": (st.sampled_from(["xml", "json"]), st.just("csv"), True),
            },
            optional=False,
        ),
        "outbox": d.at("outbox").table(
            {
                "path": (
                    st.sampled_from([str(work / "o.db"), "rel.db"]),
                    st.sampled_from(["nodir/x.db", str(work), "keysdir"]),
                    True,
                )
            }
        ),
        "upload": d.at("upload").table(
            {
                "max_count": (*span(1, 500, 100), True),
                "batch_wait_s": (*span(0.0, 300.0, 330.0), True),
                "interval_s": (*span(0.01, 60), True),
                "backoff_first_s": (*span(0.01, 10, 60, 60.1), True),
                "backoff_max_s": (*span(10, 3600), True),
            }
        ),
        "stoptrade": d.at("stoptrade").table(
            {"poll_s": (*span(0.05, 60), True), "enabled": (st.booleans(), None, True)}
        ),
        "batches": d.at("batches").table(
            {
                "push": (st.booleans(), None, True),
                "default_price": (*span(0.01, 99999.99), True),
            }
        ),
        "server": d.at("server").table(
            {
                "host": (st.sampled_from(["127.0.0.1", "::1"]), st.just("example.org"), True),
                "port": (*span(0, 65535), True),
            }
        ),
        "devices": d.at("devices").value(st.just(devices), None, True),
        "profile": d.at("").value(st.sampled_from(["reference", "guangzhou"]), st.just("no-such-profile"), True),
        "surprise": 1 if d.noise and draw(st.integers(0, 9)) == 9 else ABSENT,
    }
    return {k: v for k, v in doc.items() if v is not ABSENT}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_documents_get_the_same_config_or_the_same_error(oracle, work, data):
    doc = data.draw(documents(work), "document")
    env_key = data.draw(st.sampled_from([None, None, "from-env", " "]), "ROUCAI_NODE_KEY")
    profile = data.draw(st.sampled_from([None, "reference"]), "profile object")
    same(oracle, doc, work, None if profile is None else load_profile(profile), env_key)


def test_generated_documents_reach_every_outcome(oracle, work):
    """The generator is not a toy: over a fixed sample it yields valid configs and many distinct errors."""
    seen: set[str] = set()
    valid = 0

    @settings(max_examples=600, deadline=None, database=None, derandomize=True)
    @given(doc=documents(work))
    def collect(doc):
        nonlocal valid
        res = outcome(new, doc, work, None)
        if res[0] == "ok":
            valid += 1
        else:
            seen.add(re.sub(r"[\d.]+|'[^']*'", "_", res[4])[:60])

    collect()
    assert valid >= 40 and len(seen) >= 28, (valid, len(seen), sorted(seen))


#: faults of one key: (section, item index or None, key, bad values); ABSENT removes the key
FAULTS = [
    ("node", None, "code", [ABSENT, 1, "65010300"]),
    ("node", None, "name", [ABSENT, 1]),
    ("node", None, "type", [ABSENT, 1, "supermarket"]),
    ("node", None, "report_operators", [1]),
    ("operators", 0, "code", [ABSENT, 1, "650103002001"]),
    ("operators", 0, "name", [ABSENT, 1]),
    ("operators", 0, "tel", [1]),
    ("platform", None, "url", [ABSENT, 1, "ftp://x"]),
    ("platform", None, "path", [1, "api"]),
    ("platform", None, "key", [ABSENT, 1, "a b"]),
    ("platform", None, "key_file", [1, "missing", "other.json", "list.json"]),
    ("platform", None, "timeout_s", ["x", 0.0, 121]),
    ("platform", None, "format", [1, "csv"]),
    ("outbox", None, "path", [1, "nodir/x.db", "keysdir"]),
    ("upload", None, "max_count", ["1", 0, 501]),
    ("upload", None, "batch_wait_s", ["x", -0.001, 300.001]),
    ("upload", None, "interval_s", ["x", 0.0, 61]),
    ("upload", None, "backoff_first_s", ["x", 0.0, 61]),
    ("upload", None, "backoff_max_s", ["x", 0.001, 3601]),
    ("stoptrade", None, "poll_s", ["x", 0.0, 61]),
    ("stoptrade", None, "enabled", [1]),
    ("batches", None, "push", [1]),
    ("batches", None, "default_price", ["x", 0.0, 100000]),
    ("server", None, "host", [1, "example.org"]),
    ("server", None, "port", ["1", -1, 65536]),
    ("devices", 0, "id", [ABSENT, 1, "s1"]),
    ("devices", 0, "kind", [1, "reader"]),
    ("devices", 0, "url", [ABSENT, 1, "http://x", "serial://x", "/dev/x?baud=zz"]),
    ("devices", 0, "baud", ["1", 49]),
    ("devices", 0, "poll_s", ["x", 0.0]),
    ("devices", 0, "read_max", ["1", 0, 256]),
    ("devices", 0, "response_timeout_s", ["x", 0.0, 31]),
    ("devices", 0, "operator", [ABSENT, 1, "6501030020009"]),
    ("devices", 0, "stall", [ABSENT, 1]),
    (None, None, "profile", [1, "no-such-profile"]),
    (None, None, "surprise", [1]),
    (None, None, "node", ["x"]),
    (None, None, "operators", [{}, ["x"]]),
    (None, None, "devices", [{}, ["x"]]),
    (None, None, "upload", [[]]),
]


def _faulted(work: Path, faults) -> dict:
    doc = {
        "node": {"code": "650103002", "name": "昊嘉", "type": "farmers_market"},
        "operators": [{"code": "6501030020001", "name": "王杨"}],
        "platform": {"url": "http://127.0.0.1:8553", "key": "k-123", "timeout_s": 5},
        "outbox": {"path": str(work / "o.db")},
        "upload": {"max_count": 50, "batch_wait_s": 1, "interval_s": 0.5, "backoff_first_s": 2, "backoff_max_s": 9},
        "stoptrade": {"poll_s": 2, "enabled": True},
        "batches": {"push": False, "default_price": 12.5},
        "server": {"host": "127.0.0.1", "port": 8000},
        "devices": [
            {"id": "s0", "kind": "scale", "url": "sim://a", "baud": 4800, "poll_s": 2, "read_max": 9}
            | {"response_timeout_s": 1, "operator": "6501030020001", "stall": "B1"},
            {"id": "s1", "url": "sim://b"},
        ],
    }
    for (section, index, key, _), value in faults:
        target = doc if section is None else doc[section]
        if index is not None:
            target = target[index] if isinstance(target, list) and len(target) > index else None
        if not isinstance(target, dict):  # the section itself was replaced by an earlier fault
            continue
        if value is ABSENT:
            target.pop(key, None)
        else:
            target[key] = value
    return doc


def test_every_pair_of_faults_gets_the_same_first_error(oracle, work):
    """Every fault alone and every pair of faults (the first error decides: the order of the checks)."""
    singles = [(f, v) for f in FAULTS for v in f[3]]
    assert same(oracle, _faulted(work, []), work)[0] == "ok"
    errors = set()
    for i, a in enumerate(singles):
        res = same(oracle, _faulted(work, [a]), work)
        errors.add(res[4] if res[0] == "error" else "ok")
        for b in singles[i + 1 :]:
            if a[0] is not b[0]:
                same(oracle, _faulted(work, [a, b]), work)
                same(oracle, _faulted(work, [b, a]), work)
    assert len(errors) >= len(singles) - 12, sorted(errors)  # nearly every fault is seen as its own error
