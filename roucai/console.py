"""Output for people (zh by default, en with ``--lang en``) and for machines (``--json``).

Exit codes used everywhere (see README): 0 ok / conformant, 1 non-conformant
input or target, 2 usage or configuration error, 3 harness error or timeout.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from profiles.errors import RoucaiError

EXIT_OK, EXIT_NONCONFORMANT, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3


class UsageError(RoucaiError):
    """A user mistake (bad option, missing file…): reported in both languages, exit 2."""


class Console:
    def __init__(self, lang: str = "zh", as_json: bool = False, stream=None):
        self.lang = lang
        self.as_json = as_json
        self.stream = stream or sys.stdout

    def t(self, zh: str, en: str) -> str:
        return en if self.lang == "en" else zh

    def say(self, zh: str, en: str | None = None) -> None:
        if not self.as_json:
            print(zh if en is None else self.t(zh, en), file=self.stream)

    def json(self, obj: Any) -> None:
        print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False), file=self.stream)

    def err(self, zh: str, en: str) -> None:
        print(self.t(zh, en), file=sys.stderr)
