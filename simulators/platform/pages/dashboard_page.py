"""The regulator's dashboard (监管驾驶舱, issue 14 item 4): the login form and the dashboard itself, server-rendered.

Input of :func:`render_dashboard`: what :mod:`simulators.platform.dashboard` gathers for one logged-in regulator
and one period: the district assessment of its districts, its open and acknowledged problems, the city's volume
and average price per day, and the health of its nodes (:class:`.monitor.Monitor`).  Output: one HTML5 page with
no script at all (the platform's page CSP forbids scripts; charts are inline SVG), no external font or file;
Chinese by default, English with ``lang="en"``.  Every value is HTML-escaped; numbers are formatted from numbers.
Actions (acknowledge, close with a note) are plain forms posted to the platform, each with the session's CSRF token.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from .district_report import _CSS, _T as _REPORT_T, _bars, _kg, _num, _pct

_T = {
    "title": ("肉菜追溯 监管驾驶舱", "Meat & vegetable traceability: regulator's dashboard"),
    "login": ("监管部门登录", "Regulator login"),
    "login_help": (
        (
            "请输入监管部门编号（6位行政区划代码）与平台签发的监管密钥（roucai serve admin register-regulator）。"
            "密钥只用于本次登录，不出现在网址中。"
        ),
        (
            "Enter the regulator's id (its 6-digit GB/T 2260 code) and the regulator key the platform issued "
            "(roucai serve admin register-regulator). The key is used to log in only; it never appears in a URL."
        ),
    ),
    "rid": ("监管部门编号", "Regulator id"),
    "key": ("监管密钥", "Regulator key"),
    "submit": ("登录", "Log in"),
    "bad_login": ("编号或密钥不正确（节点密钥不能登录）", "wrong id or key (a node's key cannot log in)"),
    "logout": ("退出", "Log out"),
    "who": ("监管部门", "Regulator"),
    "period": ("统计期", "Period"),
    "show": ("查看", "Show"),
    "districts": ("区县运行评价", "District assessment"),
    "queue": ("问题队列（未办结）", "Problem queue (not closed)"),
    "id": ("编号", "Id"),
    "kind": ("问题类型", "Kind"),
    "node": ("节点", "Node"),
    "district": ("区县", "District"),
    "day": ("业务日", "Day"),
    "state": ("状态", "State"),
    "actions": ("处理", "Actions"),
    "open": ("待处理", "open"),
    "acknowledged": ("已受理", "acknowledged"),
    "ack": ("受理", "Acknowledge"),
    "close": ("办结", "Close"),
    "note": ("办结说明", "Closing note"),
    "no_problems": (
        "没有未办结的问题。问题需经检测才会出现（POST /api/v1/problems/detect）。",
        "No problem awaits action. Problems appear once detection ran (POST /api/v1/problems/detect).",
    ),
    "more": (
        "只列出前 {n} 个问题，其余请用问题接口查询。",
        "Only the first {n} problems are listed; query the problem API for the rest.",
    ),
    "trend": ("趋势（全市，按日）", "Trend (city-wide, per day)"),
    "volume_day": ("流通量（kg）", "Volume (kg)"),
    "price_day": ("均价（元/kg）", "Average price (yuan/kg)"),
    "no_trend": ("本统计期没有流通记录。", "No sale records in this period."),
    "health": ("节点运行状态", "Node health"),
    "online": ("在线", "online"),
    "offline": ("离线", "offline"),
    "never": ("从未上报", "never heard from"),
    "disabled": ("已停用", "disabled"),
    "name": ("名称", "Name"),
    "last_seen": ("最近联系", "Last contact"),
    "offline_after": ("超过 {s} 秒未联系即为离线。", "Offline after {s} s without contact."),
    "score": ("综合得分", "Score"),
    "grade": ("等级", "Grade"),
    "nodes": ("节点数", "Nodes"),
    "code": ("区划代码", "Code"),
}
_STATES = ("online", "offline", "never", "disabled")
_EXTRA_CSS = (
    "form.inline{display:inline;margin:0 2px}input[type=text],input[type=password]{padding:3px}"
    "h3{font-size:14px;margin:8px 0 2px}.msg{padding:6px 10px;background:#fff3e0;border:1px solid #ffb74d;margin:8px 0}"
    ".nav{float:right;color:#fff}.nav form{display:inline}.cards span{display:inline-block;"
    "border:1px solid #bbb;padding:6px 12px;margin:0 8px 8px 0;font-size:14px}"
)


def _t(key: str, lang: str) -> str:
    zh, en = _T[key] if key in _T else _REPORT_T[key]
    return en if lang == "en" else zh


def _page(title: str, body: str, lang: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_CSS}{_EXTRA_CSS}</style></head><body>{body}</body></html>"
    )


def _hidden(**fields) -> str:
    return "".join(f'<input type="hidden" name="{k}" value="{escape(str(v))}">' for k, v in fields.items())


def render_login(lang: str, period: str, error: bool = False) -> str:
    """The login form (public: it shows no data); ``error`` adds the bilingual wrong-key message."""
    t = lambda k: _t(k, lang)
    msg = f'<p class="msg" id="login-error">{t("bad_login")}</p>' if error else ""
    return _page(
        t("title"),
        f"<header><h1>{t('title')}</h1></header><main><h2>{t('login')}</h2>{msg}"
        f'<p class="muted">{t("login_help")}</p>'
        f'<form id="login" method="post" action="/regulator/login">{_hidden(lang=lang, period=period)}'
        f'<p><label>{t("rid")} <input type="text" name="regulator_id" pattern="[0-9]{{6}}" maxlength="6" '
        f'required autocomplete="username"></label></p>'
        f'<p><label>{t("key")} <input type="password" name="key" maxlength="200" required '
        f'autocomplete="current-password"></label></p>'
        f'<p><button type="submit">{t("submit")}</button></p></form></main>',
        lang,
    )


def _districts(assessment: dict, lang: str) -> str:
    t = lambda k: _t(k, lang)
    inds = list(assessment.get("indicators") or [])
    head = (
        [t("code"), t("district"), t("nodes")]
        + [t(k) if k in _REPORT_T else k for k in inds]
        + [t("score"), t("grade")]
    )
    rows = []
    for d in assessment.get("districts") or []:
        ind = d.get("indicators") or {}
        cells = [escape(str(d.get("code", ""))), escape(str(d.get("name") or "")), _num(d.get("nodes"), "{:d}")]
        cells += [_pct((ind.get(k) or {}).get("rate")) for k in inds]
        cells += [_num(d.get("score")), escape(str((d.get("grade") or {}).get(lang, "—")))]
        rows.append(
            f'<tr data-district="{escape(str(d.get("code", "")))}">'
            + "".join(f'<td class="{"t" if i < 2 else ""}">{c}</td>' for i, c in enumerate(cells))
            + "</tr>"
        )
    return (
        f'<section id="districts"><h2>{t("districts")}</h2><table><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _queue(problems: list[dict], kinds: dict, names: dict, more: int | None, lang: str, csrf: str, period: str) -> str:
    t = lambda k: _t(k, lang)
    rows = []
    for p in problems:
        pid = int(p["id"])
        kind = kinds.get(p.get("kind")) or {}
        hidden = _hidden(csrf=csrf, period=period, lang=lang)
        ack = (
            ""
            if p.get("state") != "open"
            else f'<form class="inline" method="post" action="/regulator/problems/{pid}/ack">{hidden}'
            f'<button type="submit" data-ack="{pid}">{t("ack")}</button></form>'
        )
        close = (
            f'<form class="inline" method="post" action="/regulator/problems/{pid}/close">{hidden}'
            f'<input type="text" name="note" maxlength="500" required placeholder="{t("note")}" '
            f'aria-label="{t("note")}"><button type="submit" data-close="{pid}">{t("close")}</button></form>'
        )
        district = str(p.get("district", ""))
        rows.append(
            f'<tr data-problem="{pid}" data-state="{escape(str(p.get("state", "")))}"><td>{pid}</td>'
            f'<td class="t">{escape(str(kind.get(lang) or p.get("kind", "")))}</td>'
            f'<td class="t">{escape(str(p.get("node_id") or "—"))}</td>'
            f'<td class="t">{escape(names.get(district) or district)}</td>'
            f"<td>{escape(str(p.get('data_date', '')))}</td>"
            f'<td class="t">{escape(t(p["state"]) if p.get("state") in _T else str(p.get("state")))}</td>'
            f'<td class="t">{ack}{close}</td></tr>'
        )
    if not rows:
        return f'<section id="problems"><h2>{t("queue")}</h2><p class="muted">{t("no_problems")}</p></section>'
    head = "".join(f"<th>{t(k)}</th>" for k in ("id", "kind", "node", "district", "day", "state", "actions"))
    note = f'<p class="muted">{t("more").format(n=len(rows))}</p>' if more else ""
    return (
        f'<section id="problems"><h2>{t("queue")}</h2><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}</section>"
    )


def _trend(days: list[dict], lang: str) -> str:
    t = lambda k: _t(k, lang)
    if not days:
        return f'<section id="trend"><h2>{t("trend")}</h2><p class="muted">{t("no_trend")}</p></section>'
    vol = [(str(g.get("key", "")), _kg(g.get("weight_kg"))) for g in days]
    price = [(str(g.get("key", "")), _kg(g.get("avg_price"))) for g in days]  # a decimal string, or null
    return (
        f'<section id="trend"><h2>{t("trend")}</h2><h3>{t("volume_day")}</h3>'
        f"{_bars(vol, max(v for _, v in vol), '{:.0f}', 'chart-volume-day', t('volume_day'))}"
        f"<h3>{t('price_day')}</h3>"
        f"{_bars(price, max(v for _, v in price), '{:.2f}', 'chart-price-day', t('price_day'))}</section>"
    )


def _health(nodes: list[dict], offline_after_s: int, names: dict, lang: str) -> str:
    t = lambda k: _t(k, lang)
    counts = {s: sum(1 for n in nodes if n.get("state") == s) for s in _STATES}
    cards = "".join(f'<span id="health-{s}">{t(s)} <b>{counts[s]}</b></span>' for s in _STATES)
    rows = "".join(
        f'<tr data-node="{escape(str(n.get("node_id", "")))}" data-state="{escape(str(n.get("state", "")))}">'
        f'<td class="t">{escape(str(n.get("node_id", "")))}</td><td class="t">{escape(str(n.get("name") or ""))}</td>'
        f'<td class="t">{escape(names.get(str(n.get("node_id", ""))[:6]) or str(n.get("node_id", ""))[:6])}</td>'
        f'<td class="t">{escape(t(n["state"]) if n.get("state") in _STATES else str(n.get("state")))}</td>'
        f'<td class="t">{escape(str(n.get("last_seen") or "—"))}</td></tr>'
        for n in nodes
    )
    head = "".join(f"<th>{t(k)}</th>" for k in ("node", "name", "district", "state", "last_seen"))
    return (
        f'<section id="health"><h2>{t("health")}</h2><div class="cards">{cards}</div>'
        f'<p class="muted">{t("offline_after").format(s=int(offline_after_s))}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def render_dashboard(data: dict, lang: str, csrf: str, message: str | None = None) -> str:
    """The dashboard of ``data`` (keys: regulator, period, assessment, problems, problems_more, kinds, names, days,
    nodes, offline_after_s); ``message`` (already in ``lang``) is shown above the tables."""
    lang = "en" if lang == "en" else "zh"
    t = lambda k: _t(k, lang)
    reg = data["regulator"]
    a = data["assessment"]
    period = str(data["period"])
    colon = ": " if lang == "en" else "："
    other = "zh" if lang == "en" else "en"
    nav = (
        f'<div class="nav"><a style="color:#fff" href="/regulator?period={quote(period)}&amp;lang={other}">'
        f'{"中文" if other == "zh" else "English"}</a> <form method="post" action="/regulator/logout">'
        f'{_hidden(csrf=csrf, lang=lang)}<button type="submit" id="logout">{t("logout")}</button></form></div>'
    )
    picker = (
        f'<form method="get" action="/regulator">{_hidden(lang=lang)}<label>{t("period")}{colon}'
        f'<input type="text" name="period" value="{escape(period)}" maxlength="10" required></label> '
        f'<button type="submit">{t("show")}</button> <span class="muted">{escape(str(a.get("from", "")))}–'
        f"{escape(str(a.get('to', '')))}</span></form>"
    )
    msg = f'<p class="msg" id="message">{escape(message)}</p>' if message else ""
    body = (
        f"<header>{nav}<h1>{t('title')}</h1><div>{t('who')}{colon}{escape(str(reg['name']))}"
        f"（{escape(str(reg['id']))}）</div></header><main>{msg}{picker}"
        + _districts(a, lang)
        + _queue(data["problems"], data["kinds"], data["names"], data["problems_more"], lang, csrf, period)
        + _trend(data["days"], lang)
        + _health(data["nodes"], data["offline_after_s"], data["names"], lang)
        + "</main>"
    )
    return _page(f"{t('title')} {period}", body, lang)
