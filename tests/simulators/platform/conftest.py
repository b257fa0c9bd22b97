"""Fixtures of these tests live in platformkit.py (a uniquely named module, so `from platformkit import …` cannot pick up
another folder's conftest)."""

from platformkit import *  # noqa: F401,F403
