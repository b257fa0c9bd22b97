"""``roucai report districts``: the district report (区县运行评价报告) of a platform, for one period.

    roucai report districts --platform http://127.0.0.1:8553 --period 2026-W49 --out report/ \
        --regulator 650100 --key-file regulator.key [--district 650103] [--lang en]

Reads ``GET /api/v1/regulator/districts`` and ``GET /api/v1/regulator/stats?by=district`` (and its CSV) of the
platform, each signed as the regulator (the endpoints answer a registered regulator only, for its jurisdiction:
simulators/platform/regulator_gate.py; the key as for ``roucai truth problems``: ``--key-file`` or env
``ROUCAI_REGULATOR_KEY``), and writes, each atomically (``simulators/atomic_file.py``): ``districts.json`` (both answers as
received), ``districts.html`` (print-ready A4, inline SVG charts, Chinese unless ``--lang en``) and
``districts.csv`` (the statistics by district and commodity) and ``districts.xlsx`` (the same cells as an Excel
workbook, made here from the JSON answer: ``simulators/platform/regxlsx.py``).  Prints one line per district (score,
grade).

Exit codes: 0 written; 2 bad period, URL, output folder or credentials (no key, or the platform answers 401/403);
3 platform unreachable or not answering the regulator endpoints (nothing written).
"""

from __future__ import annotations

import json
from pathlib import Path

from profiles.errors import RoucaiError

from ..console import EXIT_HARNESS, EXIT_OK, UsageError
from . import _regulator, _tls

TIMEOUT_S = 120.0


def register(sub, common):
    p = sub.add_parser("report", parents=[common], help="reports for regulators / 监管报告")
    s = p.add_subparsers(dest="report_cmd", metavar="districts")
    d = s.add_parser("districts", parents=[common], help="district assessment report / 区县运行评价报告")
    d.add_argument("--platform", required=True, help="platform base URL, e.g. http://127.0.0.1:8553")
    d.add_argument("--period", required=True, help="yyyyMMdd, YYYY-Www (ISO week), YYYY-MM or YYYYQn")
    d.add_argument("--out", default="district-report", help="output folder (default district-report)")
    _regulator.add_arguments(d, "the regulator to read as (6-digit id; required: the endpoints need it)")
    d.add_argument("--district", metavar="CODE", help="only this district (a county code inside the jurisdiction)")
    _tls.add_arguments(d)
    d.set_defaults(func=run_districts)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


class _Unreachable(RoucaiError):
    """The platform cannot be reached or answers nonsense (exit 3)."""

    exit_code = 3


def _get(client, url: str, params: dict, who: tuple):
    """GET ``url`` signed as regulator ``who`` = (id, key, the profile's envelope spec); 401/403 are a
    credentials problem (exit 2)."""
    import httpx

    from simulators.platform.nodeauth import signed_get

    base, path = url.split("/api/", 1)
    target, headers = signed_get(who[2], who[1], who[0], "/api/" + path, params)
    try:
        r = client.get(base + target, headers=headers)
    except httpx.HTTPError as exc:
        raise _Unreachable(
            f"平台不可达：{url}（{type(exc).__name__}）", f"platform unreachable: {url} ({type(exc).__name__})"
        )
    if r.status_code in (401, 403):
        raise UsageError(
            f"平台拒绝了监管部门 {who[0]} 的凭据（HTTP {r.status_code}）：{r.text[:200]}",
            f"the platform refused regulator {who[0]}'s credentials (HTTP {r.status_code}): {r.text[:200]}",
        )
    if r.status_code != 200:
        raise _Unreachable(
            f"平台答复 HTTP {r.status_code}：{url}（{r.text[:200]}）",
            f"the platform answered HTTP {r.status_code}: {url} ({r.text[:200]})",
        )
    return r


def _json(r, url: str) -> dict:
    try:
        doc = r.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise _Unreachable(f"平台答复不是 JSON 对象：{url}", f"the platform's answer is not a JSON object: {url}")
    return doc


def _xlsx(volumes: dict, lang: str) -> bytes | None:
    """The statistics answer as an XLSX workbook; ``None`` when the answer has not the shape of the table."""
    from simulators.platform.regxlsx import to_xlsx

    try:
        return to_xlsx(volumes, lang)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
        return None


