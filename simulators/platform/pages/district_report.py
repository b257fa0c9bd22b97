"""The district report (区县运行评价报告): every district of one period in one table, with inline SVG charts.

Input: the assessment answer (``GET /api/v1/regulator/districts``) and the statistics by district (``GET
/api/v1/regulator/stats?by=district``) of the same period, as :mod:`simulators.platform.assessment` and
:mod:`simulators.platform.regstats` return them (or as a contractor's platform answered them).  Output: one
self-contained HTML5 page: no script, no external font, stylesheet or image; print-ready on A4 (``@media
print``); Chinese by default, English with ``lang="en"``.  Every value from the answers is HTML-escaped; numbers
are formatted from numbers only.  Charts: the score and the volume (kg) of each district as horizontal bars.
"""

from __future__ import annotations

from html import escape

_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#fff}
header{background:#1b5e20;color:#fff;padding:12px 20px}header h1{font-size:20px;margin:0}
main{padding:8px 20px;max-width:1100px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #bbb;padding:3px 6px;text-align:right}th{background:#e8f5e9}
td.t,th.t{text-align:left;white-space:nowrap}.muted{color:#666;font-size:12px}h2{font-size:16px;margin:16px 0 6px}
svg{display:block;margin:4px 0}.method li{font-size:13px}
@media print{@page{size:A4 landscape;margin:12mm}header{background:none;color:#000;padding:0}
main{padding:0;max-width:none}section{break-inside:avoid}body{font-size:11px}}"""

_T = {
    "title": ("肉菜追溯 区县运行评价报告", "Meat & vegetable traceability: district assessment report"),
    "period": ("统计期", "Period"),
    "table": ("各区县指标与综合得分", "Indicators and score of every district"),
    "code": ("区划代码", "Code"),
    "name": ("区县", "District"),
    "nodes": ("节点数", "Nodes"),
    "coverage": ("节点覆盖率", "Coverage"),
    "scale_usage": ("追溯秤使用率", "Scale usage"),
    "report_rate": ("上报率", "Report rate"),
    "timeliness": ("上传及时率", "Timeliness"),
    "completeness": ("数据完整率", "Completeness"),
    "chain": ("追溯链完整率", "Chain completeness"),
    "closure": ("问题结案率", "Problems closed"),
    "open": ("未结问题", "Open problems"),
    "close_h": ("平均结案时长（小时）", "Mean time to close (h)"),
    "volume": ("流通量（kg）", "Volume (kg)"),
    "change": ("环比", "vs previous"),
    "score": ("综合得分", "Score"),
    "grade": ("等级", "Grade"),
    "chart_score": ("综合得分（0–100）", "Score (0-100)"),
    "chart_volume": ("流通量（kg）", "Volume (kg)"),
    "method": ("评分方法", "Score method"),
    "formula": (
        (
            "综合得分 = 100 × Σ(权重 × 指标) ÷ Σ权重，只计有分母的指标；权重与等级为本配置的规定"
            "（profiles/reference/assessment.toml，依据类别：profile），非标准原文。"
        ),
        (
            "Score = 100 × Σ(weight × rate) ÷ Σ weight over the indicators that have a denominator; weights "
            "and grades are this profile's (profiles/reference/assessment.toml, evidence: profile), not a "
            "standard's text."
        ),
    ),
    "weights": ("权重", "Weights"),
    "no_problems": (
        "本平台未提供问题数据：未结问题与结案时长两列从略。",
        "The platform gives no problem data: the open-problem and time-to-close columns are left out.",
    ),
    "none": ("—", "—"),
}


def _t(key: str, lang: str) -> str:
    zh, en = _T[key]
    return en if lang == "en" else zh


def _pct(x) -> str:
    return "—" if not isinstance(x, (int, float)) else f"{100 * x:.1f}%"


def _num(x, fmt: str = "{:.2f}") -> str:
    return "—" if not isinstance(x, (int, float)) else fmt.format(x)


def _kg(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def _bars(rows: list[tuple[str, float]], vmax: float, label_fmt: str, chart_id: str, title: str) -> str:
    """A horizontal bar chart as inline SVG; ``rows`` = (label, value)."""
    bar_h, left, width = 22, 120, 520
    height = bar_h * len(rows) + 24
    parts = [
        (
            f'<svg id="{chart_id}" role="img" aria-label="{escape(title)}" width="{left + width + 110}" '
            f'height="{height}" viewBox="0 0 {left + width + 110} {height}" xmlns="http://www.w3.org/2000/svg">'
        )
    ]
    for i, (label, value) in enumerate(rows):
        y = 12 + i * bar_h
        w = 0 if vmax <= 0 else max(0.0, min(1.0, value / vmax)) * width
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" font-size="12" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 6}" fill="#2e7d32"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}" font-size="12">{escape(label_fmt.format(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_district_report(assessment: dict, volumes: dict | None, lang: str = "zh") -> str:
    """The report page (see the module docstring); ``volumes`` may be ``None`` (volume column left out)."""
    lang = "en" if lang == "en" else "zh"
    t = lambda k: _t(k, lang)
    inds = list(assessment.get("indicators") or [])
    districts = list(assessment.get("districts") or [])
    with_problems = assessment.get("problems") is not None
    vol = {g.get("key"): g for g in (volumes or {}).get("groups", [])}
    head = [("code", "t"), ("name", "t"), ("nodes", "")] + [(k, "") for k in inds]
    if with_problems:
        head += [("open", ""), ("close_h", "")]
    if volumes is not None:
        head += [("volume", ""), ("change", "")]
    head += [("score", ""), ("grade", "t")]
    rows = []
    for d in districts:
        ind = d.get("indicators") or {}
        cells = [escape(str(d.get("code", ""))), escape(str(d.get("name") or "")), _num(d.get("nodes"), "{:d}")]
        cells += [_pct((ind.get(k) or {}).get("rate")) for k in inds]
        if with_problems:
            p = d.get("problems") or {}
            cells += [_num(p.get("open"), "{:d}"), _num(p.get("mean_close_h"), "{:.1f}")]
        if volumes is not None:
            g = vol.get(d.get("code")) or {}
            cells += [escape(str(g.get("weight_kg", "0.000"))), _pct(g.get("change"))]
        grade = d.get("grade") or {}
        cells += [_num(d.get("score")), escape(str(grade.get(lang, "—")))]
        classes = [c for _, c in head]
        rows.append(
            "<tr>"
            + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>" for c, v in zip(classes, cells))
            + "</tr>"
        )
    label = lambda d: f"{d.get('name') or d.get('code', '')}"
    score_chart = _bars(
        [(label(d), float(d["score"]) if isinstance(d.get("score"), (int, float)) else 0.0) for d in districts],
        100.0,
        "{:.2f}",
        "chart-score",
        t("chart_score"),
    )
    charts = [f"<section><h2>{t('chart_score')}</h2>{score_chart}</section>"]
    if volumes is not None:
        kgs = [(label(d), _kg((vol.get(d.get("code")) or {}).get("weight_kg"))) for d in districts]
        charts.append(
            f"<section><h2>{t('chart_volume')}</h2>"
            f"{_bars(kgs, max([v for _, v in kgs] or [0.0]), '{:.0f}', 'chart-volume', t('chart_volume'))}"
            "</section>"
        )
    weights = assessment.get("weights") or {}
    wl = ("、" if lang == "zh" else ", ").join(
        f"{escape(t(k) if k in _T else str(k))} {escape(str(v))}" for k, v in weights.items()
    )
    colon, op, cp = (": ", " (", ")") if lang == "en" else ("：", "（", "）")
    period = (
        f"{escape(str(assessment.get('period', '')))}{op}{escape(str(assessment.get('from', '')))}–"
        f"{escape(str(assessment.get('to', '')))}{cp}"
    )
    thead = "".join(f'<th class="{c}">{escape(t(k))}</th>' if c else f"<th>{escape(t(k))}</th>" for k, c in head)
    note = "" if with_problems else f'<p class="muted">{t("no_problems")}</p>'
    return (
        f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t("title")} {period}</title>'
        f"<style>{_CSS}</style></head><body><header><h1>{t('title')}</h1>"
        f"<div>{t('period')}{colon}{period}</div></header><main>"
        f'<section id="districts"><h2>{t("table")}</h2><table><thead><tr>{thead}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}</section>"
        + "".join(charts)
        + f'<section id="method"><h2>{t("method")}</h2><ul class="method"><li>{t("formula")}</li>'
        f"<li>{t('weights')}{colon}{wl}</li></ul></section></main></body></html>"
    )
