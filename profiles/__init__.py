"""The standards as data, and the small code that interprets them.

``profiles`` imports nothing else of this project.  Start with
:func:`load_profile`::

    from profiles import load_profile
    p = load_profile()                     # the reference profile
    p.codes.check("65010200100010000001")  # -> Report
"""

from .findings import Finding, Report
from .profile import Profile, ProfileError, available_profiles, load_profile

__all__ = ["Finding", "Report", "Profile", "ProfileError", "available_profiles", "load_profile"]
