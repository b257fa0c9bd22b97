"""The city catalogue (``catalogue.toml``): node types, origin types, device models, name parts.

:func:`load_catalogue` returns the parsed file (a dict, cached).  Node types
are generated in the order the file lists them (:func:`node_type_order`).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

CATALOGUE_FILE = Path(__file__).resolve().parent / "catalogue.toml"


@lru_cache(maxsize=1)
def load_catalogue() -> dict:
    with open(CATALOGUE_FILE, "rb") as fh:
        return tomllib.load(fh)


def node_type_order() -> list[str]:
    return list(load_catalogue()["node_types"])
