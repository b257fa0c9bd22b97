"""People and company names from Faker ``zh_CN``, seeded per instance.

Only names, company brand words, phone numbers and resident ids come from
Faker; never its plates or addresses (toolchain.md §1: hyphenated plates with
I/O, incoherent addresses).  Faker's ``ssn()`` computes the birth date from
``date.today()``, which would make the output depend on the day it runs, so
:meth:`People.resident_id` keeps Faker's region and sequence digits but sets a
birth date drawn from the city's own ``random.Random`` relative to the preset's
reference date, and recomputes the GB 11643 check character.
"""

from __future__ import annotations

import datetime as dt
import random

from faker import Faker

#: Faker's version is part of the output's identity: a new Faker may change names.
FAKER_VERSION = __import__("faker").VERSION


class People:
    """Seeded source of names, brands, phones and resident ids.

    :param seed: Faker's instance seed.
    :param rng: the generator's stream for what Faker does not draw (ages).
    :param reference_date: birth dates are counted back from this date.
    :param check_char: ``first17 -> check character`` (the profile's GB 11643 rule).
    """

    def __init__(self, seed: int, rng: random.Random, reference_date: dt.date, check_char):
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.rng = rng
        self.reference_date = reference_date
        self._check = check_char
        self._ids: set[str] = set()

    def name(self) -> str:
        return self.fake.name()

    def phone(self) -> str:
        return self.fake.phone_number()

    def brand(self) -> str:
        """A 2-character trade-name word (Faker's company prefix, e.g. 维涛)."""
        return self.fake.company_prefix()

    def resident_id(self, min_age: int = 20, max_age: int = 65) -> str:
        """A valid, unique 18-character resident id of an adult aged ``min_age``..``max_age``."""
        while True:
            base = self.fake.ssn()
            age_days = self.rng.randint(min_age * 365 + 1, max_age * 365)
            birth = self.reference_date - dt.timedelta(days=age_days)
            first17 = base[:6] + birth.strftime("%Y%m%d") + base[14:17]
            rid = first17 + self._check(first17)
            if rid not in self._ids:
                self._ids.add(rid)
                return rid
