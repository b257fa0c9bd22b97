"""Results of a conformance run: the JSON document, and writing every output.

The results JSON (``results.json``) is the one source of the HTML reports and
the bundle.  Its shape (stable)::

    {"format": "roucai-results/1", "status": "finished"|"interrupted"|"target-down", "harness": {...},
     "profile": {...}, "target": URL, "seed": N,
     "capabilities": {...}, "started": ISO, "finished": ISO, "duration_s": s, "environment": {...},
     "tests": [{"nodeid", "name", "suite", "requirements", "verdict", "reason_zh", "reason_en",
                "selection_zh", "selection_en", "duration_s", "evidence", "notes", "doc"}],
     "requirements": [{"id", "title_zh", "title_en", "statement_zh", "statement_en", "level",
                       "evidence", "source", "verdict", "tests"}],
     "summary": {"tests": {verdict: n}, "requirements": {verdict: n}, "conformant": bool,
                 "failed_required": [ids], "failed_recommended": [ids]}}

Conformant means: no requirement of level ``required`` or ``conditional``
ends in a bad verdict (fail, timeout, error, partial, unexpected-pass), and
no test ended in error or unexpected pass, and none of them ended
``not-tested``.  ``summary.verdict`` is CONFORMANT, NON-CONFORMANT, or
INCOMPLETE (nothing failed, but required requirements were not tested:
``summary.not_tested_required``, and ``summary.actions_needed`` lists the
operator actions to declare).  Recommended requirements that fail are listed
but do not make the target non-conformant.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata as md
import json
import os
import platform
import sys
from collections import Counter
from pathlib import Path

from . import verdicts as V

#: ``summary.verdict`` of a run stopped by Ctrl-C or SIGTERM (``status`` ``interrupted``): no conformance verdict.
INTERRUPTED = "INTERRUPTED"
#: ``summary.verdict`` of a run whose target did not come up (``status`` ``target-down``): no verdict either.
TARGET_DOWN = "TARGET-DOWN"


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="seconds")


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def environment() -> dict:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": {
            d: _version(d)
            for d in (
                "roucai-harness",
                "pytest",
                "simpy",
                "pyserial",
                "faker",
                "fastapi",
                "uvicorn",
                "httpx",
                "hypothesis",
            )
        },
    }


def profile_fingerprint(profile) -> dict:
    files = {}
    p = profile
    while p is not None:
        for key, fname in sorted(p.manifest.get("files", {}).items()):
            path = p.root / fname
            if path.is_file():
                files[f"{p.name}/{fname}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        p = p.base
    return {"name": profile.name, "version": profile.version, "lineage": profile.lineage, "files": files}


def build_results(session) -> dict:
    tests = list(session.items.values())
    for t in tests:
        if t["verdict"] is None:  # collected but never reported (interrupted run)
            t["verdict"], t["reason_zh"], t["reason_en"] = V.ERROR, "未执行完毕", "did not complete"
    by_req: dict[str, list[dict]] = {}
    for t in tests:
        for r in t["requirements"]:
            by_req.setdefault(r, []).append(t)
    reqs = []
    for rid in sorted(by_req):
        q = session.catalogue.get(rid)
        reqs.append(
            {
                "id": rid,
                "title_zh": q.title_zh,
                "title_en": q.title_en,
                "statement_zh": q.statement_zh,
                "statement_en": q.statement_en,
                "level": q.level,
                "evidence": q.evidence,
                "source": q.source,
                "verdict": V.combine([t["verdict"] for t in by_req[rid]]),
                "tests": [t["nodeid"] for t in by_req[rid]],
            }
        )
    reqs += not_testable(session.catalogue, {t["suite"] for t in tests}, set(by_req))
    failed_required = [r["id"] for r in reqs if r["verdict"] in V.BAD and r["level"] != "recommended"]
    failed_recommended = [r["id"] for r in reqs if r["verdict"] in V.BAD and r["level"] == "recommended"]
    hard = [t for t in tests if t["verdict"] in (V.ERROR, V.UNEXPECTED_PASS)]
    not_tested = [r["id"] for r in reqs if r["verdict"] == V.NOT_TESTED and r["level"] != "recommended"]
    verdict = V.run_verdict(bool(failed_required or hard), bool(not_tested))
    now = _dt.datetime.now(_dt.timezone.utc).timestamp()
    return {
        "format": "roucai-results/1",
        "status": "finished",
        "harness": {"name": "roucai-harness", "version": _version("roucai-harness")},
        "profile": profile_fingerprint(session.profile),
        "target": session.target.url,
        "seed": session.seed,
        "capabilities": session.capabilities.to_dict(),
        "started": _iso(session.started),
        "finished": _iso(now),
        "duration_s": round(now - session.started, 2),
        "environment": environment(),
        "tests": tests,
        "requirements": reqs,
        "summary": {
            "tests": dict(sorted(Counter(t["verdict"] for t in tests).items())),
            "requirements": dict(sorted(Counter(r["verdict"] for r in reqs).items())),
            "conformant": verdict == V.CONFORMANT,
            "verdict": verdict,
            "failed_required": failed_required,
            "failed_recommended": failed_recommended,
            "not_tested_required": not_tested,
            "actions_needed": actions_needed(tests),
        },
    }


#: suite -> the catalogue areas it judges
SUITE_AREAS = {
    "coding": ("coding",),
    "perception": ("perception",),
    "transmission": ("transmission", "node"),
    "platform": ("platform",),
}


def not_testable(catalogue, suites: set[str], tested: set[str]) -> list[dict]:
    """The requirements of the suites that ran which no test can judge, each with the catalogue's reason
    (verdict ``not-testable``, outside the run verdict): the report lists every requirement of its suites."""
    areas = {a for s in suites for a in SUITE_AREAS.get(s, ())}
    out = []
    for q in sorted(catalogue, key=lambda q: q.id):
        if q.area in areas and q.testable_by == "not-tested" and q.id not in tested:
            why = q.not_tested_reason or {}
            out.append(
                {
                    "id": q.id,
                    "title_zh": q.title_zh,
                    "title_en": q.title_en,
                    "statement_zh": q.statement_zh,
                    "statement_en": q.statement_en,
                    "level": q.level,
                    "evidence": q.evidence,
                    "source": q.source,
                    "verdict": V.NOT_TESTABLE,
                    "tests": [],
                    "reason_zh": why.get("zh", ""),
                    "reason_en": why.get("en", ""),
                }
            )
    return out


def actions_needed(tests: list[dict]) -> list[dict]:
    """The operator actions not-tested tests asked for: name, zh/en text, the requirements waiting on it."""
    from profiles.actions import load_actions

    cat, out = load_actions(), {}
    for t in tests:
        for name in t.get("needs_actions", ()):
            shown = {q: f"<{q}>" for q in (cat[name].params if name in cat else ())}
            a = out.setdefault(
                name,
                {
                    "action": name,
                    "zh": cat.text(name, shown, "zh") if name in cat else "",
                    "en": cat.text(name, shown, "en") if name in cat else "",
                    "requirements": [],
                },
            )
            a["requirements"] = sorted(set(a["requirements"]) | set(t["requirements"]))
    return [out[k] for k in sorted(out)]


def mark_interrupted(results: dict, why: str) -> dict:
    """The results of a run stopped by Ctrl-C or SIGTERM: ``status`` ``interrupted``, no conformance
    verdict (``summary.conformant`` is ``None``, ``summary.verdict`` ``INTERRUPTED``); ``why`` says how."""
    results["status"] = "interrupted"
    results["interrupted_by"] = why
    results["summary"]["conformant"] = None
    results["summary"]["verdict"] = INTERRUPTED
    return results


def mark_target_down(results: dict, zh: str, en: str) -> dict:
    """The results of a run whose target did not come up once it started (``preflight.TargetDown``):
    ``status`` ``target-down``, no conformance verdict, ``summary.verdict`` ``TARGET-DOWN``, the reason."""
    results["status"] = "target-down"
    results["target_down"] = {"zh": zh, "en": en}
    results["summary"]["conformant"] = None
    results["summary"]["verdict"] = TARGET_DOWN
    return results


def write_outputs(results: dict, root: Path, session, write_files: bool = True) -> None:
    """results.json, report.zh.html, report.en.html and bundle.zip into ``root``, each written
    atomically (``simulators.atomic_file``: .partial, fsync, rename).  An interrupted run
    (:func:`mark_interrupted`) gets its results and reports but NO bundle: nothing it leaves
    verifies as a finished run."""
    if not write_files:
        return
    from simulators.atomic_file import atomic_write_bytes

    from .bundle import write_bundle
    from .report import render_html

    def put(name: str, text: str) -> None:
        atomic_write_bytes(root / name, text.encode("utf-8"))

    root.mkdir(parents=True, exist_ok=True)
    (root / "bundle.zip").unlink(missing_ok=True)
    put("results.json", json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    for lang in ("zh", "en"):
        put(f"report.{lang}.html", render_html(results, lang))
    put("capabilities.toml", session.capabilities.text)
    put("environment.json", json.dumps(results["environment"], indent=2) + "\n")
    put("profile.json", json.dumps(results["profile"], indent=2, ensure_ascii=False) + "\n")
    if results.get("status", "finished") == "finished":
        write_bundle(root, root / "bundle.zip")
