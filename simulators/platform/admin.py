"""A platform database's administration as a library: open its registry, import a city, write the keys.

``roucai serve admin`` and the conformance harness both call these, so the harness never runs the CLI and
parses what it prints (the layers point down: conformance → simulators, never → the CLI).  Errors are the
registry's and storage's own bilingual errors (``RegistryError``, ``StoreError``, ``ConfigError``…).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profiles import load_profile
from profiles.profile import default_profile_name

from .config import PlatformConfig
from .filemode import write_private
from .registry import CITY_PLATFORM, Registry
from .secret import PlatformSecret
from .storage import open_store


@contextmanager
def registry(db: str, profile: str | None = None, secret_file: str | None = None) -> Iterator[Registry]:
    """The registry of the platform database ``db`` (SQLite path or ``postgresql://…``), its secret beside it
    (created if missing, as ``roucai serve admin`` does); the store is closed on leaving."""
    cfg = PlatformConfig(db=db, profile=profile or default_profile_name(), secret_file=secret_file).validate()
    secret = PlatformSecret.load(cfg.resolved_secret_file(), create=True)
    store = open_store(cfg.db)
    try:
        yield Registry(store, secret, load_profile(cfg.profile))
    finally:
        store.close()


def import_city(reg: Registry, city: dict[str, Any]) -> dict[str, str | None]:
    """Register every node, operator and scale of a city fixture (``roucai fixtures city``); returns each
    node's key (its current one when it already had a key, so importing twice changes nothing; ``None`` for
    a node already registered whose key is not active, as ``Registry.current_key`` answers).
    Raises ``KeyError``/``TypeError`` when ``city`` is not a city fixture."""
    keys: dict[str, str | None] = {}
    for n in city["nodes"]:
        reg.register_node(n["code"], n["name"], n["type"])
        existing = reg.node(n["code"])
        assert existing is not None  # registered just above
        keys[n["code"]] = reg.current_key(n["code"]) if existing.key_version else reg.issue_key(n["code"])
    for o in city["operators"]:
        reg.register_operator(o["code"], o["name"], o.get("business_type"), o.get("uscc"))
    for sc in city.get("scales", []):
        reg.register_scale(sc["id"], sc["node_code"], sc["operator_code"], sc.get("stall"), sc.get("kind"))
    return keys


def register_city(reg: Registry, city_id: str, name: str) -> tuple[dict[str, Any], str]:
    """Register a city platform at a central platform: (its registry entry, the key issued to it)."""
    n = reg.register_node(city_id, name, CITY_PLATFORM)
    return n.to_dict(), reg.issue_key(n.node_id)


def write_keys(path: str | Path, keys: Mapping[str, str | None]) -> None:
    """The keys as JSON (node code → key), atomically, mode 0600 even over a wider existing file."""
    write_private(str(path), (json.dumps(keys, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"))
