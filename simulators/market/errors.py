"""The one error the market model raises for a bad configuration."""

from __future__ import annotations

from profiles.errors import RoucaiError


class MarketConfigError(RoucaiError, ValueError):
    """An impossible or malformed configuration, found before the run starts.

    Carries the message in Chinese and English (the CLI turns it into exit 2).
    """
