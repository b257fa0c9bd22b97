"""Tests are selected by target kind: nothing node-only runs against a platform (issue 10).

The real collection of the transmission and coding suites (the roucai plugin, as ``roucai certify`` runs it)
under a city-platform capability statement: every test that needs the node session (the node software as
the target) is skipped as not applicable, with the kind as its reason; under a node statement those tests
are selected and the platform-side ones are not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import conformance

ROOT = Path(conformance.__file__).resolve().parent
EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "capabilities"


class _Grab:
    items: list = []

    def pytest_collection_finish(self, session):
        self.items = list(session.items)


def _collect(target: str, statement: Path) -> list:
    grab = _Grab()
    rc = pytest.main(
        [
            str(ROOT / "transmission"),
            str(ROOT / "coding"),
            "-c",
            str(ROOT / "pytest.ini"),
            "--rootdir",
            str(ROOT),
            "--collect-only",
            "-qq",
            "--target",
            target,
            "--capabilities",
            str(statement),
        ],
        plugins=[grab],
    )
    assert rc == 0
    return grab.items


def _not_applicable(item) -> str | None:
    m = item.get_closest_marker("skip")
    return m.kwargs.get("reason", m.args[0] if m.args else "") if m else None


def test_node_only_tests_do_not_apply_to_a_platform():
    items = _collect("http://127.0.0.1:9", EXAMPLES / "platform-example.toml")
    node = [it for it in items if "node_session" in it.fixturenames]
    assert len(node) >= 20 and any(it.name == "test_operator_base_information_first" for it in node)
    wrong = [it.nodeid for it in node if not (_not_applicable(it) or "").count("node")]
    assert not wrong, f"node-only tests selected against a platform: {wrong}"
    server = [it for it in items if "/test_server_" in it.nodeid]
    assert server and all(_not_applicable(it) is None for it in server)


def test_node_tests_apply_to_node_software():
    items = _collect("node", EXAMPLES / "node-example.toml")
    node = [it for it in items if "node_session" in it.fixturenames]
    assert node and all(_not_applicable(it) is None for it in node), [it.nodeid for it in node if _not_applicable(it)]
    server = [it for it in items if "/test_server_" in it.nodeid]
    assert server and all(_not_applicable(it) for it in server)
