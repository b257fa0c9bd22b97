"""Fixtures of the node tests; helpers live in ``nodekit.py``."""

from __future__ import annotations

import pytest


@pytest.fixture
def profile():
    from profiles import load_profile

    return load_profile()
