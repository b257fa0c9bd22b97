"""``roucai truth problems``: a platform's problems (问题发现) judged against a simulation's ledger.

    roucai truth problems --ledger truth.jsonl --platform http://127.0.0.1:8553 \\
        --regulator 650100 --key-file regulator.key [--no-detect] [--threshold 0.95] [--json]

The platform is read as the regulator ``--regulator`` (required: its key from ``--key-file`` or env
``ROUCAI_REGULATOR_KEY``; the problem list answers a registered regulator only, for its jurisdiction).  Detection
is first run for every business day of the run (``POST /api/v1/problems/detect``, signed); with ``--no-detect``
the problems already there are read.  The platform's flags of those days (``GET /api/v1/problems``, signed, every
page) are matched
with the ledger's true problems (:mod:`simulators.market.problemtruth`) per kind the profile detects, and
precision and recall printed per kind.

Exit codes: 0 every kind reaches ``--threshold`` in precision and recall (a kind with nothing expected and
nothing flagged passes); 1 one does not; 2 bad options, missing or invalid ledger or key file, no ``--regulator``,
or the platform refuses the regulator the problem list (401/403); 3 the platform cannot be reached or answers
something else than the problems API.

JSON (``--json``): ``{"platform", "days", "threshold", "ok", "kinds": {kind: {"name_zh", "name_en", "injected",
"expected", "flagged", "matched", "precision", "recall", "missed", "extra"}}}`` (``injected``: faults of that
kind in the ledger; ``expected``: true problems, see problemtruth.py; ``missed``/``extra``: up to 20 keys each).
"""

from __future__ import annotations

from pathlib import Path

from profiles.errors import RoucaiError

from ..console import EXIT_HARNESS, EXIT_NONCONFORMANT, EXIT_OK, UsageError
from ._regulator import add_arguments as add_regulator_arguments
from ._regulator import key_of

MAX_PAGES = 10_000


class _Unreachable(RoucaiError):
    """The platform cannot be reached or answers nonsense (exit 3)."""

    exit_code = 3


def add_parser(s, common) -> None:
    x = s.add_parser(
        "problems",
        parents=[common],
        help="a platform's problems against the ledger: precision and recall per kind / 问题发现对真值",
    )
    x.add_argument("--ledger", required=True, help="ledger file written by roucai simulate --ledger")
    x.add_argument("--platform", required=True, metavar="URL", help="the platform, e.g. http://127.0.0.1:8553")
    add_regulator_arguments(x, "the regulator (6-digit id) that runs detection and reads the problem list (required)")
    x.add_argument("--no-detect", action="store_true", help="read the problems already there, run no detection")
    x.add_argument("--threshold", type=float, default=0.95, help="precision and recall each kind must reach (0.95)")
    x.add_argument("--timeout", type=float, default=300.0, help="seconds per request (detection of a big day)")
    x.set_defaults(func=run_problems)


