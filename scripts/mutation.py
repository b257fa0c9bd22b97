"""Mutation testing under two oracles: unit tests of the pure modules, and ``roucai certify`` (issue 11).

Run through ``python3 tasks.py mutation [--oracle unit|certify] [--sample N] [--module M] ...``;
not part of CI.

Contract:
- The tool is cosmic-ray (pinned in the ``mutation`` extra of pyproject.toml). It
  edits the module file on disk and runs the oracle in a fresh process per mutant,
  so objects built at import time (``P = load_profile()``) and the servers certify
  starts see every mutant.
- ``--oracle unit`` (default) runs the module's unit tests (``UNIT``); ``--oracle
  certify`` runs ``roucai certify --target builtin --suite S --seed 1 [-k K]``
  (``CERTIFY``, through scripts/mutation_certify.py): exit 0 is a survivor, exit 1
  killed, exit 2/3 or a timeout "killed (crash/timeout)", counted as killed and
  listed apart; a survivor that made a recommended-level requirement fail (which
  does not change certify's exit code) is marked with those requirements.
- Every run happens in a scratch copy of the project (a temporary directory,
  removed at the end): the work tree is never edited, even when a run is killed.
  The copy is the committed tree (``git archive HEAD``), so uncommitted work in a
  shared tree does not change the figures; ``--worktree`` copies the files on disk.
- Mutants inside type annotations are filtered out before sampling (the modules
  use ``from __future__ import annotations``, so they are equivalent by
  construction; scripts/mutation_select.py) and counted per module.
- ``--sample N`` draws N of the remaining mutants per module with
  ``random.Random(f"{seed}:{module}")`` over their sorted (operator, occurrence),
  so the same seed gives the same sample; the others are marked skipped.
- Time is bounded twice: each mutant's oracle run by ``--timeout`` (default: five
  times the unmutated run for unit tests, three times for certify, at least 30 s
  and 60 s), and each module by ``--budget`` seconds, after which the mutants not
  yet run are reported as "not run".
- The table is printed; survivors with their diffs go to
  ``out/mutation/<oracle>/<module>.survivors.txt`` and the figures to
  ``out/mutation/<oracle>/<module>.json`` (written atomically).
- Exit 0 when every run finished, 2 on usage errors, 3 when the unmutated oracle
  fails in the scratch copy (nothing is then measured), a budget ran out, or the
  run was interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutation_certify import exit_code, failed_recommended
from mutation_select import annotation_spans, choose, inside

ROOT = Path(__file__).resolve().parent.parent

# oracle 1: module under mutation -> the unit tests that are its oracle
UNIT: dict[str, list[str]] = {
    "profiles/codes.py": ["tests/profiles/test_codes.py", "tests/profiles/test_codes_exact.py"],
    "profiles/envelope.py": ["tests/profiles/test_envelope.py", "tests/profiles/test_envelope_exact.py"],
    "simulators/platform/stats.py": [
        "tests/simulators/platform/test_platform_stats.py",
        "tests/simulators/platform/test_platform_stats_exact.py",
    ],
    "simulators/platform/trace.py": [
        "tests/simulators/platform/test_platform_trace.py",
        "tests/simulators/platform/test_platform_trace_exact.py",
        "tests/simulators/platform/test_security_trace_paging.py",
    ],
}

# oracle 2: module under mutation -> (certify suite, -k expression or None)
# The platform suite without its one 30-second test (slow connections, which exercises
# simulators/platform/slowloris.py and none of these modules) and without the timed tests
# of conformance/platform/test_performance.py, whose verdicts depend on the machine's load
# (an oracle must give the same answer for the same code).
_PLATFORM = ("platform", "not test_slow_connections_do_not_stop_service and not test_performance")
CERTIFY: dict[str, tuple[str, str | None]] = {
    "simulators/platform/ingest.py": _PLATFORM,
    "simulators/platform/trace.py": _PLATFORM,
    "simulators/platform/stats.py": _PLATFORM,
    "simulators/platform/nodeauth.py": _PLATFORM,
    "simulators/node/uploader.py": ("transmission", None),
    "simulators/node/outbox.py": ("transmission", None),
    # the perception tests of the scale (conformance/perception/test_scale_*.py), not card or handheld
    "simulators/devices/scale.py": ("perception", "test_scale"),
    "simulators/devices/storage.py": ("perception", "test_scale"),
}
ORACLES = {"unit": UNIT, "certify": CERTIFY}

_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "out",
    "reports",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".benchmarks",
    ".tox",
    "*.egg-info",
    "roucai-report",
)


class OracleBroken(RuntimeError):
    """The unmutated oracle fails, or cosmic-ray cannot start: nothing can be measured."""


def oracle_command(oracle: str, module: str) -> list[str]:
    """The command whose exit status judges one mutant (run in the scratch copy)."""
    if oracle == "unit":
        return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:faker", "--hypothesis-seed=0", *UNIT[module]]
    suite, keyword = CERTIFY[module]
    cmd = [sys.executable, "scripts/mutation_certify.py", "--suite", suite, "--report", ".mutation-report"]
    return cmd + (["-k", keyword] if keyword else [])


def _scratch_copy(worktree: bool) -> Path:
    """The committed tree (``git archive HEAD``), or with ``worktree`` the files as they are on disk."""
    scratch = Path(tempfile.mkdtemp(prefix="roucai-mutation-"))
    tree = scratch / "tree"
    if worktree:
        shutil.copytree(ROOT, tree, ignore=_IGNORE)
        return tree
    tree.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _cosmic(args: list[str], cwd: Path, timeout: float | None = None) -> int | None:
    """Run one cosmic-ray command in its own process group; None when it ran out of time."""
    proc = subprocess.Popen([sys.executable, "-m", "cosmic_ray.cli", *args], cwd=cwd, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None
    except BaseException:  # Ctrl-C: the tests in cosmic-ray's own session go too
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _select(db_path: Path, source: str, n: int | None, seed: int, module: str) -> tuple[int, int]:
    """Skip annotation mutants and all but a seeded sample of n others; return (mutants, filtered)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(source)
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = list(db.work_items)
        rest = {
            (w.mutations[0].operator_name, w.mutations[0].occurrence): w
            for w in items
            if not inside(w.mutations[0].start_pos, w.mutations[0].end_pos, spans)
        }
        keep = {rest[k].job_id for k in choose(rest, n, seed, module)}
        for w in items:
            if w.job_id not in keep:
                db.set_result(w.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return len(items), len(items) - len(rest)


def _collect(db_path: Path, oracle: str) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    killed, crashed, survived, skipped, errors = 0, [], [], 0, 0
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            m = item.mutations[0]
            where = {"operator": m.operator_name, "occurrence": m.occurrence, "line": m.start_pos[0]}
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                skipped += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                survived.append(
                    {**where, "failed_recommended": failed_recommended(result.output), "diff": result.diff or ""}
                )
            elif result.test_outcome == TestOutcome.KILLED:
                rc = exit_code(result.output)
                if oracle == "certify" and rc != 1:
                    crashed.append({**where, "exit": "timeout" if rc is None else rc})
                else:
                    killed += 1
            else:
                errors += 1
        total = db.num_work_items
    survived.sort(key=lambda s: (s["line"], s["operator"], s["occurrence"]))
    crashed.sort(key=lambda s: (s["line"], s["operator"], s["occurrence"]))
    return {
        "mutants": total,
        "skipped": skipped,
        "killed": killed,
        "crashed": crashed,
        "survived": survived,
        "incompetent": errors,
    }


def run_module(oracle: str, module: str, tree: Path, args: argparse.Namespace) -> dict:
    cmd = oracle_command(oracle, module)
    t0 = time.monotonic()
    rc = subprocess.call(cmd, cwd=tree, stdout=subprocess.DEVNULL)
    baseline = time.monotonic() - t0
    if rc != 0:
        kept = ""
        if (tree / ".mutation-report").is_dir():  # certify's report says which tests failed
            kept = ROOT / "out" / "mutation" / oracle / f"baseline-{Path(module).stem}"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(tree / ".mutation-report", kept)
            kept = f"; report: {kept}"
        raise OracleBroken(
            f"unmutated oracle fails in the scratch copy ({oracle}, {module}, exit {rc}{kept}) / "
            f"未变异的判定在临时副本中失败"
        )
    timeout = args.timeout or (max(30.0, 5 * baseline) if oracle == "unit" else max(60.0, 3 * baseline))
    stem = f".mutation-{oracle}-{Path(module).stem}"
    cfg, db = tree / f"{stem}.toml", tree / f"{stem}.sqlite"
    cfg.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(shlex.join(cmd))}\n"
        '[cosmic-ray.distributor]\nname = "local"\n',
        encoding="utf-8",
    )
    if _cosmic(["init", cfg.name, db.name], tree) != 0:
        raise OracleBroken(f"cosmic-ray init failed for {module} / 初始化失败")
    total, filtered = _select(db, (tree / module).read_text(encoding="utf-8"), args.sample, args.seed, module)
    print(
        f"+ {oracle} {module}: {total} mutants, {filtered} in annotations (filtered), "
        f"baseline {baseline:.1f}s, timeout {timeout:.0f}s",
        flush=True,
    )
    finished = _cosmic(["exec", cfg.name, db.name], tree, timeout=args.budget) is not None
    res = _collect(db, oracle)
    res.update(
        module=module,
        oracle=oracle,
        seed=args.seed,
        sample=args.sample,
        filtered=filtered,
        finished=finished,
        baseline_s=round(baseline, 1),
    )
    planned = total - filtered if args.sample is None else min(args.sample, total - filtered)
    res["not_run"] = planned - res["killed"] - len(res["crashed"]) - len(res["survived"]) - res["incompetent"]
    return res


