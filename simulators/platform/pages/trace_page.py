"""The consumer's trace page: what a 查询机 or a phone shows for a 追溯码.

Plain HTML5, no script, one inline stylesheet, readable at 360 px wide; every
value from the database is HTML-escaped: markup is built only from the page's
own structure (row label, text, one of the page's CSS classes), never passed
through from a string.  The answer's HTTP headers (CSP and friends) come from
:mod:`simulators.platform.webguard`.  Chinese by default, English with
``lang="en"``.  Input: the :meth:`~simulators.platform.trace.Tracer.trace` answer.
"""

from __future__ import annotations

from html import escape

_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f7f5;color:#222}
header{background:#2e7d32;color:#fff;padding:12px 16px}header h1{font-size:20px;margin:0}
main{padding:12px 16px;max-width:720px;margin:auto}form{display:flex;gap:8px;margin:8px 0 16px}
input{flex:1;font-size:18px;padding:8px}button{font-size:18px;padding:8px 16px}
.hop{background:#fff;border-left:4px solid #2e7d32;margin:10px 0;padding:8px 12px;border-radius:4px}
.hop h2{font-size:17px;margin:0 0 4px}.hop.missing{border-color:#c62828}.hop.origin{border-color:#6d4c41}
.muted{color:#666;font-size:14px}.bad{color:#c62828}.ok{color:#2e7d32}table{border-collapse:collapse}
td{padding:2px 8px 2px 0;font-size:15px;vertical-align:top}"""

_T = {
    "title": ("肉菜流通追溯查询", "Meat & vegetable trace query"),
    "code": ("追溯码", "Trace code"),
    "query": ("查询", "Search"),
    "placeholder": ("请输入20位追溯码", "enter the 20-digit trace code"),
    "unknown": (
        "未查询到该追溯码的信息。请核对小票上的追溯码；如仍查询不到，该商品可能未纳入追溯体系。",
        "No information for this trace code. Check the code on the receipt; if it is still not found, "
        "the product may not be in the traceability system.",
    ),
    "invalid": ("追溯码格式不正确：", "The trace code is malformed:"),
    "complete": ("追溯链完整：已追溯至源头。", "Complete chain: traced back to the source."),
    "incomplete": ("追溯链不完整：部分环节的数据尚未上传。", "Incomplete chain: some links have not been uploaded."),
    "node": ("经营单位", "Business"),
    "date": ("日期", "Date"),
    "goods": ("商品", "Product"),
    "weight": ("重量", "Weight"),
    "price": ("单价", "Unit price"),
    "seller": ("经营者", "Seller"),
    "stall": ("摊位号", "Stall"),
    "cert_q": ("动物产品检疫合格证号", "Animal product quarantine cert."),
    "cert_m": ("肉品品质检验合格证号", "Meat inspection cert."),
    "cert_v": ("产地证明号", "Origin certificate"),
    "test": ("检测结果", "Test result"),
    "region": ("产地", "Origin"),
    "place": ("养殖场/生产基地", "Farm / base"),
    "cert_a": ("产地检疫证号（动物检疫合格证明）", "Origin quarantine certificate"),
    "ear_tags": ("畜禽标识（耳标号段）", "Ear tags (range)"),
    "base_id": ("生产基地编号", "Production base id"),
    "pass": ("合格", "pass"),
    "fail": ("不合格", "FAIL"),
    "missing": ("该环节数据未上传", "this link has not been uploaded"),
}

_FIELDS = [
    ("goods", ("goods_name", "meat_name")),
    ("weight", ("weight",)),
    ("price", ("price",)),
    ("seller", ("retailer_name", "wholesaler_name", "seller_name", "supplier_name")),
    ("stall", ("position_id",)),
    ("cert_q", ("quarantine_animal_products_id",)),
    ("cert_m", ("inspection_meat_id",)),
    ("cert_v", ("prov_id",)),
]


def _t(key: str, lang: str) -> str:
    zh, en = _T[key]
    return en if lang == "en" else zh


def _date(d: str | None) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if d and len(d) >= 8 else (d or "")


def _row(label: str, text: str, css: str | None = None) -> str:
    """One table row; ``label`` and ``text`` are always escaped, ``css`` is one of the page's own class names."""
    cell = escape(text) if css is None else f'<span class="{escape(css)}">{escape(text)}</span>'
    return f"<tr><td>{escape(label)}</td><td>{cell}</td></tr>"


def _source_rows(src: dict, lang: str) -> list[tuple[str, str]]:
    """Rows of one source of the origin hop: region, farm or base, certificate, ear-tag range, base id."""
    cert_key = "cert_a" if src.get("certificate_kind") == "animal_quarantine" else "cert_v"
    first, last = src.get("ear_tag_start") or "", src.get("ear_tag_end") or ""
    tags = f"{first} – {last}" if first and last and first != last else first or last
    return [
        (_t("region", lang), src.get("region") or ""),
        (_t("place", lang), src.get("place") or ""),
        (_t(cert_key, lang), src.get("certificate") or ""),
        (_t("ear_tags", lang), tags),
        (_t("base_id", lang), src.get("base_id") or ""),
    ]


def _hop_html(hop: dict, lang: str) -> str:
    e = escape
    kind = hop["kind"]
    stage = hop["stage_en"] if lang == "en" else hop["stage_zh"]
    if kind == "origin":
        body = "".join(_row(k, v) for src in (hop.get("sources") or [hop]) for k, v in _source_rows(src, lang) if v)
        return f'<section class="hop origin"><h2>{e(stage)}</h2><table>{body}</table></section>'
    node = hop.get("node") or {}
    head = f'<h2>{e(stage)}</h2><div class="muted">{e(node.get("name") or node.get("node_id") or "")}'
    if node.get("region"):
        head += f" · {e(node['region'])}"
    head += "</div>"
    if kind == "missing":
        return (
            f'<section class="hop missing">{head}<p class="bad">{e(_t("missing", lang))}'
            f"（{e(hop.get('code') or '')}）</p></section>"
        )
    rec = hop["records"][0]
    f = rec["fields"]
    rows: list[tuple[str, str] | tuple[str, str, str]] = [(_t("date", lang), _date(rec.get("data_date")))]
    for key, names in _FIELDS:
        for n in names:
            if f.get(n):
                v = f[n] + (
                    " kg"
                    if n == "weight"
                    else " 元/kg"
                    if n == "price" and lang != "en"
                    else " yuan/kg"
                    if n == "price"
                    else ""
                )
                rows.append((_t(key, lang), v))
                break
    for r in hop["records"]:
        res = r["fields"].get("detection_result")
        if res is not None:
            ok = res == "1"
            cls = "ok" if ok else "bad"
            rows.append((_t("test", lang), _t("pass" if ok else "fail", lang), cls))
    body = "".join(_row(*r) for r in rows)
    return f'<section class="hop">{head}<table>{body}</table></section>'


def render_trace_page(answer: dict | None, code: str = "", lang: str = "zh") -> str:
    """A complete HTML document for the answer (``None``: the empty search form)."""
    e = escape
    parts = [
        f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(_t('title', lang))}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{e(_t('title', lang))}</h1></header><main>",
        f'<form method="get" action="/trace"><input name="code" inputmode="numeric" maxlength="40" '
        f'value="{e(code)}" placeholder="{e(_t("placeholder", lang))}" aria-label="{e(_t("code", lang))}">'
        f'<input type="hidden" name="lang" value="{e(lang)}"><button type="submit">{e(_t("query", lang))}</button></form>',
    ]
    if answer is not None:
        status = answer["status"]
        parts.append(f'<p class="muted">{e(_t("code", lang))}：{e(code)}</p>')
        if status == "invalid":
            items = "".join(f"<li>{e(f['en'] if lang == 'en' else f['zh'])}</li>" for f in answer["findings"])
            parts.append(f'<p class="bad">{e(_t("invalid", lang))}</p><ul>{items}</ul>')
        elif status == "unknown":
            parts.append(f'<p class="bad">{e(_t("unknown", lang))}</p>')
        else:
            ok = answer.get("complete")
            parts.append(f'<p class="{"ok" if ok else "bad"}">{e(_t("complete" if ok else "incomplete", lang))}</p>')
            parts.extend(_hop_html(h, lang) for h in answer["chain"])
    parts.append("</main></body></html>")
    return "".join(parts)