def run_districts(args, con) -> int:
    import httpx

    from simulators.atomic_file import atomic_write_bytes
    from simulators.platform.pages.district_report import render_district_report
    from simulators.platform.periods import parse
    from simulators.platform.stats import PeriodError

    try:
        period = parse(args.period).label
    except PeriodError as exc:
        raise UsageError(
            f"统计期无效：{args.period[:20]!r}（yyyyMMdd、YYYY-Www、YYYY-MM 或 YYYYQn）", str(exc)
        ) from None
    base = args.platform.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError(
            f"平台地址须以 http:// 或 https:// 开头：{base[:80]}",
            f"the platform URL must begin with http:// or https://: {base[:80]}",
        )
    if not args.regulator:
        raise UsageError(
            "须以监管部门身份读取：--regulator ID 与 --key-file FILE（或环境变量 ROUCAI_REGULATOR_KEY）",
            "reading needs a regulator: --regulator ID and --key-file FILE (or env ROUCAI_REGULATOR_KEY)",
        )
    from profiles import load_profile

    who = (
        args.regulator,
        _regulator.key_of(args),
        load_profile(getattr(args, "profile", None) or "reference").envelope,
    )
    if args.district and not (args.district.isascii() and args.district.isdigit() and 2 <= len(args.district) <= 6):
        raise UsageError(
            f"--district 应为2-6位行政区划代码（前缀）：{args.district[:20]!r}",
            f"--district is a region code (prefix) of 2-6 digits: {args.district[:20]!r}",
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"输出位置不是文件夹：{out}", f"the output is not a folder: {out}")
    from simulators.tls import client_verify

    with _tls.trust_of(args):
        try:
            with httpx.Client(
                timeout=httpx.Timeout(TIMEOUT_S, connect=10.0), trust_env=False, verify=client_verify()
            ) as c:
                u_dist, u_stats = f"{base}/api/v1/regulator/districts", f"{base}/api/v1/regulator/stats"
                q = {"period": period, "district": args.district}
                assessment = _json(_get(c, u_dist, q, who), u_dist)
                volumes = _json(_get(c, u_stats, {**q, "by": "district"}, who), u_stats)
                csv_bytes = _get(c, u_stats, {**q, "by": "district", "format": "csv"}, who).content
        except _Unreachable as exc:
            con.err(exc.zh, exc.en)
            return EXIT_HARNESS
    xlsx_bytes = _xlsx(volumes, con.lang)
    if xlsx_bytes is None:
        con.err(
            "平台的统计答复（/api/v1/regulator/stats）不是统计表的结构，未写入任何文件",
            "the platform's statistics answer (/api/v1/regulator/stats) has not the table's shape; nothing written",
        )
        return EXIT_HARNESS
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            out / "districts.json",
            json.dumps(
                {"period": period, "platform": base, "assessment": assessment, "volumes": volumes},
                ensure_ascii=False,
                indent=2,
            ).encode("utf-8"),
        )
        atomic_write_bytes(
            out / "districts.html", render_district_report(assessment, volumes, con.lang).encode("utf-8")
        )
        atomic_write_bytes(out / "districts.csv", csv_bytes)
        atomic_write_bytes(out / "districts.xlsx", xlsx_bytes)
    except OSError as exc:
        raise UsageError(f"无法写入 {out}：{exc.strerror}", f"cannot write {out}: {exc.strerror}") from None
    rows = assessment.get("districts") or []
    if con.as_json:
        con.json(
            {
                "period": period,
                "out": str(out),
                "files": ["districts.json", "districts.html", "districts.csv", "districts.xlsx"],
                "districts": [{"code": d.get("code"), "name": d.get("name"), "score": d.get("score")} for d in rows],
            }
        )
        return EXIT_OK
    con.say(con.t(f"区县运行评价 {period}：{len(rows)} 个区县", f"district assessment {period}: {len(rows)} districts"))
    for d in rows:
        grade = (d.get("grade") or {}).get(con.lang, "—")
        score = d.get("score")
        con.say(f"  {d.get('code', '')} {d.get('name') or '':<8} {'—' if score is None else f'{score:6.2f}'}  {grade}")
    con.say(
        con.t(
            f"报告：{out / 'districts.html'}（另有 districts.json、districts.csv、districts.xlsx）",
            f"report: {out / 'districts.html'} (also districts.json, districts.csv, districts.xlsx)",
        )
    )
    return EXIT_OK
