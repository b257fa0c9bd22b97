"""The regulator's dashboard (监管驾驶舱, issue 14 item 4) as a regulator uses it, in a real headless Chromium.

A real platform on 127.0.0.1 (platformkit) gets a hand-built day of the meat and vegetable chains with a chain break
injected from outside (a retail entry naming a code no node issued), a regulator is registered and detection runs
through the signed problem API.  Chromium (Debian's package, the same flags as tests/conformance/test_report_browser.py)
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
from platformkit import P, R, W, code, meat_chain, upload_all, veg_chain
from websockets.sync.client import connect

from simulators.platform import nodeauth
from simulators.platform.regulators import Regulators

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAY, WEEK, RID = "20250310", "2025-W11", "650100"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


class Browser:
    """One headless Chromium page driven over the DevTools protocol (bounded waits: 30 s each)."""

    def __init__(self, tmp_path):
        profile = tmp_path / "chrome-profile"
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                      "--window-size=1200,900", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
                      " e.scrollIntoView(); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        assert box, f"nothing to click: {selector}"
        self.events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        self._loaded()

    def login(self, url, rid, key):
        self.goto(url)
        self.js(f"document.querySelector('[name=regulator_id]').value = {json.dumps(rid)};"
                f"document.querySelector('[name=key]').value = {json.dumps(key)}")
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


@pytest.fixture
def day(platform):
    """The platform with the day uploaded, a regulator of the city registered, detection run; yields its key."""
    key = Regulators(platform.svc.store, platform.svc.secret, platform.svc.profile).register(RID, "乌鲁木齐市商务局")
    chain = meat_chain(DAY)
    ghost = code(W + "0001", 9999)                      # a wholesale code no record issued: a chain break
    for node, rtype, recs in chain["uploads"]:
        if rtype.startswith("retail_market_in_info"):
            recs[0].update(tran_id=ghost, batch_id=ghost)
    upload_all(platform, chain)
    upload_all(platform, veg_chain(DAY))
    path = f"/api/v1/problems/detect?date={DAY}"
    r = platform.client.post(path, headers=nodeauth.sign(P.envelope, key, RID, "POST", path))
    assert r.status_code == 200 and sum(r.json()["new"].values()) > 0, r.text
    return key


def api_problems(platform, **q):
    r = platform.client.get("/api/v1/problems", params={"district": "6501", **q})
    assert r.status_code == 200, r.text
    return r.json()["problems"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_dashboard_in_chromium_shows_the_regulators_data_and_acknowledges_by_click(platform, day, tmp_path):
    url = f"{platform.url}/regulator?period={WEEK}"
    b = Browser(tmp_path)
    try:
        b.login(url, RID, platform.keys[R])                    # a node's key: refused, nothing shown
        seen = b.js(READ.replace("Number(document.querySelector('#health-' + s + ' b').textContent)", "0"))
        assert seen["login_error"] and seen["districts"] == [] and seen["problems"] == [], seen
        b.login(url, RID, day)
        seen = b.js(READ)
        assessment = platform.client.get("/api/v1/regulator/districts", params={"period": WEEK}).json()
        want = [(d["code"], d["name"], f"{d['score']:.2f}") for d in assessment["districts"]]
        assert [n for _, n, _ in want] == ["沙依巴克区", "新市区", "米东区"]
        col = seen["score_col"]
        assert col > 2 and [(r[0], r[1], r[col]) for r in seen["districts"]] == want, seen["districts"]
        listed = sorted((p["id"], p["state"]) for s in ("open", "acknowledged") for p in api_problems(platform, state=s))
        assert listed and sorted(tuple(p) for p in seen["problems"]) == listed, (seen["problems"], listed)
        days = platform.client.get("/api/v1/regulator/stats", params={"period": WEEK, "by": "day"}).json()["groups"]
        for chart in ("volume", "price"):
            w, h, bars, widest = seen[chart]
            assert w > 100 and h > 20 and bars == len(days) > 0 and widest > 10, (chart, seen[chart])
        summary = platform.client.get("/api/v1/nodes").json()["summary"]
        assert seen["health"] == {s: summary[s] for s in ("online", "offline", "never", "disabled")}, seen["health"]
        assert sum(seen["health"].values()) == 6
        target = next(pid for pid, state in seen["problems"] if state == "open")
        b.click(f'button[data-ack="{target}"]')
        after = b.js(READ)
        assert after["message"] == f"问题 {target} 已受理" and [target, "acknowledged"] in after["problems"], after
        [p] = [p for p in api_problems(platform) if p["id"] == target]
        assert p["state"] == "acknowledged" and p["acked_by"] == RID, p
    finally:
        b.close()


def test_anonymous_and_node_keys_see_nothing_and_actions_need_the_session(platform, day):
    c = httpx.Client(base_url=platform.url, timeout=10, follow_redirects=False)
    page = c.get(f"/regulator?period={WEEK}")
    assert page.status_code == 200 and 'id="login"' in page.text and "沙依巴克区" not in page.text
    assert "script-src" not in page.headers["content-security-policy"] and "<script" not in page.text
    en = c.get("/regulator?lang=en")
    assert "Regulator login" in en.text and 'lang="en"' in en.text
    r = c.post("/regulator/login", data={"regulator_id": RID, "key": platform.keys[R], "period": WEEK})
    assert r.status_code == 401 and "roucai_regulator" not in r.headers.get("set-cookie", "")
    r = c.post("/regulator/login", data={"regulator_id": RID, "key": day, "period": WEEK})
    assert r.status_code == 303 and day not in r.headers["location"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
    target = api_problems(platform, state="open")[0]["id"]
    assert c.post(f"/regulator/problems/{target}/ack", data={"csrf": "forged"}).status_code == 403
    board = c.get(f"/regulator?period={WEEK}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', board.text).group(1)
    assert c.post(f"/regulator/problems/{target}/close", data={"csrf": csrf, "note": " "}).status_code == 400
    assert [p["state"] for p in api_problems(platform) if p["id"] == target] == ["open"]
    r = c.post(f"/regulator/problems/{target}/close", data={"csrf": csrf, "note": "已核实，错录", "period": WEEK})
    assert r.status_code == 200 and f"问题 {target} 已办结" in r.text
    [p] = [p for p in api_problems(platform) if p["id"] == target]
    assert p["state"] == "closed" and p["note"] == "已核实，错录" and p["closed_by"] == RID
    assert c.post(f"/regulator/problems/{target}/close", data={"csrf": csrf, "note": "x"}).status_code == 409
    assert c.get(f"/regulator?period=2025-W60").status_code == 400
    c.post("/regulator/logout", data={"csrf": csrf})
    assert 'id="login"' in c.get("/regulator").text
