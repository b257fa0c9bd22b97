"""The HTML report, in Chinese or English, rendered from the results JSON.

One self-contained file (inline CSS, no scripts, no network).  Sections (ids
are stable, a browser test checks them): ``summary``, ``requirements``,
``failures`` (what to fix), ``tests`` (why each was selected or not
applicable, verdict, evidence links, notes), ``capabilities``,
``environment``.
"""

from __future__ import annotations

import html
import json

from . import verdicts as V

_T = {
    "title": ("肉菜追溯一致性测试报告", "Meat & vegetable traceability conformance report"),
    "summary": ("概要", "Summary"),
    "requirements": ("需求判定", "Verdict per requirement"),
    "failures": ("需要修正的问题", "What to fix"),
    "tests": ("测试明细", "Tests"),
    "capabilities": ("能力声明", "Capability statement"),
    "environment": ("运行环境", "Environment"),
    "target": ("被测对象", "Target"),
    "seed": ("随机种子", "Seed"),
    "profile": ("配置", "Profile"),
    "harness": ("测试工具", "Harness"),
    "started": ("开始", "Started"),
    "duration": ("耗时", "Duration"),
    "verdict": ("判定", "Verdict"),
    "level": ("级别", "Level"),
    "evidence_level": ("证据强度", "Evidence"),
    "id": ("编号", "Id"),
    "name": ("名称", "Title"),
    "tests_col": ("测试", "Tests"),
    "selection": ("选择理由", "Why selected"),
    "reason": ("说明", "Reason"),
    "files": ("证据", "Evidence"),
    "conformant": ("符合", "CONFORMANT"),
    "nonconformant": ("不符合", "NON-CONFORMANT"),
    "none": ("无", "none"),
    "statement": ("要求", "Requirement"),
    "observed": ("观察到", "Observed"),
    "notes": ("记录", "Notes"),
    "source": ("来源", "Source"),
}
_LEVEL = {
    "required": ("必须", "required"),
    "conditional": ("条件", "conditional"),
    "recommended": ("推荐", "recommended"),
}
_EVID = {
    "standard": ("标准正文", "standard text"),
    "standard-toc": ("仅标准目录", "standard contents page"),
    "practice": ("已部署实践", "deployed practice"),
    "industry": ("通用行业规范", "industry guide"),
    "profile": ("本项目自定义", "project profile"),
}
_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{border-bottom:2px solid #c33;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .5em;
vertical-align:top;text-align:left;font-size:.92em}th{background:#f3f3f3}
.v{font-weight:bold;white-space:nowrap}.v-pass{color:#176a1c}.v-fail,.v-unexpected-pass,.v-timeout,.v-error{color:#b00}
.v-partial,.v-not-tested{color:#b66b00}.v-not-testable{color:#666;font-style:italic}.incomplete{background:#b66b00}.v-not-applicable,.v-expected-failure{color:#666}
.banner{font-size:1.3em;padding:.5em 1em;display:inline-block;border-radius:4px;color:#fff}
.ok{background:#1f7a2b}.bad{background:#b3261e}.stopped{background:#666}code,pre{font-family:monospace;font-size:.9em}
pre{background:#f7f7f7;padding:.5em;overflow:auto}
"""


def render_html(results: dict, lang: str = "zh") -> str:
    i = 1 if lang == "en" else 0

    def t(key):
        return _T[key][i]

    def e(x):
        return html.escape(str(x))

    def verdict(v):
        return f'<span class="v v-{e(v)}">{e(V.label(v, lang))}</span>'

    s = results["summary"]
    out = [
        f'<!DOCTYPE html><html lang="{"en" if i else "zh-CN"}"><head><meta charset="utf-8">',
        f"<title>{t('title')}</title><style>{_CSS}</style></head><body>",
        f"<h1>{t('title')}</h1>",
        '<section id="summary">',
        f"<h2>{t('summary')}</h2>",
        f'<p><span class="banner {_banner_class(s)}">{e(_banner(s, i))}</span></p>',
        "<table>",
    ]
    rows = [
        (t("target"), results["target"]),
        (t("seed"), results["seed"]),
        (t("profile"), " ← ".join(results["profile"]["lineage"])),
        (t("harness"), f"{results['harness']['name']} {results['harness']['version']}"),
        (t("started"), results["started"]),
        (t("duration"), f"{results['duration_s']} s"),
        (t("requirements"), ", ".join(f"{V.label(k, lang)} {n}" for k, n in s["requirements"].items())),
        (t("tests_col"), ", ".join(f"{V.label(k, lang)} {n}" for k, n in s["tests"].items())),
    ]
    out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows]
    out.append("</table></section>")
    out += _actions_section(s, i)

    out += [
        '<section id="requirements">',
        f"<h2>{t('requirements')}</h2><table>",
        f"<tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('level')}</th><th>{t('evidence_level')}</th>"
        f"<th>{t('verdict')}</th><th>{t('tests_col')}</th></tr>",
    ]
    for r in results["requirements"]:
        links = " ".join(f'<a href="#{_anchor(n)}">{e(n.split("::")[-1])}</a>' for n in r["tests"]) or e(
            r.get("reason_en" if i else "reason_zh", "")
        )  # not testable: the catalogue's reason
        out.append(
            f'<tr id="req-{e(r["id"])}"><td><code>{e(r["id"])}</code></td>'
            f"<td>{e(r['title_en' if i else 'title_zh'])}</td><td>{e(_LEVEL[r['level']][i])}</td>"
            f"<td>{e(_EVID.get(r['evidence'], (r['evidence'],) * 2)[i])}</td>"
            f"<td>{verdict(r['verdict'])}</td><td>{links}</td></tr>"
        )
    out.append("</table></section>")

    bad = [r for r in results["requirements"] if r["verdict"] in V.BAD]
    out += ['<section id="failures">', f"<h2>{t('failures')}</h2>"]
    if not bad:
        out.append(f"<p>{t('none')}</p>")
    tests = {x["nodeid"]: x for x in results["tests"]}
    for r in bad:
        out.append(
            f"<h3><code>{e(r['id'])}</code> {e(r['title_en' if i else 'title_zh'])} {verdict(r['verdict'])}</h3>"
        )
        out.append(f"<p><b>{t('statement')}</b>: {e(r['statement_en' if i else 'statement_zh'])}</p>")
        out.append(f"<p><b>{t('source')}</b>: {e(r['source'])}</p><ul>")
        for n in r["tests"]:
            x = tests[n]
            if x["verdict"] in V.BAD:
                out.append(
                    f'<li><a href="#{_anchor(n)}">{e(x["name"])}</a> — {t("observed")}: '
                    f"{e(x['reason_en' if i else 'reason_zh'])}</li>"
                )
        out.append("</ul>")
    out.append("</section>")

    out += [
        '<section id="tests">',
        f"<h2>{t('tests')}</h2><table>",
        f"<tr><th>{t('tests_col')}</th><th>{t('requirements')}</th><th>{t('verdict')}</th>"
        f"<th>{t('selection')}</th><th>{t('reason')}</th><th>{t('files')}</th></tr>",
    ]
    for x in results["tests"]:
        files = "<br>".join(f'<a href="{e(f)}">{e(f.split("/")[-1])}</a>' for f in x["evidence"])
        notes = "".join(f"<br><i>{e(n['en' if i else 'zh'])}</i>" for n in x["notes"])
        out.append(
            f'<tr id="{_anchor(x["nodeid"])}"><td><code>{e(x["nodeid"])}</code></td>'
            f"<td>{e(', '.join(x['requirements']))}</td><td>{verdict(x['verdict'])} "
            f"<small>{x['duration_s']:.2f}s</small></td>"
            f"<td>{e(x['selection_en' if i else 'selection_zh'])}</td>"
            f"<td>{e(x['reason_en' if i else 'reason_zh'])}{notes}</td><td>{files}</td></tr>"
        )
    out.append("</table></section>")
    out += [
        '<section id="capabilities">',
        f"<h2>{t('capabilities')}</h2>",
        f"<pre>{e(json.dumps(results['capabilities'], ensure_ascii=False, indent=2))}</pre></section>",
        '<section id="environment">',
        f"<h2>{t('environment')}</h2>",
        f"<pre>{e(json.dumps(results['environment'], ensure_ascii=False, indent=2))}</pre></section>",
        "</body></html>",
    ]
    return "\n".join(out)


def _banner_class(s: dict) -> str:
    if s.get("verdict") == V.INCOMPLETE:
        return "incomplete"
    return "ok" if s["conformant"] else ("stopped" if s["conformant"] is None else "bad")


def _actions_section(s: dict, i: int) -> list[str]:
    """INCOMPLETE: the operator actions to declare, and the requirements each one would let be tested."""
    need = s.get("actions_needed") or []
    if not need:
        return []
    out = [
        '<section id="actions">',
        "<h2>"
        + ("需声明的操作", "Actions to declare")[i]
        + "</h2><p>"
        + (
            "以下必须项未测试：请在能力声明 [actions] 中声明这些操作（命令、prompt 或控制通道），见 docs/certify.md。",
            "Required requirements were not tested: declare these actions in the capability statement's "
            "[actions] (a command, prompt, or a control channel); see docs/certify.md.",
        )[i]
        + "</p><ul>",
    ]
    for a in need:
        out.append(
            f"<li><code>{html.escape(a['action'])}</code> — {html.escape(a['en' if i else 'zh'])} "
            f"({html.escape(', '.join(a['requirements']))})</li>"
        )
    return out + ["</ul></section>"]


def _banner(s: dict, i: int) -> str:
    """The run's verdict line: CONFORMANT / NON-CONFORMANT, or INTERRUPTED (no verdict)."""
    if s.get("verdict") == V.INCOMPLETE:
        return V.RUN_VERDICTS[V.INCOMPLETE][i]
    if s.get("verdict") == "TARGET-DOWN":
        return ("被测对象未能启动：无一致性结论", "TARGET DOWN: the target did not come up; no conformance verdict")[i]
    if s["conformant"] is None:
        return ("已中断：运行未完成，无一致性结论", "INTERRUPTED: the run did not finish; no conformance verdict")[i]
    return _T["conformant" if s["conformant"] else "nonconformant"][i]


def _anchor(nodeid: str) -> str:
    import re

    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", nodeid)
