"""The HTTP fault-injecting proxy on its own: transparent without a defect, one transformation with one,
bounded and clear when the target is unreachable or the usage is wrong."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from conformance.proofs.http_defects import TRANSFORMS, load_catalogue
from conformance.proofs.proxy import ProxyError, ProxyThread, parse_listen
from tests.httpkit import BackgroundHTTPServer, QuietHandler


class Echo(QuietHandler):
    """Answers every request with what it received (method, path, body, one header) and a header of its own."""

    def _answer(self):
        n = int(self.headers.get("content-length") or 0)
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": self.rfile.read(n).decode("utf-8"),
                "x-test": self.headers.get("x-test"),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Target", "yes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


class Stats(QuietHandler):
    def do_GET(self):
        body = json.dumps(
            {
                "date": "20250310",
                "rows": [
                    {
                        "node_id": "650103002",
                        "type": "t",
                        "goods_code": None,
                        "records": 5,
                        "weight_kg": "1.250",
                        "on_time": 5,
                    }
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_clean_proxy_is_transparent():
    with BackgroundHTTPServer(Echo) as target, ProxyThread(target.base_url) as px:
        r = httpx.post(px.url + "/a/b?x=1&y=%E4%B8%AD", content="报文".encode(), headers={"X-Test": "t"})
        direct = httpx.post(target.base_url + "/a/b?x=1&y=%E4%B8%AD", content="报文".encode(), headers={"X-Test": "t"})
    assert (r.status_code, r.json()) == (direct.status_code, direct.json())
    assert r.json() == {"method": "POST", "path": "/a/b?x=1&y=%E4%B8%AD", "body": "报文", "x-test": "t"}
    assert r.headers["x-target"] == "yes"


def test_a_defect_changes_only_what_it_names():
    with BackgroundHTTPServer(Stats) as target, ProxyThread(target.base_url, "stats-off-by-one") as px:
        changed = httpx.get(px.url + "/api/v1/stats/daily?date=20250310").json()
        other = httpx.get(px.url + "/api/v1/stats/totals?date=20250310").json()
    assert changed["rows"][0]["records"] == 6
    assert other["rows"][0]["records"] == 5


def test_unreachable_target_is_a_502_with_a_bilingual_error():
    with ProxyThread("http://127.0.0.1:1") as px:
        r = httpx.get(px.url + "/healthz", timeout=10)
    assert r.status_code == 502 and set(r.json()["error"]) == {"zh", "en"}


def test_catalogue_has_twenty_defects_each_with_a_registered_transform():
    cat = load_catalogue()
    assert len(cat) >= 20
    assert all(d.transform in TRANSFORMS and d.zh and d.en and d.breaks for d in cat.values())


def test_listen_is_loopback_only():
    assert parse_listen("127.0.0.1:8600") == ("127.0.0.1", 8600)
    for bad in ("0.0.0.0:8600", "8600", "127.0.0.1:x"):
        with pytest.raises(ProxyError):
            parse_listen(bad)


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "http://127.0.0.1:1", "--defect", "no-such-defect"],
        ["--to", "ftp://x"],
        ["--to", "http://127.0.0.1:1", "--listen", "10.0.0.1:80"],
    ],
)
def test_usage_errors_exit_2_with_one_line(args):
    p = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "serve", "proxy", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
