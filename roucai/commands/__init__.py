"""One module per ``roucai`` subcommand; each defines ``register(subparsers, common)``."""