HEADER = (
    "| module | mutants | filtered (annotations) | run | killed | killed (crash/timeout) | survived "
    "| not run | score |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def row(r: dict) -> str:
    """One table row; score = all killed ÷ run (before review of the survivors)."""
    dead = r["killed"] + len(r["crashed"])
    run = dead + len(r["survived"])
    score = f"{100 * dead / run:.1f} %" if run else "-"
    return (
        f"| {r['module']} | {r['mutants']} | {r['filtered']} | {run} | {r['killed']} | {len(r['crashed'])} | "
        f"{len(r['survived'])} | {r['not_run']} | {score} |"
    )


def _save(r: dict) -> None:
    name = Path(r["module"]).with_suffix("").as_posix().replace("/", ".")
    out = ROOT / "out" / "mutation" / r["oracle"]
    _write_atomic(out / f"{name}.json", json.dumps(r, ensure_ascii=False, indent=1))
    _write_atomic(
        out / f"{name}.survivors.txt",
        "\n".join(
            f"# line {s['line']} {s['operator']} #{s['occurrence']}"
            + (f" (failed recommended: {' '.join(s['failed_recommended'])})" if s.get("failed_recommended") else "")
            + f"\n{s['diff']}"
            for s in r["survived"]
        ),
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="tasks.py mutation", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--oracle",
        choices=sorted(ORACLES),
        default="unit",
        help="unit: the module's unit tests; certify: roucai certify --target builtin",
    )
    ap.add_argument("--sample", type=int, help="seeded random sample of N mutants per module")
    ap.add_argument("--module", action="append", help="module to mutate (repeatable; default: all of the oracle's)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, help="seconds per mutant's oracle run")
    ap.add_argument("--budget", type=float, default=1800.0, help="seconds per module (default 1800)")
    ap.add_argument(
        "--worktree",
        action="store_true",
        help="mutate a copy of the files on disk, uncommitted changes included (default: HEAD)",
    )
    args = ap.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        ap.error("--sample must be at least 1 / --sample 至少为 1")
    unknown = [m for m in args.module or [] if m not in ORACLES[args.oracle]]
    if unknown:
        ap.error(
            f"not a module of oracle {args.oracle} / 不是该判定的模块: {', '.join(unknown)} "
            f"(choose from / 可选: {', '.join(ORACLES[args.oracle])})"
        )
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    results = []
    tree = _scratch_copy(args.worktree)
    try:
        for module in args.module or list(ORACLES[args.oracle]):
            r = run_module(args.oracle, module, tree, args)
            results.append(r)
            _save(r)
    except OracleBroken as e:
        print(e, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted / 已中断", file=sys.stderr)
        return 3
    finally:
        shutil.rmtree(tree.parent, ignore_errors=True)
    print("\n" + HEADER)
    for r in results:
        print(row(r))
    print(f"\nsurvivors: out/mutation/{args.oracle}/*.survivors.txt")
    return 0 if all(r["finished"] for r in results) else 3


if __name__ == "__main__":
    sys.exit(main())
