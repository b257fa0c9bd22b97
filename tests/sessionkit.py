"""What a module-scoped fixture may ask of the whole pytest session."""

from __future__ import annotations


def items_of_module(request) -> list:
    """The collected items of the requesting test's module (the fixtures that run one expensive job per
    selected parameter use it).  Items that are not Python functions (README.md and docs/ examples,
    collected by sybil) have no ``module``: they are never the requesting module's."""
    return [it for it in request.session.items if getattr(it, "module", None) is request.module]
