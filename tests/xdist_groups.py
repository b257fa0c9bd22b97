"""How ``python3 tasks.py test`` splits the suite under pytest-xdist (``-n auto --dist loadgroup``); the hook
is installed by the repository root's conftest.py.

Each test file runs whole on one worker: module-scoped fixtures (a proof module's batch of certify runs) are
built once, not once per worker; and every README/docs example is in one group, because examples start
servers on fixed ports (8080, …) that two workers would both bind.  The heaviest groups are queued first
(longest first), so that no long group starts last and runs alone at the end.
"""

from __future__ import annotations

import pytest

DOCS_GROUP = "docs"
# measured in CI (``--durations=30``, 2 cores): the groups that take minutes, longest first
HEAVY_FIRST = (
    DOCS_GROUP,
    "tests/conformance/test_variants.py",
    "tests/conformance/test_http_defects.py",
    "tests/conformance/test_device_defects.py",
    "tests/conformance/test_platform_security.py",
    "tests/roucai/test_dialect_https.py",
)


def xdist_group_of(nodeid: str) -> str:
    """The group a test runs in under ``--dist loadgroup``: its file, or one group for every doc example."""
    path = nodeid.split("::", 1)[0]
    return DOCS_GROUP if path.endswith(".md") else path


def _rank(group: str) -> int:
    return HEAVY_FIRST.index(group) if group in HEAVY_FIRST else len(HEAVY_FIRST)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Only under ``--dist loadgroup``: mark every item with its group and queue the heavy groups first."""
    # a worker sees dist "no" and loadgroup True (xdist's remote.setup_config); the controller does not collect
    loadgroup = getattr(config.option, "loadgroup", False) or getattr(config.option, "dist", "no") == "loadgroup"
    if not loadgroup:
        return
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group_of(item.nodeid)))
    items.sort(key=lambda it: _rank(xdist_group_of(it.nodeid)))  # stable: each group keeps its own order
