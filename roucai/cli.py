"""``roucai``: one console script, one module per subcommand in ``roucai.commands``.

A subcommand module defines ``register(subparsers, common)``, which adds its
parser (with ``parents=[common]`` so ``--lang``/``--json`` work after the
subcommand too) and sets ``func=handler``; the handler takes
``(args, console)`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import traceback

from profiles.errors import RoucaiError

from . import __version__
from .console import EXIT_HARNESS, EXIT_USAGE, Console

#: Subcommands in the order ``--help`` lists them (stable contract, DESIGN.md).
COMMANDS = [
    "codes",
    "records",
    "requirements",
    "fixtures",
    "device",
    "simulate",
    "truth",
    "serve",
    "certify",
    "load",
    "report",
    "docs",
    "profile",
]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--lang", choices=["zh", "en"], default=argparse.SUPPRESS, help="output language (default zh) / 输出语言"
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output / JSON 输出"
    )
    common.add_argument(
        "--profile", default=argparse.SUPPRESS, help="profile name or folder (default: reference) / 配置"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="roucai",
        parents=[common],
        description="roucai-harness: 肉菜追溯 simulator and conformance harness / 肉菜追溯仿真与一致性测试工具",
    )
    parser.add_argument("--version", action="version", version=f"roucai-harness {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of harness errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        modname = f"roucai.commands.{name}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lang = getattr(args, "lang", "zh")
    console = Console(lang=lang, as_json=getattr(args, "json", False))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from profiles import ProfileError
    from profiles.profile import profile_in_use

    try:
        with profile_in_use(getattr(args, "profile", None)):
            return int(args.func(args, console))
    except ProfileError as exc:  # a RoucaiError too, said with its own prefix
        console.err(f"配置错误：{exc.zh}", f"profile error: {exc.en}")
        return exc.exit_code
    except RoucaiError as exc:  # every domain error: one line in the run's language, its exit code
        console.err(f"错误：{exc.zh}", f"error: {exc.en}")
        return exc.exit_code
    except KeyboardInterrupt:
        console.err("已中断", "interrupted")
        return EXIT_HARNESS
    except BrokenPipeError:
        return EXIT_HARNESS
    except Exception as exc:  # a harness bug, not a user mistake
        if getattr(args, "debug", False):
            traceback.print_exc()
        console.err(
            f"内部错误（harness error）：{type(exc).__name__}: {exc}（加 --debug 查看详情）",
            f"harness error: {type(exc).__name__}: {exc} (use --debug for details)",
        )
        return EXIT_HARNESS


if __name__ == "__main__":
    sys.exit(main())
