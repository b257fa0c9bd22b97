"""Fixtures of the coding suite: the records a node target produced, as the harness platform stored them.

``coded`` — a :class:`~.codedrecords.CodedRecords` built from the run's node session (shared with the
transmission suite: the same scenario, run once): the records uploaded by the node software under test,
every record the platform stored that day (for upstream references), and the trace codes the harness's
scales issued.
"""

from __future__ import annotations

import pytest

from conformance.transmission.conftest_node import node_session_for

from .codedrecords import CodedRecords


@pytest.fixture(scope="session")
def coded(request, target, capabilities, seed, profile, tmp_path_factory) -> CodedRecords:
    sess = node_session_for(request, target, capabilities, seed, profile, tmp_path_factory)
    return CodedRecords.from_session(sess, profile)
