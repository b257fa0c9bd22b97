"""Security of the consumer trace page: uploaded text is shown, never run (PLAT-SEC-05), and HTML answers carry
security headers (PLAT-SEC-06).

A node uploads sales whose commodity, seller and market names are hostile HTML (``<script>``, ``<img onerror>``,
``<svg onload>``, attribute and element breakers, each short enough for the profile's 50-character names).  Every
payload that runs sets ``document.title`` to its own marker; every element it could create carries the marker in
an attribute.  The page is then rendered by a real headless Chromium (``--dump-dom`` after the page's scripts and
image errors had time to run) and the rendered DOM is searched for the markers in the title, in attributes and in
script elements.  Without Chromium the test is not applicable, with that reason (``scripts/ci-browser.sh``
installs Debian's package in CI).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import httpx
import pytest

from conformance.notjudgeable import NotJudgeable
from conformance.queries import trace_page
from simulators.tls import browser_args  # the run's --ca / --insecure, for Chromium too

PLATFORM = ("city_platform",)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RTYPE = "retail_market_tran_info_summ"
#: what runs sets document.title to its marker; what is created carries the marker
PAYLOADS = {
    "rx1": "<img id=rx1 src=x onerror=document.title='rx1'>",
    "rx2": "<script>document.title='rx2'</script>",
    "rx3": "<span><img src=x onerror=document.title='rx3'>",
    "rx4": "\"><svg id=rx4 onload=document.title='rx4'>",
    "rx5": "'><svg id=rx5 onload=document.title='rx5'>",
    "rx6": "</title><img src=x onerror=document.title='rx6'>",
    "rx7": "</table><svg onload=document.title='rx7'>",
    "rx8": "\" autofocus onfocus=\"document.title='rx8'",
    "rx9": "<a id=rx9 href=javascript:alert(9)>x</a>",
}
#: (commodity, seller, market) names of the three hostile sales
SALES = (("rx1", "rx4", "rx7"), ("rx2", "rx5", "rx8"), ("rx3", "rx6", "rx9"))
MARKER = re.compile(r"rx[1-9]")


class _Injected(HTMLParser):
    """Elements of a rendered DOM that a payload created (its marker as an id or in an event handler, or in a
    script element), and the document's title (a marker there: a payload ran)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in: list[str] = []
        self.title = ""

    def handle_starttag(self, tag, attrs):
        self._in.append(tag)
        for name, value in attrs:  # an escaped name may sit in a title="…" attribute: that is not flagged
            if (name == "id" and MARKER.fullmatch(value or "")) or (
                name.startswith("on") and MARKER.search(value or "")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data):
        where = self._in[-1] if self._in else ""
        if where == "title":
            self.title += data
        elif where == "script" and MARKER.search(data):
            self.found.append(f"<script>{data[:80]}</script>")


