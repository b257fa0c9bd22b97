"""The profile a command works with (``--profile``, default ``$ROUCAI_PROFILE`` or ``reference``)."""

from profiles import load_profile


def profile_of(args):
    return load_profile(getattr(args, "profile", None))
