"""Farming-side identifiers of the city's origins (源头衔接): farms' ear-tag ranges, production bases' ids.

Ear tags (identifiers.toml ``[ear_tag]``: species digit + county GB/T 2260 code + 8-digit serial).  Each
livestock farm owns a block of :data:`BLOCK` serials under its county: the k-th farm of a county (the city's
livestock origins in id order) owns serials ``k*BLOCK + 1 .. (k+1)*BLOCK``, so two farms never share a tag.
A lot of ``n`` animals of one species takes the next ``n`` serials of its farm's block for that species
(consecutive tags, first and last on the intake record); the first serial a farm hands out is a seeded
offset into its block (tags issued before the run).  Poultry carry no 畜禽标识 ear tag (the regulation
codes pig, cattle and sheep only): :meth:`SourceBook.ear_tags` answers ``None`` for them.

Production bases (identifiers.toml ``[base_id]``, the profile's format): a base's id is its county code +
its rank among the county's vegetable bases (1, 2, …), in id order.

Deterministic for a city and seed; running out of a block raises :class:`MarketConfigError`.
"""

from __future__ import annotations

import random

from .errors import MarketConfigError

#: serials per farm and species
BLOCK = 1_000_000
LIVESTOCK = ("pig_farm", "cattle_sheep_farm")


class SourceBook:
    """Ear-tag ranges and base ids of ``origins`` (the city's :class:`~simulators.city.model.Origin` list)."""

    def __init__(self, origins, identifiers, seed: int):
        self.ids = identifiers
        self._block: dict[str, int] = {}
        self._base: dict[str, str] = {}
        self._next: dict[tuple[str, str], int] = {}
        self._seed = seed
        farms: dict[str, int] = {}
        bases: dict[str, int] = {}
        for o in sorted(origins, key=lambda o: o.id):
            if o.type in LIVESTOCK:
                k = farms.get(o.region_code, 0)
                farms[o.region_code] = k + 1
                if (k + 1) * BLOCK >= 10**8:
                    raise MarketConfigError(
                        f"县 {o.region_code} 的养殖场过多，耳标号段不足",
                        f"county {o.region_code} has too many farms for distinct ear-tag blocks",
                    )
                self._block[o.id] = k * BLOCK
            elif o.type == "vegetable_base":
                k = bases.get(o.region_code, 0) + 1
                bases[o.region_code] = k
                self._base[o.id] = identifiers.new_base_id(o.region_code, k)

    def ear_tags(self, farm, species: str, heads: int) -> tuple[str, str] | None:
        """First and last tag of the next ``heads`` animals of ``species`` from ``farm`` (``None``: no tags)."""
        if farm.id not in self._block or species not in ("pig", "cattle", "sheep") or heads < 1:
            return None
        key = (farm.id, species)
        first = self._next.get(key)
        if first is None:
            first = 1 + random.Random(f"{self._seed}:eartags:{farm.id}:{species}").randrange(BLOCK // 2)
        last = first + heads - 1
        if last > BLOCK:
            raise MarketConfigError(f"养殖场 {farm.name} 的耳标号段已用完", f"farm {farm.id} ran out of ear tags")
        self._next[key] = last + 1
        base = self._block[farm.id]
        return (
            self.ids.new_ear_tag(species, farm.region_code, base + first),
            self.ids.new_ear_tag(species, farm.region_code, base + last),
        )

    def base_id(self, base) -> str | None:
        """The production base id of a vegetable base (``None`` for any other origin)."""
        return self._base.get(base.id)
