"""The one error the market model raises for a bad configuration."""
from __future__ import annotations


class MarketConfigError(ValueError):
    """An impossible or malformed configuration, found before the run starts.

    Carries the message in Chinese and English (the CLI turns it into exit 2).
    """

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(en)
