"""A platform database's administration as a library: open its registry, import a city, write the keys.

``roucai serve admin`` and the conformance harness both call these, so the harness never runs the CLI and
parses what it prints (the layers point down: conformance → simulators, never → the CLI).  Errors are the
registry's and storage's own bilingual errors (``RegistryError``, ``StoreError``, ``ConfigError``…).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CityImport:
    """What importing a city yields: ``keys`` maps every node that has an active key to it (never ``None``: what
    is here can be written to a keys file and signed with); ``disabled`` names the city's nodes that are
    registered but disabled (``roucai serve admin disable-node``), which have no usable key until enabled."""

    keys: dict[str, str]
    disabled: tuple[str, ...] = ()


def import_city(reg: Registry, city: dict[str, Any]) -> CityImport:
    """Register every node, operator and scale of a city fixture (``roucai fixtures city``); returns each
    active node's key (its current one when it already had a key, so importing twice changes nothing) and
    the nodes left without one because they are disabled (:class:`CityImport`; a disabled node is not
    re-enabled by an import).  Raises ``KeyError``/``TypeError`` when ``city`` is not a city fixture."""
    keys: dict[str, str] = {}
    disabled: list[str] = []
    for n in city["nodes"]:
        reg.register_node(n["code"], n["name"], n["type"])
        existing = reg.node(n["code"])
        assert existing is not None  # registered just above
        key = reg.current_key(n["code"]) if existing.key_version else reg.issue_key(n["code"])
        if key is None:  # registered earlier, with a key, and disabled since
            disabled.append(n["code"])
        else:
            keys[n["code"]] = key
    for o in city["operators"]:
        reg.register_operator(o["code"], o["name"], o.get("business_type"), o.get("uscc"))
    for sc in city.get("scales", []):
        reg.register_scale(sc["id"], sc["node_code"], sc["operator_code"], sc.get("stall"), sc.get("kind"))
    return CityImport(keys, tuple(disabled))


def register_city(reg: Registry, city_id: str, name: str) -> tuple[dict[str, Any], str]:
    """Register a city platform at a central platform: (its registry entry, the key issued to it)."""
    n = reg.register_node(city_id, name, CITY_PLATFORM)
    return n.to_dict(), reg.issue_key(n.node_id)


def write_keys(path: str | Path, keys: Mapping[str, str]) -> None:
    """The keys as JSON (node code → key), atomically, mode 0600 even over a wider existing file."""
    write_private(str(path), (json.dumps(keys, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"))
