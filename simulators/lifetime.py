"""Child processes of the harness die with it.

:func:`die_with_parent` is a ``preexec_fn`` for :class:`subprocess.Popen`: on Linux it asks the kernel
(``PR_SET_PDEATHSIG``) to send the child SIGTERM when the process that started it dies, so a test run
killed by a timeout or Ctrl-C leaves no platform, node or device process behind.  Elsewhere it does nothing.
"""

from __future__ import annotations

import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
