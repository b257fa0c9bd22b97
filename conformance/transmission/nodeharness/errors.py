"""The harness's own failure: set-up that could not happen through no fault of the target."""

from __future__ import annotations

from profiles.errors import RoucaiError


class HarnessError(RoucaiError):
    """The harness itself could not set up (not the target's fault): verdict error."""

    exit_code = 3
