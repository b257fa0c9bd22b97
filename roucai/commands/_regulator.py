"""``--regulator ID --key-file FILE``: the credentials of commands that act as a regulator on a platform.

Used by ``roucai truth problems`` (signed detection) and ``roucai report districts`` (the regulator's read
endpoints need them).  The key is read from ``--key-file`` (the key ``roucai serve admin register-regulator``
printed), else from env ``ROUCAI_REGULATOR_KEY``; it never travels on the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..console import UsageError

ENV = "ROUCAI_REGULATOR_KEY"


def add_arguments(parser, regulator_help: str) -> None:
    parser.add_argument("--regulator", metavar="ID", help=regulator_help)
    parser.add_argument("--key-file", metavar="FILE", help=f"the regulator's key (or env {ENV})")


def key_of(args) -> str | None:
    """The regulator's key, ``None`` without ``--regulator``; a :class:`UsageError` (exit 2) if it cannot be read."""
    if not args.regulator:
        return None
    if not (len(args.regulator) == 6 and args.regulator.isascii() and args.regulator.isdigit()):
        raise UsageError(
            f"--regulator 应为6位行政区划代码：{args.regulator[:20]!r}",
            f"--regulator is a 6-digit region code: {args.regulator[:20]!r}",
        )
    if args.key_file:
        try:
            return Path(args.key_file).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"无法读取监管部门密钥文件 {args.key_file}：{exc}",
                f"cannot read the regulator key file {args.key_file}: {exc}",
            ) from None
    key = os.environ.get(ENV)
    if not key:
        raise UsageError(
            f"--regulator 需要 --key-file 或环境变量 {ENV}",
            f"--regulator needs --key-file or env {ENV}",
        )
    return key
