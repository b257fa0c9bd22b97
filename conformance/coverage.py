"""Requirement coverage, in both directions (after open-ocpp-tck's obligation check).

Every requirement of the catalogue must be checked by at least one
conformance test, or carry a stated reason why it is not tested
(``not_tested_reason`` in the catalogue); and every conformance test must
check at least one requirement (the plugin refuses a test that names none,
or names an unknown id).

:func:`collect_tests` collects the suites with pytest (no test runs) and
returns ``{nodeid: [requirement ids]}``.
"""

from __future__ import annotations

from pathlib import Path

import conformance

SUITES_ROOT = Path(conformance.__file__).resolve().parent


class _Collector:
    def __init__(self):
        self.tests: dict[str, list[str]] = {}
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items):
        for it in items:
            self.tests[it.nodeid] = [r for m in it.iter_markers("requirement") for r in m.args]

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longrepr}")


def collect_tests(root: Path = SUITES_ROOT) -> tuple[dict[str, list[str]], list[str]]:
    """(tests → requirement ids, collection errors) of every suite under ``root``."""
    import pytest

    col = _Collector()
    rc = pytest.main(
        [str(root), "--collect-only", "-c", str(root / "pytest.ini"), "--rootdir", str(root), "-p", "no:terminal"],
        plugins=[col],
    )
    if rc not in (0, 5):
        col.errors.append(f"pytest exit code {int(rc)}")
    return col.tests, col.errors


def coverage(catalogue, tests: dict[str, list[str]]) -> dict:
    by_req: dict[str, list[str]] = {}
    for nodeid, reqs in tests.items():
        for r in reqs:
            by_req.setdefault(r, []).append(nodeid)
    rows, missing = [], []
    for q in catalogue:
        checked = sorted(by_req.get(q.id, []))
        reason = getattr(q, "not_tested_reason", None)
        reason = dict(reason) if reason else None
        status = "tested" if checked else ("reasoned" if reason else "missing")
        if status == "missing":
            missing.append(q.id)
        rows.append(
            {
                "id": q.id,
                "level": q.level,
                "area": q.area,
                "status": status,
                "tests": checked,
                "not_tested_reason": reason,
            }
        )
    known = set(catalogue.ids)
    orphans = sorted(n for n, reqs in tests.items() if not reqs)
    unknown = sorted({f"{n}: {r}" for n, reqs in tests.items() for r in reqs if r not in known})
    return {
        "requirements": rows,
        "missing": missing,
        "orphan_tests": orphans,
        "unknown_ids": unknown,
        "tests": len(tests),
        "ok": not missing and not orphans and not unknown,
    }