def rendered_dom(url: str, timeout_s: float = 60) -> str:
    """The DOM of ``url`` after headless Chromium ran the page (scripts, image errors) for 3 s of virtual time."""
    with tempfile.TemporaryDirectory(prefix="roucai-chromium-") as profile:
        cmd = [
            CHROMIUM,
            *browser_args(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout_s)
    if p.returncode != 0:
        raise RuntimeError(f"chromium exit {p.returncode}: {p.stderr.decode('utf-8', 'replace')[-500:]}")
    return p.stdout.decode("utf-8", "replace")


def injected(dom: str) -> list[str]:
    """What in a rendered DOM shows that a payload ran or created an element (empty: nothing did)."""
    parser = _Injected()
    parser.feed(dom)
    out = list(parser.found)
    if MARKER.fullmatch(parser.title.strip()):
        out.append(f"document.title = {parser.title.strip()!r} (a payload ran)")
    return out


def _text(dom: str) -> str:
    from html import unescape

    return unescape(re.sub(r"<[^>]+>", "", dom))


def _upload_hostile_sales(records, uploader, evidence) -> tuple[list[str], list[str]]:
    """Upload the three hostile sales; ``(trace codes of the accepted ones, payload names refused)``."""
    d = records.fresh_day()
    recs = []
    for goods, seller, market in SALES:
        recs.append(
            records.make(
                RTYPE,
                d,
                goods_name=PAYLOADS[goods],
                retailer_name=PAYLOADS[seller],
                retail_market_name=PAYLOADS[market],
            )
        )
    node = records.node_for(RTYPE)
    a = uploader.upload(node, RTYPE, recs, header={"DataDate": d.strftime("%Y%m%d")})
    evidence.attach_json(
        "hostile-sales.json", {"node": node, "verdicts": a.verdicts, "reasons": a.reasons, "records": recs}
    )
    codes, refused = [], []
    for rec, names, v in zip(recs, SALES, a.verdicts or ["refused"] * len(recs)):
        (codes.append(rec["sale_tran_id"]) if v == "accepted" else refused.extend(names))
    return codes, refused


@pytest.mark.requirement("PLAT-SEC-05")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_hostile_names_do_not_run_on_the_consumer_page(records, uploader, http, platform, evidence):
    """Sales whose commodity, seller and market names are hostile HTML are uploaded; their trace pages (zh and
    en), rendered in headless Chromium, show each name as text and run nothing: no payload's marker reaches the
    title, an attribute or a script element.  A platform may refuse such names at upload (that is safe too);
    if it refuses them all, the page is not observed and the verdict is partial."""
    if CHROMIUM is None:
        raise NotJudgeable(
            "不适用：未安装 Chromium，无法在浏览器中检查查询网页（apt-get install chromium）",
            "not applicable: no Chromium installed to render the page (apt-get install chromium)",
        )
    codes, refused = _upload_hostile_sales(records, uploader, evidence)
    problems = []
    shown = set()
    for code in codes:
        for lang in ("zh", "en"):
            url = str(httpx.URL(platform.url + "/trace", params={"code": code, "lang": lang}))
            status, _html = trace_page(http, platform.url, code, lang)
            dom = rendered_dom(url)
            evidence.attach_text(f"dom-{code}-{lang}.html", dom)
            if status != 200:
                problems.append(f"{code} ({lang}): page HTTP {status}")
                continue
            problems += [f"{code} ({lang}): {x}" for x in injected(dom)]
            text = _text(dom)
            shown |= {k for k, v in PAYLOADS.items() if v in text}
    accepted = {k for names in SALES for k in names} - set(refused)
    missing = sorted(accepted - shown - {s[2] for s in SALES})  # market names: a page may show the registry's
    if missing:
        problems.append(f"accepted names not shown as text on any page: {[PAYLOADS[k] for k in missing]}")
    if refused:
        evidence.note(
            f"平台在上传时拒收了含 {sorted(refused)} 的记录（安全）",
            f"the platform refused the records carrying {sorted(refused)} at upload (safe)",
        )
    if not codes:
        evidence.partial(
            "平台在上传时拒收了全部含恶意名称的记录，网页未被观察",
            "the platform refused every record with a hostile name at upload: the page was not observed",
        )
    assert not problems, (
        "uploaded text must be shown as text on the consumer page, never run or turned into "
        "elements: " + "; ".join(problems[:8])
    )


def _csp(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
    return out


def header_problems(headers, strict_script: bool) -> list[str]:
    """What is missing from an HTML answer's security headers (PLAT-SEC-06); empty: all there.

    ``strict_script``: the CSP must not allow inline script (``'unsafe-inline'`` without a nonce or hash)."""
    out = []
    csp = _csp(headers.get("content-security-policy", ""))
    script = csp.get("script-src", csp.get("default-src"))
    if not csp:
        out.append("no Content-Security-Policy")
    elif script is None:
        out.append("the Content-Security-Policy has neither script-src nor default-src")
    elif strict_script and "'unsafe-inline'" in script and not any(w.startswith(("'nonce-", "'sha")) for w in script):
        out.append(f"the Content-Security-Policy allows inline script ({' '.join(script)})")
    if headers.get("x-content-type-options", "").strip().lower() != "nosniff":
        out.append(f"X-Content-Type-Options is {headers.get('x-content-type-options')!r}, not nosniff")
    xfo = headers.get("x-frame-options", "").strip().upper()
    ancestors = csp.get("frame-ancestors")
    if xfo not in ("DENY", "SAMEORIGIN") and (ancestors is None or "*" in ancestors):
        out.append(f"framing by other sites not forbidden (X-Frame-Options {xfo or None}, frame-ancestors {ancestors})")
    return out


@pytest.mark.requirement("PLAT-SEC-06")
@pytest.mark.applies(kinds=PLATFORM, needs=("trace_query",))
def test_html_pages_send_security_headers(records, uploader, http, platform, evidence):
    """The trace page (a found code, an unknown code, a malformed code, zh and en) is answered with a
    Content-Security-Policy that allows no inline script, ``X-Content-Type-Options: nosniff`` and a ban on
    framing; any other HTML page the platform serves at ``/``, ``/docs`` or ``/redoc`` sends the CSP (inline
    script may be allowed there), nosniff and the framing ban."""
    rtype = RTYPE
    d = records.fresh_day()
    rec = records.make(rtype, d)
    a = uploader.upload(records.node_for(rtype), rtype, [rec], header={"DataDate": d.strftime("%Y%m%d")})
    assert a.verdicts == ["accepted"], f"a valid sale was not accepted: {a}"
    unknown = records.trace_code(records.node_for(rtype))
    problems = []
    seen = {}
    for what, code, lang in (
        ("found", rec["sale_tran_id"], "zh"),
        ("found", rec["sale_tran_id"], "en"),
        ("unknown", unknown, "zh"),
        ("malformed", "12345", "zh"),
    ):
        r = http.get(platform.url + "/trace", params={"code": code, "lang": lang})
        seen[f"/trace {what} {lang}"] = dict(r.headers)
        problems += [
            f"/trace ({what} code, {lang}, HTTP {r.status_code}): {p}" for p in header_problems(r.headers, True)
        ]
    for path in ("/", "/docs", "/redoc"):
        r = http.get(platform.url + path)
        if r.status_code == 200 and "text/html" in r.headers.get("content-type", ""):
            seen[path] = dict(r.headers)
            problems += [f"{path}: {p}" for p in header_problems(r.headers, False)]
    evidence.attach_json("html-headers.json", seen)
    assert not problems, "HTML pages must send security headers: " + "; ".join(problems[:8])
