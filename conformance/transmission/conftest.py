"""Fixtures of the transmission suite.

The node-side section (the node software as the target) lives in ``conftest_node.py``;
the platform-side tests use the shared fixtures of ``conformance/conftest.py``.
"""

# -- node side (conformance/transmission/test_node_*.py) -------------------------------------------
from .conftest_node import node_session  # noqa: F401
