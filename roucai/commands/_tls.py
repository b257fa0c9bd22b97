"""``--ca FILE`` / ``--insecure``: the trust of commands that talk to https:// targets (certify, load, simulate --to)."""

from __future__ import annotations

from contextlib import contextmanager

from ..console import UsageError


def add_arguments(parser) -> None:
    from simulators.tls import add_client_arguments

    add_client_arguments(parser)


@contextmanager
def trust_of(args):
    """The block runs with the trust ``args`` ask for (see :func:`simulators.tls.client_trust`); a bad
    ``--ca`` or both options at once is a :class:`UsageError` (exit 2)."""
    from simulators.tls import TlsError, client_trust

    cm = client_trust(getattr(args, "ca", None), bool(getattr(args, "insecure", False)))
    try:
        cm.__enter__()
    except TlsError as exc:  # a UsageError on purpose: certify's run() reports UsageError itself
        raise UsageError(exc.zh, exc.en) from None
    try:
        yield
    finally:
        cm.__exit__(None, None, None)
