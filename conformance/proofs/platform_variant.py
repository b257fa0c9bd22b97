"""Serve the reference platform with one fault of :mod:`.platform_faults` installed (conformance proofs only).

``python -m conformance.proofs.platform_variant NAME [OPTIONS]`` builds the platform's services from OPTIONS
(the subset of ``roucai serve platform`` the harness passes: ``--db --port --host --secret-file --role
--upstream --platform-id --upstream-key-file --feed-interval --max-body --stop-ack-deadline --offline-after
--tls-self-signed --tls-cert --tls-key --log-level``; the profile is ``ROUCAI_PROFILE``'s, as for the CLI),
installs fault NAME through the platform's public seams, and serves it like ``roucai serve platform``: JSON
log lines on stderr, the first a ``broken_variant`` warning, then ``listening`` with the real port; SIGTERM or
SIGINT stops it gracefully.  ``--list`` prints the fault names, one a line.

:func:`command` is the argv prefix a harness passes as ``PlatformProcess(command=…)`` (``builtin?variant=NAME``
targets).  Exit 3 when stopped by SIGINT/SIGTERM or when the server cannot start, 2 for a usage error (unknown
fault or option, bad configuration: one line on stderr, Chinese, English with ``--lang en``), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from profiles.errors import RoucaiError
from profiles.profile import default_profile_name
from simulators.platform import logs
from simulators.platform.config import PlatformConfig
from simulators.tls import self_signed

from . import platform_faults

MODULE = "conformance.proofs.platform_variant"


def command(name: str) -> list[str]:
    """The argv prefix that runs this launcher with fault ``name`` (``--db DB --port 0 …`` follow)."""
    return [sys.executable, "-m", MODULE, name]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    ap.add_argument("name", nargs="?", help="a fault of conformance/proofs/platform_faults.py")
    ap.add_argument("--list", action="store_true", help="print the fault names and exit")
    ap.add_argument("--lang", choices=["zh", "en"], default="zh")
    ap.add_argument("--db", default="platform.db")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--secret-file")
    ap.add_argument("--role", choices=["city", "central"], default="city")
    ap.add_argument("--upstream")
    ap.add_argument("--platform-id")
    ap.add_argument("--upstream-key-file")
    ap.add_argument("--feed-interval", dest="feed_interval_s", type=float, default=60.0)
    ap.add_argument("--max-body", type=int, default=8 * 1024 * 1024)
    ap.add_argument("--stop-ack-deadline", dest="stop_ack_deadline_s", type=float, default=600.0)
    ap.add_argument("--offline-after", dest="offline_after_s", type=int)
    ap.add_argument("--tls-self-signed", metavar="DIR")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return ap


class _Usage(RoucaiError):
    exit_code = 2


#: options whose value is the configuration field of the same name
_SAME_NAME = (
    "host", "port", "db", "role", "upstream", "platform_id", "secret_file", "max_body", "feed_interval_s",
    "log_level", "stop_ack_deadline_s", "offline_after_s",
)  # fmt: skip


def config_of(args: argparse.Namespace) -> PlatformConfig:
    """The platform configuration ``roucai serve platform`` would build from the same options."""
    key = None
    if args.upstream_key_file:
        try:
            with open(args.upstream_key_file, encoding="utf-8") as fh:
                key = fh.read().strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise _Usage(f"无法读取上级平台密钥文件：{exc}", f"cannot read the upstream key file: {exc}") from None
    cert, tls_key = args.tls_cert, args.tls_key
    if args.tls_self_signed:
        cert, tls_key = (str(p) for p in self_signed(args.tls_self_signed))
    cfg = PlatformConfig(
        **{f: getattr(args, f) for f in _SAME_NAME},
        upstream_key=key,
        profile=default_profile_name(),
        tls_cert=cert,
        tls_key=tls_key,
    )
    cfg.extra["serving"] = True
    return cfg


def main(argv: list[str] | None = None) -> int:
    args, unknown = _parser().parse_known_args(argv)
    if args.list:
        print("\n".join(platform_faults.names()))
        return 0
    # heavy (FastAPI, uvicorn): only when serving; the harness imports this module for command() alone
    from simulators.platform.app import build_services, create_app
    from simulators.platform.server import serve

    try:
        if unknown or not args.name:
            raise _Usage(
                f"用法：python -m {MODULE} 缺陷名 [选项]；未知参数：{' '.join(unknown) or '（缺少缺陷名）'}",
                f"usage: python -m {MODULE} NAME [OPTIONS]; not understood: {' '.join(unknown) or '(no fault name)'}",
            )
        platform_faults.check(args.name)
        cfg = config_of(args)
        logs.setup(cfg.log_level)
        svc = build_services(cfg)
        platform_faults.install_services(args.name, svc)
        app = create_app(cfg, svc)
        platform_faults.install_app(args.name, app)
    except RoucaiError as exc:
        print(f"error: {exc.en}" if args.lang == "en" else f"错误：{exc.zh}", file=sys.stderr)
        return 2 if exc.exit_code in (0, 1) else exc.exit_code
    return serve(cfg, app)


if __name__ == "__main__":
    sys.exit(main())
