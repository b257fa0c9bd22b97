"""A test that cannot judge its requirement in this run: the verdict is *not applicable*, with a reason in
both languages, never a fail or an error.

A test raises :class:`NotJudgeable` when the run makes its probe impossible, e.g. its set-up needs the
platform to refuse a forged request and the platform verifies no VerifyCode (conformance/recipe.py).  The
plugin reports it like a capability that is not declared (``NA_PREFIX``), with ``zh``/``en`` as the reason.
"""

from __future__ import annotations

import pytest

#: the skip reasons the plugin reports as *not applicable*
NA_PREFIX = "roucai-not-applicable: "


class NotJudgeable(pytest.skip.Exception):
    """The requirement cannot be judged in this run; ``zh``/``en`` say why."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(msg=NA_PREFIX + en, allow_module_level=False)
