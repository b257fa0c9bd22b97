"""A profile: the standards as data, plus the code that interprets it.

A profile is a folder holding ``profile.toml`` and the data files it names.
The reference profile lives in ``profiles/reference/``.  A variant (e.g. a
city's local rules) is a folder whose ``profile.toml`` says
``extends = "reference"`` and ships only what differs:

* a TOML data file of the variant is deep-merged over the base's (tables
  merge key by key; any other value, lists included, replaces the base's);
* a table of the overlay holding ``_replace = true`` replaces the base's
  table whole instead of merging into it (how a dialect *narrows* an enum's
  values or a record type's field list to what the city is seen to use);
* ``_remove = ["key", …]`` in an overlay table drops those keys of the base's
  table (e.g. a record type the city does not have);
* a CSV data file of the variant replaces the base's whole.

So a variant never touches the reference profile's files.  A dialect's
``profile.toml`` may also carry ``[dialect]`` (what it changes, with its
evidence and source; rendered by ``roucai docs profile`` and
``roucai profile diff``); its ``transport`` data file declares the city's
endpoint paths, port, TLS and encodings (:attr:`Profile.transport`).

Errors: :class:`ProfileError` for a missing or malformed profile (a
configuration error, exit code 2 in the CLI).
"""

from __future__ import annotations

import os
import tomllib
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .errors import RoucaiError

if TYPE_CHECKING:  # typing only: the parts import this module, so they are loaded lazily below
    from .codes import CodeBook
    from .commodities import CommodityTable
    from .envelope import EnvelopeSpec
    from .identifiers import Identifiers
    from .problems import ProblemRules
    from .records import RecordCatalog
    from .regions import RegionTable
    from .requirements import RequirementCatalog

PROFILES_DIR = Path(__file__).resolve().parent


class ProfileError(RoucaiError):
    """The profile itself is missing or malformed (not bad user *input*)."""


REPLACE, REMOVE = "_replace", "_remove"


