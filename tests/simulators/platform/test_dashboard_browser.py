"""The regulator's dashboard (监管驾驶舱, issue 14 item 4) as a regulator uses it, in a real headless Chromium.

A real platform on 127.0.0.1 holds the tiny city (imported as ``roucai serve admin import-city`` does) and gets two
simulated business days with the regulator fault set (``roucai simulate --fault-set regulator``, rates raised as in
docs/problems.md: 16 problems); a regulator is registered and detection runs for both days through the signed
problem API.  Chromium (Debian's package, the same flags as tests/conformance/test_report_browser.py)
is driven over the DevTools protocol (to type into the login form and click): the page must show every district
of the assessment with its score, exactly the open problems the API lists, charts with a size, node-health counts
equal to the monitor's; a click on 受理 must acknowledge the problem in the API.  A node's key must not log in.
Skipped only when no Chromium is installed; `.ci/run` installs it.
"""

import json
import re
import shutil
import subprocess
import time

import httpx
import pytest
from platformkit import P
from websockets.sync.client import connect

from roucai.cli import main
from simulators.platform import nodeauth
from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import ThreadedPlatform
from simulators.platform.reader_auth import RegulatorReads
from simulators.platform.regulators import Regulators

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAYS, WEEK, RID, NODE = ("20250310", "20250311"), "2025-W11", "650100", "650103002"
FAULTS = [
    "--fault-set",
    "regulator",
    "--fault",
    "silent_node=0.2",
    "--fault",
    "duplicate_trace_code=0.3",
    "--fault",
    "chain_break=0.1",
    "--fault",
    "stock_imbalance=0.1",
    "--fault",
    "silent_scale=0.1",
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


class Browser:
    """One headless Chromium page driven over the DevTools protocol (bounded waits: 30 s each)."""

    def __init__(self, tmp_path):
        profile = tmp_path / "chrome-profile"
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert time.monotonic() < deadline and self.proc.poll() is None, "chromium did not start"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json() if t["type"] == "page"]
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10).__enter__()
        self.n, self.events = 0, []
        self.call("Page.enable")

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        deadline = time.monotonic() + 30
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == self.n:
                assert "error" not in msg, msg
                return msg.get("result", {})
            self.events.append(msg.get("method"))

    def _loaded(self):
        deadline = time.monotonic() + 30
        while "Page.loadEventFired" not in self.events:
            self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))).get("method"))

    def goto(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self._loaded()

    def js(self, expr):
        return self.call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

    def click(self, selector):
        """Click the element (a real mouse press at its centre) and wait for the page it loads."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView(); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        assert box, f"nothing to click: {selector}"
        self.events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        self._loaded()

    def login(self, url, rid, key):
        self.goto(url)
        self.js(
            f"document.querySelector('[name=regulator_id]').value = {json.dumps(rid)};"
            f"document.querySelector('[name=key]').value = {json.dumps(key)}"
        )
        self.click("#login button")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


READ = """(() => {
  const rows = s => [...document.querySelectorAll(s)];
  const box = id => { const e = document.getElementById(id); if (!e) return null;
    const r = e.getBoundingClientRect(); const bars = [...e.querySelectorAll('rect.bar')];
    return [r.width, r.height, bars.length, Math.max(...bars.map(b => b.getBoundingClientRect().width))]; };
  return {districts: rows('#districts tbody tr').map(r => [...r.cells].map(c => c.textContent)),
          score_col: [...document.querySelectorAll('#districts th')].map(h => h.textContent).indexOf('综合得分'),
          problems: rows('#problems tbody tr').map(r => [Number(r.dataset.problem), r.dataset.state]),
          volume: box('chart-volume-day'), price: box('chart-price-day'),
          health: Object.fromEntries(['online', 'offline', 'never', 'disabled'].map(
            s => [s, Number(document.querySelector('#health-' + s + ' b').textContent)])),
          message: (document.getElementById('message') || {}).textContent || null,
          login_error: !!document.getElementById('login-error'), title: document.title};
})()"""


class City:
    """The running platform of the tiny city: ``url``, ``client``, the nodes' ``keys`` and the regulator's ``key``."""

    def __init__(self, tp, keys, key):
        self.url, self.keys, self.key, self.svc = tp.url, keys, key, tp.services
        self.client = httpx.Client(base_url=tp.url, timeout=10.0)


@pytest.fixture
def city(tmp_path, capsys):
    """The tiny city's platform with one simulated day uploaded and detected (see the module docstring)."""
    assert main(["fixtures", "city", "--preset", "tiny", "--seed", "1", "--out", str(tmp_path / "tiny.json")]) == 0
    db, keys = tmp_path / "city.db", tmp_path / "keys.json"
    assert (
        main(["serve", "admin", "--db", str(db), "import-city", str(tmp_path / "tiny.json"), "--keys-out", str(keys)])
        == 0
    )
    with ThreadedPlatform(PlatformConfig(db=str(db), port=0, log_level="warning")) as tp:
        svc = tp.services
        key = Regulators(svc.store, svc.secret, svc.profile).register(RID, "乌鲁木齐市商务局")
        assert (
            main(
                [
                    "simulate",
                    "--preset",
                    "tiny",
                    "--seed",
                    "1",
                    "--date",
                    "2025-03-10",
                    "--days",
                    "2",
                    *FAULTS,
                    "--to",
                    tp.url,
                    "--keys",
                    str(keys),
                    "--quiet",
                ]
            )
            == 0
        )
        capsys.readouterr()
        c = City(tp, json.loads(keys.read_text("utf-8")), key)
        found = 0
        for day in DAYS:
            path = f"/api/v1/problems/detect?date={day}"
            r = c.client.post(path, headers=nodeauth.sign(P.envelope, key, RID, "POST", path))
            assert r.status_code == 200, r.text
            found += sum(r.json()["new"].values())
        assert found > 1
        yield c
        c.client.close()


def api_regulator(city, path, **q) -> dict:
    """A regulator read endpoint, signed as the city's regulator (they need a regulator's credentials)."""
    target, headers = nodeauth.signed_get(P.envelope, city.key, RID, path, q)
    r = city.client.get(target, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def api_problems(city, **q):
    return api_regulator(city, "/api/v1/problems", district="6501", **q)["problems"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_dashboard_in_chromium_shows_the_regulators_data_and_acknowledges_by_click(city, tmp_path):
    url = f"{city.url}/regulator?period={WEEK}"
    b = Browser(tmp_path)
    try:
        b.login(url, RID, city.keys[NODE])  # a node's key: refused, nothing shown
        seen = b.js(READ.replace("Number(document.querySelector('#health-' + s + ' b').textContent)", "0"))
        assert seen["login_error"] and seen["districts"] == [] and seen["problems"] == [], seen
        b.login(url, RID, city.key)
        seen = b.js(READ)
        assessment = api_regulator(city, "/api/v1/regulator/districts", period=WEEK)
        want = [(d["code"], d["name"], f"{d['score']:.2f}") for d in assessment["districts"]]
        assert [n for _, n, _ in want] == ["沙依巴克区", "新市区", "米东区"]
        col = seen["score_col"]
        assert col > 2 and [(r[0], r[1], r[col]) for r in seen["districts"]] == want, seen["districts"]
        listed = sorted((p["id"], p["state"]) for s in ("open", "acknowledged") for p in api_problems(city, state=s))
        assert listed and sorted(tuple(p) for p in seen["problems"]) == listed, (seen["problems"], listed)
        days = api_regulator(city, "/api/v1/regulator/stats", period=WEEK, by="day")["groups"]
        for chart in ("volume", "price"):
            w, h, bars, widest = seen[chart]
            assert w > 100 and h > 20 and bars == len(days) > 0 and widest > 10, (chart, seen[chart])
        summary = city.client.get("/api/v1/nodes", auth=RegulatorReads(P.envelope, RID, city.key)).json()["summary"]
        assert seen["health"] == {s: summary[s] for s in ("online", "offline", "never", "disabled")}, seen["health"]
        assert sum(seen["health"].values()) == len(city.keys) == 6
        target = next(pid for pid, state in seen["problems"] if state == "open")
        b.click(f'button[data-ack="{target}"]')
        after = b.js(READ)
        assert after["message"] == f"问题 {target} 已受理" and [target, "acknowledged"] in after["problems"], after
        [p] = [p for p in api_problems(city) if p["id"] == target]
        assert p["state"] == "acknowledged" and p["acked_by"] == RID, p
    finally:
        b.close()


def test_anonymous_and_node_keys_see_nothing_and_actions_need_the_session(city):
    c = httpx.Client(base_url=city.url, timeout=10, follow_redirects=False)
    page = c.get(f"/regulator?period={WEEK}")
    assert page.status_code == 200 and 'id="login"' in page.text and "沙依巴克区" not in page.text
    assert "script-src" not in page.headers["content-security-policy"] and "<script" not in page.text
    en = c.get("/regulator?lang=en")
    assert "Regulator login" in en.text and 'lang="en"' in en.text
    r = c.post("/regulator/login", data={"regulator_id": RID, "key": city.keys[NODE], "period": WEEK})
    assert r.status_code == 401 and "roucai_regulator" not in r.headers.get("set-cookie", "")
    r = c.post("/regulator/login", data={"regulator_id": RID, "key": city.key, "period": WEEK})
    assert r.status_code == 303 and city.key not in r.headers["location"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
    target = api_problems(city, state="open")[0]["id"]
    assert c.post(f"/regulator/problems/{target}/ack", data={"csrf": "forged"}).status_code == 403
    board = c.get(f"/regulator?period={WEEK}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', board.text).group(1)
    assert c.post(f"/regulator/problems/{target}/close", data={"csrf": csrf, "note": " "}).status_code == 400
    assert [p["state"] for p in api_problems(city) if p["id"] == target] == ["open"]
    r = c.post(f"/regulator/problems/{target}/close", data={"csrf": csrf, "note": "已核实，错录", "period": WEEK})
    assert r.status_code == 200 and f"问题 {target} 已办结" in r.text
    [p] = [p for p in api_problems(city) if p["id"] == target]
    assert p["state"] == "closed" and p["note"] == "已核实，错录" and p["closed_by"] == RID
    assert c.post(f"/regulator/problems/{target}/close", data={"csrf": csrf, "note": "x"}).status_code == 409
    bad = c.get("/regulator?period=2025-W53")  # the shape of a week, but 2025 has 52
    assert bad.status_code == 400 and "统计期无效：2025-W53" in bad.text and "<tr data-district" in bad.text
    c.post("/regulator/logout", data={"csrf": csrf})
    assert 'id="login"' in c.get("/regulator").text


def test_a_district_regulator_sees_and_acts_on_its_district_only_and_english_works(city):
    districts = api_regulator(city, "/api/v1/regulator/districts", period=WEEK)["districts"]
    assert len(districts) == 3
    outside = next(p for p in api_problems(city) if p["district"] != "650104")
    inside = [p for p in api_problems(city) if p["district"] == "650104"]
    with RegulatorClient(city, "650104") as (c, key):
        board = c.get(f"/regulator?period={WEEK}&lang=en")
        assert re.findall(r'<tr data-district="(\d+)"', board.text) == ["650104"]
        assert sorted(int(x) for x in re.findall(r'<tr data-problem="(\d+)"', board.text)) == sorted(
            p["id"] for p in inside
        )
        nodes = re.findall(r'<tr data-node="(\d+)"', board.text)
        assert nodes and all(n.startswith("650104") for n in nodes)
        for word in ("Regulator's dashboard", "District assessment", "Problem queue", "Node health", "Score"):
            assert word.lower() in board.text.lower(), word
        csrf = re.search(r'name="csrf" value="([^"]+)"', board.text).group(1)
        r = c.post(f"/regulator/problems/{outside['id']}/ack", data={"csrf": csrf, "lang": "en", "period": WEEK})
        assert r.status_code == 403 and 'id="message">the problem is outside this regulator' in r.text
    assert [p["state"] for p in api_problems(city) if p["id"] == outside["id"]] == ["open"]


class RegulatorClient:
    """A logged-in dashboard client (httpx) of a newly registered regulator ``rid``."""

    def __init__(self, city, rid):
        self.city, self.rid = city, rid

    def __enter__(self):
        key = Regulators(self.city.svc.store, self.city.svc.secret, self.city.svc.profile).register(
            self.rid, "区商务局"
        )
        self.c = httpx.Client(base_url=self.city.url, timeout=10, follow_redirects=False)
        r = self.c.post("/regulator/login", data={"regulator_id": self.rid, "key": key, "period": WEEK})
        assert r.status_code == 303, r.text
        return self.c, key

    def __exit__(self, *exc):
        self.c.close()
