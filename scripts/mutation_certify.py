"""Oracle 2 of the mutation run: one ``roucai certify --target builtin`` against the code on disk.

Usage (cosmic-ray's test command, run in the scratch copy)::

    python scripts/mutation_certify.py --suite platform [-k EXPR] --report DIR

Contract:
- Runs ``python -m roucai.cli certify --target builtin --suite SUITE --seed 1
  --report DIR [-k EXPR]`` with this copy of the project first on PYTHONPATH, so
  the certify process and every server it starts import the mutated module, not
  the editable install.
- Prints ``mutation-oracle: failed recommended ID ...`` (the recommended-level
  requirements that failed, from the report's results.json: their failures do not
  change certify's exit code, so a mutant they catch still counts as a survivor,
  marked as such), then one line ``mutation-oracle: certify exit N`` (N is
  certify's exit code), and exits with N: 0 means the mutant survived; 1 (non-conformant) killed it;
  2/3 (usage, harness or unreachable) also count as killed, and the mutation run
  lists them apart as "killed (crash/timeout)" by reading that line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent
MARK = "mutation-oracle: certify exit"
RECOMMENDED = "mutation-oracle: failed recommended"


def command(suite: str, report: str, keyword: str | None, seed: int = 1) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "roucai.cli",
        "certify",
        "--target",
        "builtin",
        "--suite",
        suite,
        "--seed",
        str(seed),
        "--report",
        report,
    ]
    return cmd + (["-k", keyword] if keyword else [])


def exit_code(output: str | None) -> int | None:
    """The certify exit code printed by this script, or None (no such line: e.g. cosmic-ray's timeout)."""
    for line in reversed((output or "").splitlines()):
        if line.startswith(MARK):
            try:
                return int(line[len(MARK) :].strip())
            except ValueError:
                return None
    return None


def failed_recommended(output: str | None) -> list[str]:
    """The recommended-level requirements printed as failed by this script (none when not printed)."""
    for line in (output or "").splitlines():
        if line.startswith(RECOMMENDED):
            return line[len(RECOMMENDED) :].split()
    return []


def _recommended_failures(report: Path) -> list[str]:
    try:
        summary = json.loads((report / "results.json").read_text(encoding="utf-8"))["summary"]
        return [str(r) for r in summary.get("failed_recommended", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mutation_certify.py")
    ap.add_argument("--suite", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("-k", dest="keyword")
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TREE), os.environ.get("PYTHONPATH")])))
    rc = subprocess.call(
        command(args.suite, args.report, args.keyword),
        cwd=TREE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(f"{RECOMMENDED} {' '.join(_recommended_failures(TREE / args.report))}".rstrip(), flush=True)
    print(f"{MARK} {rc}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
