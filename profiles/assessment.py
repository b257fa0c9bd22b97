"""The regulator's statistics and district assessment definitions as package data: ``reference/assessment.toml``.

:func:`load_assessment` returns the file's tables (``district``, ``statistics``, ``assessment``) read through
:mod:`importlib.resources`, so an installed package works whatever form its files take (a source tree, an
installed wheel, a zip archive on ``sys.path``).  The definitions are the profile's own (evidence ``profile``;
docs/regulator.md).  A missing or malformed file is a packaging fault and raises (``FileNotFoundError``,
``tomllib.TOMLDecodeError``), it is not a user's input.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

#: the resource, relative to the ``profiles`` package
RESOURCE = ("reference", "assessment.toml")


def load_assessment() -> dict[str, Any]:
    """The ``assessment.toml`` tables, parsed."""
    return tomllib.loads(files("profiles").joinpath(*RESOURCE).read_text("utf-8"))
