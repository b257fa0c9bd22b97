"""Errors of the city fixtures, each with a Chinese and an English message.

:class:`PresetError`: a preset that cannot be used.  :class:`NotACityError`:
a document that is not a city file at all.  The CLI reports both as usage
errors (exit 2).
"""

from __future__ import annotations

from profiles.errors import RoucaiError


class CityError(RoucaiError, ValueError):
    """A city document or preset that cannot be used (exit 2)."""


class PresetError(CityError):
    """A preset that cannot be used (unknown, malformed, inconsistent)."""


class NotACityError(CityError):
    """The top level of a document is not a ``roucai-city`` file."""
