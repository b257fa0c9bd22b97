"""The proof that each PLAT-SEC test of the platform suite can fail, by a defect injected from outside.

For each case a fresh reference platform is started with the seeded ``tiny`` city, the HTTP proxy
(:mod:`conformance.proofs.proxy`) is put in front of it with one defect, and ``roucai certify --target http://PROXY
--suite platform -k TEST`` runs against the proxy (the machinery of ``test_http_defects.py``).  Caught = a ``fail``
or ``timeout`` verdict on the test, which names the requirement, and exit 1 (or 3).  The defects are
transformations of what crosses the wire, registered here under ``sec-…`` names (the catalogue's
``signed-endpoints-open`` is reused for replays), except one: the proxy's own missing read deadlines (a reverse
proxy in front of a platform is where slow connections are usually held).

The clean reference, started directly (``--target builtin``), must pass every PLAT-SEC test of this list.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sessionkit import items_of_module

from conformance.proofs.http_defects import (
    TRANSFORMS,
    DuplicateAsAccepted,
    Transform,
    _is_upload,
    _profile,
    _resign,
    transform,
)
from tests.conformance.test_http_defects import _platform_run

pytestmark = pytest.mark.slow


@transform("sec-page-unescaped")
class PageUnescaped(Transform):
    """The consumer page renders stored text unescaped (entity references of the page undone)."""

    def response(self, ex, reply):
        if ex.method == "GET" and ex.path == "/trace" and reply.status == 200:
            reply.body = html.unescape(reply.body.decode("utf-8", "replace")).encode("utf-8")
        return reply


@transform("sec-headers-stripped")
class HeadersStripped(Transform):
    """Answers carry no Content-Security-Policy, X-Frame-Options or X-Content-Type-Options."""

    DROP = {"content-security-policy", "x-frame-options", "x-content-type-options"}

    def response(self, ex, reply):
        reply.headers = [(k, v) for k, v in reply.headers if k.lower() not in self.DROP]
        return reply


@transform("sec-bad-parameters-500")
class BadParameters500(Transform):
    """A query or acknowledgement the platform refuses (4xx) is answered 500 instead (an unhandled exception)."""

    def response(self, ex, reply):
        if 400 <= reply.status < 500 and not _is_upload(ex):
            reply.status = 500
            reply.headers = [(k, v) for k, v in reply.headers if k.lower() != "content-type"]
            reply.headers.append(("content-type", "application/json"))
            reply.body = json.dumps({"error": "Internal Server Error"}).encode()
        return reply


@transform("sec-parses-before-refusing")
class ParsesBeforeRefusing(Transform):
    """An upload over 1 MiB is answered one second per MiB late (parsed and validated whole before the signature
    is checked)."""

    def delay(self, ex):
        mib = len(ex.body) / (1024 * 1024)
        return mib if _is_upload(ex) and mib > 1 else 0.0


@transform("sec-rejections-answered-accepted")
class RejectionsAnsweredAccepted(DuplicateAsAccepted):
    """Records the platform rejects are answered ``accepted`` (reason 0000)."""

    turned = ("rejected",)


@transform("sec-stop-trade-from-anyone")
class StopTradeFromAnyone(Transform):
    """A failed test the platform rejects is taken as the batch issuer's own: the proxy re-sends it re-signed as from
    the node that issued the batch (the first 9 digits of the batch's trace code), so it is accepted and stops the
    batch, whoever really tested."""

    def response(self, ex, reply):
        if not _is_upload(ex) or b"qmarket_detection_info" not in ex.body:
            return reply
        resp, _f = _profile().envelope.parse_response(reply.body)
        if resp is None or not any(r.verdict == "rejected" for r in resp.results):
            return reply

        def as_issuer(res):
            return [
                {**r.record, "market_id": r.record["batch_id"][:9], "wholesaler_id": r.record["batch_id"][:13]}
                for r in res.records
            ]

        res = _profile().envelope.parse(ex.body, validate_records=False)
        tester, issuer = res.header.get("NodeId"), res.records[0].record.get("batch_id", "")[:9]
        if issuer not in self.keys:
            return reply
        keys = {**self.keys, tester: self.keys[issuer]}  # _resign signs with the key of the NodeId it parsed
        return _resign(ex, keys, records=as_issuer, header={"NodeId": issuer}, now=True) or reply


@transform("sec-no-read-deadline")
class NoReadDeadline(Transform):
    """Nothing is changed: the defect is the proxy's own, it holds incomplete requests without a deadline
    (a clean proxy has the platform's header and body deadlines)."""

    read_deadlines = False


#: test (conformance/platform) -> (the requirement it names, the transform that breaks it)
CASES = {
    "test_hostile_names_do_not_run_on_the_consumer_page": ("PLAT-SEC-05", "sec-page-unescaped"),
    "test_html_pages_send_security_headers": ("PLAT-SEC-06", "sec-headers-stripped"),
    "test_a_node_without_the_right_cannot_stop_trade": ("PLAT-SEC-07", "sec-stop-trade-from-anyone"),
    "test_bulky_unsigned_envelopes_are_refused_quickly": ("PLAT-SEC-08", "sec-parses-before-refusing"),
    "test_slow_connections_do_not_stop_service": ("PLAT-SEC-09", "sec-no-read-deadline"),
    "test_signed_requests_cannot_be_replayed_across_a_restart": ("PLAT-SEC-10", "signed-endpoints-open"),
    "test_bad_parameters_are_answered_4xx": ("PLAT-SEC-11", "sec-bad-parameters-500"),
    "test_a_node_cannot_name_another_nodes_operator_as_seller": ("PLAT-SEC-02", "sec-rejections-answered-accepted"),
}
CAUGHT = ("fail", "timeout")


def _clean(out) -> dict:
    """``roucai certify --suite platform -k <every case>`` against the built-in reference, directly."""
    cmd = [
        sys.executable,
        "-m",
        "roucai.cli",
        "certify",
        "--suite",
        "platform",
        "--report",
        str(out),
        "-k",
        " or ".join(CASES),
        "--seed",
        "1",
    ]
    p = subprocess.run(cmd, capture_output=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    res = out / "results.json"
    doc = json.loads(res.read_text("utf-8")) if res.is_file() else {"tests": []}
    return {
        "rc": p.returncode,
        "tests": {t["nodeid"]: (t["verdict"], t["requirements"]) for t in doc["tests"]},
        "reasons": {t["nodeid"]: t["reason_en"][:400] for t in doc["tests"] if t["verdict"] != "pass"},
        "stderr": p.stderr.decode("utf-8", "replace")[-1500:],
    }


def _selected(request) -> tuple[list[str], bool]:
    """The cases this session needs, and whether it needs the clean run."""
    mine = items_of_module(request)
    return (
        sorted({it.callspec.params["test"] for it in mine if hasattr(it, "callspec")}),
        any(it.originalname == "test_the_clean_reference_passes_every_plat_sec_test" for it in mine),
    )


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Two cases at a time; the platforms' start-ups one at a time (``launch_builtin`` runs ``serve admin`` in this
    process with its standard output redirected, which two threads at once would mix)."""
    import conformance.platform_under_test as put_mod

    root = tmp_path_factory.mktemp("platform-security")
    real, lock = put_mod.launch_builtin, threading.Lock()

    def launch_one_at_a_time(*a, **kw):
        with lock:
            return real(*a, **kw)

    cases, clean = _selected(request)
    with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(max_workers=2) as pool:
        mp.setattr(put_mod, "launch_builtin", launch_one_at_a_time)
        jobs = {t: pool.submit(_platform_run, CASES[t][1], "platform", [t], root / t) for t in cases}
        if clean:
            jobs["clean"] = pool.submit(_clean, root / "clean")
        return {t: f.result() for t, f in jobs.items()}


@pytest.mark.parametrize("test", sorted(CASES))
def test_the_defect_injected_from_outside_is_caught(test, runs):
    rid, defect = CASES[test]
    if rid == "PLAT-SEC-05" and not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no chromium installed (scripts/ci-browser.sh installs it): the page test is not applicable")
    assert defect in TRANSFORMS
    r = runs[test]
    caught = [n for n, (v, reqs) in r["tests"].items() if v in CAUGHT and rid in reqs and n.endswith("::" + test)]
    assert caught, (
        f"{test} ({rid}) did not fail through the proxy with {defect}: exit {r['rc']}, verdicts "
        f"{r['tests']}, reasons {r['reasons']}\n{r['stderr']}"
    )
    assert r["rc"] in (1, 3), f"certify through the proxy with {defect} must exit 1 (or 3), not {r['rc']}"


def test_the_clean_reference_passes_every_plat_sec_test(runs):
    r = runs["clean"]
    names = {n.rsplit("::", 1)[-1] for n in r["tests"]}
    assert names == set(CASES), f"tests run {sorted(names)} != {sorted(CASES)}\n{r['stderr']}"
    ok = ("pass", "not-applicable") if not (shutil.which("chromium") or shutil.which("chromium-browser")) else ("pass",)
    bad = {
        n: (v, r["reasons"].get(n))
        for n, (v, _reqs) in r["tests"].items()
        if v not in (ok if n.endswith("::test_hostile_names_do_not_run_on_the_consumer_page") else ("pass",))
    }
    assert not bad and r["rc"] == 0, f"the clean reference must pass every PLAT-SEC test: exit {r['rc']}, {bad}"
