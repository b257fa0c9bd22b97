"""roucai: the command line and the pytest plugin of roucai-harness (the top of the house)."""

__version__ = "0.1.0"
