"""The profile's commodity table (商品编码).

No official 8-digit GB/T 7635.1 codes for meat and vegetables could be found
(refdata.md §2.2), so the reference profile's table is its own, laid out in
GB/T 7635.1 style (8 digits) with the prefixes seen in deployed systems:
meat under ``2111…`` (``21111`` pork, ``21112`` beef, ``21113`` mutton,
``21114`` poultry, ``21115`` offal, ``21116`` other), vegetables under
``012GG…`` with groups after NY/T 3177's vegetable classes.

Prices are retail yuan/kg bands; ``source`` says where each band comes from
(refdata.md §4) or that it is a profile estimate.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True, slots=True)
class Commodity:
    code: str
    name_zh: str
    name_en: str
    kind: str  #: "meat" or "vegetable"
    category: str  #: zh category, e.g. 羊肉, 叶菜类
    unit: str  #: "kg"
    price_low: float  #: retail yuan per unit, low end of the band
    price_high: float  #: retail yuan per unit, high end of the band
    source: str

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh


class CommodityTable:
    """Lookup by code; iteration in code order."""

    def __init__(self, items: list[Commodity]):
        self._by_code = {c.code: c for c in items}
        if len(self._by_code) != len(items):
            raise ValueError("duplicate commodity codes")
        for c in items:
            if c.kind not in ("meat", "vegetable") or not (0 < c.price_low <= c.price_high):
                raise ValueError(f"bad commodity row {c.code}")

    @classmethod
    def from_csv(cls, path: Path) -> "CommodityTable":
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return cls(
            [
                Commodity(
                    r["code"],
                    r["name_zh"],
                    r["name_en"],
                    r["kind"],
                    r["category"],
                    r["unit"],
                    float(r["price_low"]),
                    float(r["price_high"]),
                    r["source"],
                )
                for r in rows
            ]
        )

    def __contains__(self, code: str) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> Commodity:
        return self._by_code[code]

    def __iter__(self) -> Iterator[Commodity]:
        return iter(sorted(self._by_code.values(), key=lambda c: c.code))

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Commodity | None:
        return self._by_code.get(code)

    def of_kind(self, kind: str) -> list[Commodity]:
        return [c for c in self if c.kind == kind]

    def by_name(self, name_zh: str) -> Commodity | None:
        return next((c for c in self if c.name_zh == name_zh), None)
