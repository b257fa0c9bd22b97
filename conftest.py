"""The repository root's pytest hooks: README.md's and docs/'s shell examples are tests
(tests/docs/shell_examples.py); under pytest-xdist, whole files per worker (tests/xdist_groups.py).  Certify
runs use conformance/pytest.ini and never load this file."""

from tests.docs.shell_examples import collector
from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401  (a hook: pytest finds it by name)

pytest_collect_file = collector()
