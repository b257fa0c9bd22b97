"""Fixtures of these tests live in marketkit.py (a uniquely named module, so `from marketkit import …` cannot pick up
another folder's conftest)."""

from marketkit import *  # noqa: F401,F403
