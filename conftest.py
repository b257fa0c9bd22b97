"""The repository root's pytest hooks: README.md's and docs/'s shell examples are tests
(tests/docs/shell_examples.py).  Certify runs use conformance/pytest.ini and never load this file."""

from tests.docs.shell_examples import collector

pytest_collect_file = collector()
