"""The VerifyCode recipe, declared by a profile (``envelope.toml`` ``[verify_code]``) or a target.

The real VerifyCode algorithm of the deployed systems is not known
(standards.md §4.3, §8(b) item 3), so the recipe is data, never assumed:

``algorithm``
    ``hmac-md5`` (the reference profile's own recipe, evidence ``profile``),
    ``hmac-sha256``, ``md5``, ``sha256`` (plain digests: the key is one of the
    ``inputs``), ``unknown`` (the city's recipe is not known: a VerifyCode can
    be checked for its form only, never verified) or ``none`` (the target
    declares no message authentication at all; targets only).
``inputs``
    the values hashed, in order, joined by ``separator``: any of ``NodeId``,
    ``RequestTime``, ``Index``, ``Count``, ``DataDate`` (exactly as
    transmitted), ``PayloadDigest`` (hex digest of the canonical payload, see
    :func:`profiles.envelope.payload_digest`) and, for plain digests only,
    ``Key`` (the node's secret).  Default: the reference order
    (``message = "NodeId|RequestTime|…"`` is read too).
``hex_length``
    characters of the transmitted VerifyCode (32 for MD5, 64 for SHA-256;
    a recipe may declare 32 for a truncated SHA-256).

Contract: :meth:`Recipe.compute` returns lowercase hex or raises
:class:`RecipeUnavailable` when the recipe cannot produce a code
(``unknown``/``none``); :meth:`Recipe.from_data` raises ``ValueError`` for a
malformed declaration (the profile loader turns it into a ProfileError).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

ALGORITHMS = ("hmac-md5", "hmac-sha256", "md5", "sha256", "unknown", "none")
INPUTS = ("NodeId", "RequestTime", "Index", "Count", "DataDate", "PayloadDigest", "Key")
DEFAULT_INPUTS = ("NodeId", "RequestTime", "Index", "Count", "DataDate", "PayloadDigest")
_HASH = {"md5": hashlib.md5, "sha256": hashlib.sha256}
#: aliases accepted in declarations (``ours`` = the reference profile's recipe)
_ALIASES = {"ours": "hmac-md5", "hmac_md5": "hmac-md5", "hmac_sha256": "hmac-sha256", "sha-256": "sha256"}


class RecipeUnavailable(Exception):
    """The declared recipe cannot compute a VerifyCode (``unknown`` or ``none``)."""


@dataclass(frozen=True, slots=True)
class Recipe:
    """One declared VerifyCode recipe (see the module docstring)."""

    algorithm: str = "hmac-md5"
    inputs: tuple[str, ...] = DEFAULT_INPUTS
    separator: str = "|"
    hex_length: int = 32
    evidence: str = "profile"
    source: str = ""

    @classmethod
    def from_data(cls, d: dict[str, Any] | str | None) -> "Recipe":
        """A recipe from a ``[verify_code]`` table, or from a bare algorithm name."""
        if d is None:
            return cls()
        if isinstance(d, str):
            d = {"algorithm": d}
        algo = _ALIASES.get(str(d.get("algorithm", "hmac-md5")).lower(), str(d.get("algorithm", "hmac-md5")).lower())
        if algo not in ALGORITHMS:
            raise ValueError(f"verify_code algorithm {algo!r}: one of {', '.join(ALGORITHMS)}")
        if "inputs" in d:
            inputs = tuple(d["inputs"])
        elif "message" in d:
            inputs = tuple(str(d["message"]).split(d.get("separator", "|")))
        else:
            inputs = DEFAULT_INPUTS
        bad = [i for i in inputs if i not in INPUTS]
        if bad:
            raise ValueError(f"verify_code inputs {bad}: each one of {', '.join(INPUTS)}")
        if algo.startswith("hmac") and "Key" in inputs:
            raise ValueError("verify_code: an HMAC is keyed; 'Key' is not one of its inputs")
        if algo in ("md5", "sha256") and "Key" not in inputs:
            raise ValueError(f"verify_code: a plain {algo} needs 'Key' among its inputs (else anyone can forge it)")
        full = 32 if algo.endswith("md5") else 64
        hex_length = int(d.get("hex_length", full if algo not in ("unknown", "none") else 32))
        if algo not in ("unknown", "none") and not 16 <= hex_length <= full:
            raise ValueError(f"verify_code hex_length {hex_length}: 16..{full} for {algo}")
        return cls(
            algo,
            inputs,
            str(d.get("separator", "|")),
            hex_length,
            str(d.get("evidence", "profile")),
            str(d.get("source", "")),
        )

    @property
    def verifiable(self) -> bool:
        """True if a receiver holding the key can verify a code made with this recipe."""
        return self.algorithm not in ("unknown", "none")

    def describe(self, lang: str = "zh") -> str:
        """One line for docs and reports."""
        if self.algorithm == "unknown":
            return "未知（无法校验 VerifyCode）" if lang == "zh" else "unknown (VerifyCode cannot be verified)"
        if self.algorithm == "none":
            return "无报文认证" if lang == "zh" else "no message authentication"
        over = self.separator.join(self.inputs)
        return f"{self.algorithm.upper()}({over}), {self.hex_length} hex"

    def compute(self, key: str | bytes, values: dict[str, str]) -> str:
        """Lowercase hex VerifyCode over ``values`` (header values by name and ``PayloadDigest``)."""
        if not self.verifiable:
            raise RecipeUnavailable(self.algorithm)
        kb = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        parts = [kb if i == "Key" else str(values[i]).encode("utf-8", "surrogatepass") for i in self.inputs]
        msg = self.separator.encode("utf-8").join(parts)
        name = self.algorithm.removeprefix("hmac-")
        if self.algorithm.startswith("hmac-"):
            out = hmac.new(kb, msg, _HASH[name]).hexdigest()
        else:
            out = _HASH[name](msg).hexdigest()
        return out[: self.hex_length]
