"""The profile a command works with (``--profile``, default ``reference``)."""
from profiles import load_profile


def profile_of(args):
    return load_profile(getattr(args, "profile", "reference"))