def _fetch(client, base: str, days: list[str], regulator: str, key: str, spec, detect: bool) -> dict[str, set]:
    import httpx

    from simulators.market.problemtruth import problem_key
    from simulators.platform.nodeauth import sign, signed_get

    try:
        if detect:
            for day in days:
                path = f"/api/v1/problems/detect?date={day}"
                r = client.post(base + path, headers=sign(spec, key, regulator, "POST", path))
                if r.status_code != 200:
                    raise _Unreachable(
                        f"平台拒绝了检测请求（HTTP {r.status_code}）：{r.text[:200]}",
                        f"the platform refused detection (HTTP {r.status_code}): {r.text[:200]}",
                    )
        flagged: dict[str, set] = {}
        cursor = "0"
        for _ in range(MAX_PAGES):
            query = {"from": days[0], "to": days[-1], "cursor": cursor, "limit": 1000}
            target, headers = signed_get(spec, key, regulator, "/api/v1/problems", query)
            r = client.get(base + target, headers=headers)
            if r.status_code in (401, 403):
                raise UsageError(
                    f"平台拒绝了监管部门 {regulator} 读取问题列表（HTTP {r.status_code}）：{r.text[:200]}",
                    f"the platform refused regulator {regulator} the problem list (HTTP {r.status_code}): "
                    f"{r.text[:200]}",
                )
            body = r.json() if r.status_code == 200 else None
            if not isinstance(body, dict) or not isinstance(body.get("problems"), list):
                raise _Unreachable(
                    f"平台的问题列表答复无效（HTTP {r.status_code}）",
                    f"the platform's problem list answer is not valid (HTTP {r.status_code})",
                )
            for p in body["problems"]:
                flagged.setdefault(p["kind"], set()).add(problem_key(p["kind"], p["subject"], p["data_date"]))
            cursor = body.get("next_cursor")
            if not cursor:
                return flagged
        raise _Unreachable("问题列表分页过多", "too many pages of problems")
    except httpx.HTTPError as exc:
        raise _Unreachable(
            f"平台不可达：{base}（{type(exc).__name__}）", f"platform unreachable: {base} ({type(exc).__name__})"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise _Unreachable(
            f"平台的问题列表答复无效：{exc}", f"the platform's problem list answer is not valid: {exc}"
        ) from None


def run_problems(args, con) -> int:
    import httpx

    from profiles import load_profile
    from simulators.market.problemtruth import expected_problems, run_days, score
    from simulators.tls import client_verify

    if not 0 < args.threshold <= 1:
        raise UsageError("--threshold 须在 (0, 1] 之间", "--threshold must be in (0, 1]")
    base = args.platform.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError(
            f"--platform 须为 http(s) 网址：{args.platform}", f"--platform must be an http(s) URL: {args.platform}"
        )
    if not Path(args.ledger).is_file():
        raise UsageError(f"找不到真值台账文件：{args.ledger}", f"ledger file not found: {args.ledger}")
    key = key_of(args)
    if key is None:
        raise UsageError(
            "问题列表只答复监管部门：须给出 --regulator 与 --key-file（或环境变量 ROUCAI_REGULATOR_KEY）",
            "the problem list answers a regulator only: give --regulator and --key-file (or env ROUCAI_REGULATOR_KEY)",
        )
    prof = load_profile(getattr(args, "profile", None) or "reference")
    rules = prof.problems
    kinds = rules.detected
    try:
        header, expected, injected = expected_problems(args.ledger, kinds, rules)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(
            f"不是有效的真值台账：{args.ledger}（{exc}）", f"not a valid ledger: {args.ledger} ({exc})"
        ) from None
    days = run_days(header)
    try:
        with httpx.Client(
            timeout=httpx.Timeout(args.timeout, connect=5.0), trust_env=False, verify=client_verify()
        ) as c:
            flagged = _fetch(c, base, days, args.regulator, key, prof.envelope, not args.no_detect)
    except _Unreachable as exc:
        con.err(exc.zh, exc.en)
        return EXIT_HARNESS
    table = {}
    ok = True
    for k in kinds:
        s = score(expected[k], flagged.get(k, set()))
        s = {"name_zh": rules.kind(k).name_zh, "name_en": rules.kind(k).name_en, "injected": injected[k], **s}
        table[k] = s
        if s["expected"] or s["flagged"]:
            ok = ok and all(v is not None and v >= args.threshold for v in (s["precision"], s["recall"]))
    if con.as_json:
        con.json({"platform": base, "days": days, "threshold": args.threshold, "ok": ok, "kinds": table})
        return EXIT_OK if ok else EXIT_NONCONFORMANT
    pct = lambda v: "—" if v is None else f"{100 * v:.1f}%"
    con.say(
        con.t(
            f"问题发现对真值：{header.get('preset')} 种子 {header.get('seed')}，{days[0]}–{days[-1]}，阈值 {pct(args.threshold)}",
            f"problem discovery against the truth: {header.get('preset')} seed {header.get('seed')}, "
            f"{days[0]}–{days[-1]}, threshold {pct(args.threshold)}",
        )
    )
    con.say(
        con.t(
            "  类型"
            + " " * 12
            + "".join("    " + h for h in ("注入", "真值", "标记", "命中"))
            + "    精确率    召回率",
            "  kind                  injected    true flagged matched precision    recall",
        )
    )
    for k, s in table.items():  # Chinese names are double-width: pad to 16 columns
        name = s["name_zh"] + " " * (16 - 2 * len(s["name_zh"])) if con.lang != "en" else f"{s['name_en']:<22}"
        con.say(
            f"  {name}{s['injected']:>8}{s['expected']:>8}{s['flagged']:>8}{s['matched']:>8}"
            f"{pct(s['precision']):>10}{pct(s['recall']):>10}"
        )
    con.say(
        con.t(
            "结论：全部达到阈值" if ok else "结论：有类型未达到阈值",
            "verdict: every kind reaches the threshold" if ok else "verdict: a kind falls short",
        )
    )
    return EXIT_OK if ok else EXIT_NONCONFORMANT
