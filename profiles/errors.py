"""The one base of the project's user-facing errors: :class:`RoucaiError`.

Contract: every error a person can cause or meet (bad option, bad file, unreachable target…)
derives from :class:`RoucaiError` and carries its message in Chinese (``zh``) and English
(``en``) and the exit code the CLI returns for it (``exit_code``: 1 non-conformant input,
2 usage or configuration — the default —, 3 unreachable or harness).  ``roucai`` catches it in
one place and prints ``zh`` (``en`` with ``--lang en``).  ``str(exc)`` is ``en``.

``profiles`` is the lowest layer, so every layer can import this module; it imports nothing.
"""

from __future__ import annotations


class RoucaiError(Exception):
    """A bilingual error with an exit code.  ``en`` defaults to ``zh`` (a message not yet translated);
    ``exit_code`` defaults to the class attribute (2 here; a subclass may set another)."""

    exit_code: int = 2

    def __init__(self, zh: str, en: str | None = None, exit_code: int | None = None):
        self.zh = zh
        self.en = zh if en is None else en
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(self.en)

    def __str__(self) -> str:
        return self.en
