"""Errors of the city fixtures, each with a Chinese and an English message.

:class:`PresetError`: a preset that cannot be used.  :class:`NotACityError`:
a document that is not a city file at all.  The CLI reports both as usage
errors (exit 2).
"""
from __future__ import annotations


class CityError(ValueError):
    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(en)


class PresetError(CityError):
    """A preset that cannot be used (unknown, malformed, inconsistent)."""


class NotACityError(CityError):
    """The top level of a document is not a ``roucai-city`` file."""
