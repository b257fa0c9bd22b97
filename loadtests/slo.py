"""SLO gates: a declarative TOML of thresholds, judged against a finished run.

:func:`load_slo` reads and validates a file (unknown tables or keys, wrong types, negative
values → :class:`SloError`, bilingual; the CLI exits 2).  :func:`judge` compares the run's facts
(built by :mod:`loadtests.run`: Locust's final per-endpoint totals, the processes' summaries,
the reconciliation) with every threshold and returns one :class:`Breach` per threshold crossed,
each naming the threshold (``latency."POST /api/v1/exchange".p95_ms``), its limit and the
measured value.  Empty list = every gate passed.  Format and meaning: ``slo-default.toml``,
docs/load.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from profiles.errors import RoucaiError

DEFAULT_SLO = Path(__file__).with_name("slo-default.toml")
_PCTS = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99, "max_ms": 1.0}
_SCHEMA = {
    "errors": {"max_rate": float, "endpoints": dict},
    "throughput": {
        "lag_percentile": float,
        "max_lag_model_min": float,
        "max_lag_model_min_worst": float,
        "min_completed": float,
        "min_records_per_s": float,
        "window_s": float,
    },
    "correctness": {"max_failed": int, "min_checked": int, "max_wrong_verdicts": int},
    "reconcile": {"required": bool},
}


class SloError(RoucaiError):
    """The SLO file cannot be used (exit 2)."""


@dataclass(frozen=True)
class Breach:
    threshold: str
    limit: object
    actual: object
    zh: str
    en: str

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "limit": self.limit, "actual": self.actual, "zh": self.zh, "en": self.en}


def load_slo(path: str | Path | None = None) -> dict:
    """The validated SLO file (default ``slo-default.toml``)."""
    p = Path(path) if path else DEFAULT_SLO
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise SloError(f"找不到 SLO 文件：{p}", f"SLO file not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SloError(f"SLO 文件格式错误 {p}：{exc}", f"malformed SLO file {p}: {exc}") from None
    _validate(data, p)
    return data


def _bad(p, where: str, zh: str, en: str):
    raise SloError(f"{p}：{where} {zh}", f"{p}: {where} {en}")


def _number(p, where: str, v, kind=float):
    if kind is bool:
        if not isinstance(v, bool):
            _bad(p, where, "应为 true/false", "must be true or false")
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
        _bad(p, where, "应为数字", "must be a number" if kind is float else "must be an integer")
    if v < 0 or not math.isfinite(v):
        _bad(p, where, "不能为负数", "must not be negative")


def _validate(data: dict, p) -> None:
    for table in data:
        if table not in _SCHEMA and table != "latency":
            _bad(
                p,
                f"[{table}]",
                "是未知的表",
                "is not a known table (latency, errors, throughput, correctness, reconcile)",
            )
    lat = data.get("latency", [])
    if not isinstance(lat, list):
        _bad(p, "latency", "应为 [[latency]] 数组", "must be an array of [[latency]] tables")
    for i, row in enumerate(lat, 1):
        if not isinstance(row.get("endpoint"), str) or not row["endpoint"]:
            _bad(p, f"[[latency]] #{i}", "缺少 endpoint", "needs an endpoint")
        for k, v in row.items():
            if k == "endpoint":
                continue
            if k not in _PCTS:
                _bad(
                    p,
                    f"[[latency]] {row['endpoint']} {k}",
                    "未知（可用 p50_ms p90_ms p95_ms p99_ms max_ms）",
                    "is unknown (p50_ms p90_ms p95_ms p99_ms max_ms)",
                )
            _number(p, f"[[latency]] {row['endpoint']} {k}", v)
    for table, keys in _SCHEMA.items():
        t = data.get(table, {})
        if not isinstance(t, dict):
            _bad(p, f"[{table}]", "应为表", "must be a table")
        for k, v in t.items():
            if k not in keys:
                _bad(p, f"[{table}] {k}", "是未知的键", "is not a known key")
            if keys[k] is dict:
                if not isinstance(v, dict):
                    _bad(p, f"[{table}] {k}", "应为表", "must be a table")
                for name, x in v.items():
                    _number(p, f"[{table}] {k}.{name}", x)
            else:
                _number(p, f"[{table}] {k}", v, keys[k])
    for k in ("max_rate", "min_completed"):
        for table in ("errors", "throughput"):
            v = data.get(table, {}).get(k)
            if v is not None and v > 1:
                _bad(p, f"[{table}] {k}", "应在 0 到 1 之间", "must be in 0..1")
    lp = data.get("throughput", {}).get("lag_percentile")
    if lp is not None and not 0 < lp <= 100:
        _bad(p, "[throughput] lag_percentile", "应在 (0, 100] 内", "must be in (0, 100]")


def percentile(hist: dict, q: float) -> float | None:
    """The ``q`` quantile (0..1) of a Locust response-time histogram ``{ms bucket: count}``."""
    items = sorted((float(k), int(v)) for k, v in hist.items())
    total = sum(v for _, v in items)
    if not total:
        return None
    want = max(1, math.ceil(q * total))
    run = 0
    for ms, n in items:
        run += n
        if run >= want:
            return ms
    return items[-1][0]


def judge(slo: dict, facts: dict) -> list[Breach]:
    """Every threshold of ``slo`` crossed by ``facts`` (see :func:`loadtests.run.facts_of`).

    ``facts``: ``endpoints`` (name → ``{"requests", "failures", "hist"}``), ``lag_hist`` (schedule
    lag histogram, test seconds → envelopes), ``hour_s`` (test seconds per model hour), ``planned``/``answered``
    envelopes, ``peak_records_per_s`` (callable window → value), ``checks`` (kind → [checked, failed]),
    ``wrong_verdicts``, ``reconciled`` (bool) and ``reconcile_reason``.
    """
    out: list[Breach] = []
    eps = facts["endpoints"]
    for row in slo.get("latency", []):
        name = row["endpoint"]
        e = eps.get(name)
        for k, q in _PCTS.items():
            if k not in row:
                continue
            lim = row[k]
            th = f'latency."{name}".{k}'
            if not e or not e["requests"]:
                out.append(
                    Breach(
                        th, lim, None, f"{name} 没有请求，无法判断 {k}", f"no requests to {name}: {k} cannot be judged"
                    )
                )
                continue
            v = percentile(e["hist"], q)
            if v is not None and v > lim:
                out.append(
                    Breach(
                        th,
                        lim,
                        v,
                        f"{name} 的 {k[:-3]} 延迟 {v:g} ms 超过上限 {lim:g} ms",
                        f"{name} {k[:-3]} latency {v:g} ms is over the limit of {lim:g} ms",
                    )
                )
    err = slo.get("errors", {})
    total = sum(e["requests"] for e in eps.values())
    fails = sum(e["failures"] for e in eps.values())
    if "max_rate" in err and total:
        rate = fails / total
        if rate > err["max_rate"]:
            out.append(
                Breach(
                    "errors.max_rate",
                    err["max_rate"],
                    round(rate, 6),
                    f"错误率 {rate:.4%}（{fails}/{total}）超过上限 {err['max_rate']:.4%}",
                    f"error rate {rate:.4%} ({fails}/{total}) is over the limit of {err['max_rate']:.4%}",
                )
            )
    for name, lim in err.get("endpoints", {}).items():
        e = eps.get(name)
        if e and e["requests"]:
            rate = e["failures"] / e["requests"]
            if rate > lim:
                out.append(
                    Breach(
                        f'errors.endpoints."{name}"',
                        lim,
                        round(rate, 6),
                        f"{name} 错误率 {rate:.4%}（{e['failures']}/{e['requests']}）超过上限 {lim:.4%}",
                        f"{name} error rate {rate:.4%} ({e['failures']}/{e['requests']}) is over {lim:.4%}",
                    )
                )
    out += _throughput(slo.get("throughput", {}), facts)
    out += _correctness(slo.get("correctness", {}), facts)
    if slo.get("reconcile", {}).get("required", False) and not facts["reconciled"]:
        out.append(
            Breach(
                "reconcile.required",
                True,
                False,
                "对账不一致：" + facts["reconcile_reason"][0],
                "reconciliation failed: " + facts["reconcile_reason"][1],
            )
        )
    return out


def _throughput(t: dict, facts: dict) -> list[Breach]:
    out = []
    lags, hour_s = facts["lag_hist"], facts["hour_s"]
    to_min = 60.0 / hour_s if hour_s else 0.0
    if lags and "max_lag_model_min" in t:
        v = percentile(lags, float(t.get("lag_percentile", 95)) / 100.0) * to_min
        if v > t["max_lag_model_min"]:
            pc = f"p{t.get('lag_percentile', 95):g}"
            out.append(
                Breach(
                    "throughput.max_lag_model_min",
                    t["max_lag_model_min"],
                    round(v, 1),
                    f"上传滞后（{pc}）{v:.1f} 模型分钟，超过上限 {t['max_lag_model_min']:g}：平台跟不上全市的上传节奏",
                    f"upload lag ({pc}) {v:.1f} model minutes is over {t['max_lag_model_min']:g}: the platform does not keep up with the city",
                )
            )
    if lags and "max_lag_model_min_worst" in t:
        v = percentile(lags, 1.0) * to_min
        if v > t["max_lag_model_min_worst"]:
            out.append(
                Breach(
                    "throughput.max_lag_model_min_worst",
                    t["max_lag_model_min_worst"],
                    round(v, 1),
                    f"最慢的上传滞后 {v:.1f} 模型分钟，超过上限 {t['max_lag_model_min_worst']:g}",
                    f"the slowest upload lagged {v:.1f} model minutes, over {t['max_lag_model_min_worst']:g}",
                )
            )
    if "min_completed" in t:
        planned, done = facts["planned"], facts["answered"]
        share = done / planned if planned else 1.0
        if share < t["min_completed"]:
            out.append(
                Breach(
                    "throughput.min_completed",
                    t["min_completed"],
                    round(share, 6),
                    f"计划的 {planned} 个报文只完成了 {done} 个（{share:.2%}）",
                    f"only {done} of the {planned} planned envelopes were answered ({share:.2%})",
                )
            )
    if t.get("min_records_per_s"):
        v = facts["peak_records_per_s"](float(t.get("window_s", 5)))
        if v < t["min_records_per_s"]:
            out.append(
                Breach(
                    "throughput.min_records_per_s",
                    t["min_records_per_s"],
                    round(v, 1),
                    f"最忙 {t.get('window_s', 5):g} 秒内每秒接收 {v:.1f} 条记录，低于下限 {t['min_records_per_s']:g}",
                    f"{v:.1f} records/s accepted over the busiest {t.get('window_s', 5):g} s, under {t['min_records_per_s']:g}",
                )
            )
    return out


def _correctness(c: dict, facts: dict) -> list[Breach]:
    out = []
    checked = sum(v[0] for v in facts["checks"].values())
    failed = sum(v[1] for v in facts["checks"].values())
    if "max_failed" in c and failed > c["max_failed"]:
        out.append(
            Breach(
                "correctness.max_failed",
                c["max_failed"],
                failed,
                f"{failed} 个抽检应答不符合规范（共抽检 {checked} 个）",
                f"{failed} sampled answers failed validation against the profile (of {checked} checked)",
            )
        )
    if "min_checked" in c and checked < c["min_checked"]:
        out.append(
            Breach(
                "correctness.min_checked",
                c["min_checked"],
                checked,
                f"只抽检了 {checked} 个应答，不足 {c['min_checked']} 个",
                f"only {checked} answers were checked, under {c['min_checked']}",
            )
        )
    if "max_wrong_verdicts" in c and facts["wrong_verdicts"] > c["max_wrong_verdicts"]:
        out.append(
            Breach(
                "correctness.max_wrong_verdicts",
                c["max_wrong_verdicts"],
                facts["wrong_verdicts"],
                f"{facts['wrong_verdicts']} 个报文的逐条结论与预期不符",
                f"{facts['wrong_verdicts']} envelopes got per-record verdicts other than expected",
            )
        )
    return out