def _strip(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without merge directives, at every depth."""
    return {k: (_strip(v) if isinstance(v, dict) else v) for k, v in d.items() if k not in (REPLACE, REMOVE)}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged onto ``base`` (neither is changed), with the overlay directives.

    Tables merge key by key; any other value (lists included) replaces the base's.
    An overlay table with ``_replace = true`` replaces the base's table whole;
    ``_remove = [keys]`` drops keys of the base's table.  Directives never reach
    the result.
    """
    out = dict(base)
    for k in over.get(REMOVE, ()):
        out.pop(k, None)
    for k, v in over.items():
        if k in (REPLACE, REMOVE):
            continue
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not v.get(REPLACE):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = _strip(v) if isinstance(v, dict) else v
    return out


class Profile:
    """One loaded profile.  Parts are loaded lazily, once, on first use."""

    def __init__(self, root: Path, base: "Profile | None" = None):
        self.root = root
        try:
            self.manifest: dict[str, Any] = tomllib.loads((root / "profile.toml").read_text("utf-8"))
        except FileNotFoundError as exc:
            raise ProfileError(f"no profile.toml in {root}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{root / 'profile.toml'}: {exc}") from exc
        self.base = base
        self.name: str = self.manifest.get("name", root.name)
        self.version: str = str(self.manifest.get("version", "0"))

    # -- files -------------------------------------------------------------
    def _own_file(self, key: str) -> Path | None:
        fname: str | None = self.manifest.get("files", {}).get(key)
        if fname and (self.root / fname).is_file():
            return self.root / fname
        return None

    def path(self, key: str) -> Path:
        """The data file for ``key`` (``regions``, ``codes``…), own or inherited."""
        own = self._own_file(key)
        if own is not None:
            return own
        if self.base is not None:
            return self.base.path(key)
        raise ProfileError(f"profile {self.name!r} has no data file for {key!r}")

    def data(self, key: str) -> dict[str, Any]:
        """A TOML data file as a dict, deep-merged over the base profile's."""
        merged: dict[str, Any] = self.base.data(key) if self.base is not None else {}
        own = self._own_file(key)
        if own is None:
            if self.base is None:
                raise ProfileError(f"profile {self.name!r} has no data file for {key!r}")
            return merged
        try:
            mine = tomllib.loads(own.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{own}: {exc}") from exc
        return deep_merge(merged, mine)

    @cached_property
    def transport(self) -> dict[str, Any]:
        """The ``transport`` data file (endpoint paths, port, TLS, encodings), merged; ``{}`` if none."""
        try:
            return self.data("transport")
        except ProfileError:
            if self.path_or_none("transport") is not None:
                raise
            return {}

    def path_or_none(self, key: str) -> Path | None:
        """Like :meth:`path`, ``None`` when neither this profile nor a base has the file."""
        try:
            return self.path(key)
        except ProfileError:
            return None

    @property
    def dialect(self) -> dict[str, Any]:
        """``[dialect]`` of the manifest (what this overlay changes and on what evidence); empty for a base."""
        dialect: dict[str, Any] = self.manifest.get("dialect", {})
        return dialect

    @cached_property
    def fingerprint(self) -> str:
        """Hex SHA-256 over the manifests and data files of this profile and its bases (cache keys)."""
        import hashlib

        h = hashlib.sha256()
        q: Profile | None = self
        while q is not None:
            h.update(str(q.name).encode() + b"\0" + (q.root / "profile.toml").read_bytes())
            for key, fname in sorted(q.manifest.get("files", {}).items()):
                f = q.root / fname
                if f.is_file():
                    h.update(key.encode() + b"\0" + f.read_bytes())
            q = q.base
        return h.hexdigest()

    @property
    def lineage(self) -> list[str]:
        """Names of this profile and its bases, this one first."""
        out: list[str] = []
        p: Profile | None = self
        while p is not None:
            out.append(f"{p.name}@{p.version}")
            p = p.base
        return out

    # -- parts -------------------------------------------------------------
    @cached_property
    def regions(self) -> RegionTable:
        from .regions import RegionTable

        return RegionTable.from_csv(self.path("regions"))

    @cached_property
    def commodities(self) -> CommodityTable:
        from .commodities import CommodityTable

        return CommodityTable.from_csv(self.path("commodities"))

    @cached_property
    def codes(self) -> CodeBook:
        from .codes import CodeBook

        return CodeBook(self.regions, self.data("codes"), self.commodities)

    @cached_property
    def identifiers(self) -> Identifiers:
        from .identifiers import Identifiers

        return Identifiers(self.regions, self.data("identifiers"))

    @cached_property
    def records(self) -> RecordCatalog:
        from .records import RecordCatalog

        return RecordCatalog(self)

    @cached_property
    def envelope(self) -> EnvelopeSpec:
        from .envelope import EnvelopeSpec

        return EnvelopeSpec(self)

    @cached_property
    def problems(self) -> ProblemRules:
        """Problem discovery rules (``problems.toml``: :mod:`profiles.problems`)."""
        from .problems import ProblemRules, ProblemRulesError

        try:
            return ProblemRules.from_data(self.data("problems"))
        except ProblemRulesError as exc:
            raise ProfileError(f"{self.path('problems')}: {exc}") from None

    @cached_property
    def requirements(self) -> RequirementCatalog:
        from .requirements import RequirementCatalog

        return RequirementCatalog.from_data(self.data("requirements"))


def _resolve(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        return p.resolve()
    cand = PROFILES_DIR / name_or_path
    if cand.is_dir() and (cand / "profile.toml").is_file():
        return cand
    raise ProfileError(f"unknown profile {name_or_path!r}; known: {', '.join(available_profiles())}")


#: environment variable naming the profile of this process and its children (set by ``roucai --profile``)
ENV_PROFILE = "ROUCAI_PROFILE"


def default_profile_name() -> str:
    """The profile ``load_profile()`` gives without a name: ``$ROUCAI_PROFILE``, else ``reference``."""
    return os.environ.get(ENV_PROFILE) or "reference"


def load_profile(name_or_path: str | None = None) -> Profile:
    """Load a profile by name (a folder under ``profiles/``) or by path; ``None``: :func:`default_profile_name`.

    Loaded once per name and process (later calls return the same object)."""
    return _load(name_or_path or default_profile_name())


@contextmanager
def profile_in_use(name_or_path: str | None) -> Iterator[Profile | None]:
    """Make ``name_or_path`` the default profile of this process (and of processes it starts) for the block.

    The CLI wraps every command in it, so ``--profile`` reaches every part a command runs: the
    platform it starts, the conformance suites, the load test's workers.  Raises :class:`ProfileError`
    for an unknown profile before changing anything."""
    if not name_or_path:
        yield None
        return
    prof = load_profile(name_or_path)
    old = os.environ.get(ENV_PROFILE)
    os.environ[ENV_PROFILE] = str(prof.root) if Path(name_or_path).is_dir() else name_or_path
    try:
        yield prof
    finally:
        if old is None:
            os.environ.pop(ENV_PROFILE, None)
        else:
            os.environ[ENV_PROFILE] = old


@lru_cache(maxsize=None)
def _load(name_or_path: str) -> Profile:
    root = _resolve(name_or_path)
    manifest = tomllib.loads((root / "profile.toml").read_text("utf-8")) if (root / "profile.toml").is_file() else {}
    base_name = manifest.get("extends")
    base = _load(base_name) if base_name else None
    return Profile(root, base)


def available_profiles() -> list[str]:
    return sorted(p.name for p in PROFILES_DIR.iterdir() if (p / "profile.toml").is_file())
