"""``roucai docs profile``: the profile as Markdown (zh and en), rendered from its data.

* ``roucai docs profile`` prints the document in the ``--lang`` language;
* ``roucai docs profile --out DIR`` writes ``DIR/profile.zh.md`` and
  ``DIR/profile.en.md`` (the repository keeps them in ``docs/``);
* ``roucai docs profile --check DIR`` writes nothing and exits 1 if either
  file in DIR is missing or differs from a fresh render (for CI).

JSON output (``--json``, with ``--out`` or ``--check``; stable)::

    {"profile": "reference@1.0.0", "written": [PATH, ...]}          # --out
    {"profile": "reference@1.0.0", "ok": bool, "stale": [PATH, ...]}  # --check

Exit codes: 0 done / up to date, 1 stale (``--check``), 2 usage error (e.g.
``--out`` names a file, or both ``--out`` and ``--check``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from profiles.render import render_profile, stale_docs, write_docs

from ..console import EXIT_NONCONFORMANT, EXIT_OK, UsageError
from ._profile import profile_of


def register(sub, common):
    p = sub.add_parser("docs", parents=[common], help="render documentation from data / 由数据生成文档")
    s = p.add_subparsers(dest="docs_cmd", metavar="profile")
    pr = s.add_parser("profile", parents=[common], help="the profile as Markdown / 配置文档")
    pr.add_argument("--out", metavar="DIR", help="write profile.zh.md and profile.en.md into DIR")
    pr.add_argument("--check", metavar="DIR", help="exit 1 if the docs in DIR are missing or stale")
    pr.set_defaults(func=run_profile)
    p.set_defaults(func=lambda a, c: (p.print_help(), 2)[1])


def _dir(arg: str) -> Path:
    path = Path(arg)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{arg} 不是目录", f"{arg} is not a directory")
    return path


def run_profile(args, con) -> int:
    prof = profile_of(args)
    if args.out and args.check:
        raise UsageError("--out 与 --check 不能同时使用", "--out and --check cannot be used together")
    if args.check:
        stale = stale_docs(prof, _dir(args.check))
        if con.as_json:
            con.json({"profile": prof.lineage[0], "ok": not stale, "stale": [str(s) for s in stale]})
        elif stale:
            for s in stale:
                con.say(f"需要重新生成：{s}", f"stale: {s}")
            con.say("运行 roucai docs profile --out " + args.check, "run roucai docs profile --out " + args.check)
        else:
            con.say("文档是最新的", "docs are up to date")
        return EXIT_NONCONFORMANT if stale else EXIT_OK
    if args.out:
        try:
            written = write_docs(prof, _dir(args.out))
        except OSError as exc:
            raise UsageError(f"无法写入 {args.out}：{exc.strerror}", f"cannot write {args.out}: {exc.strerror}")
        if con.as_json:
            con.json({"profile": prof.lineage[0], "written": [str(w) for w in written]})
        else:
            for w in written:
                con.say(f"已写入 {w}", f"wrote {w}")
        return EXIT_OK
    sys.stdout.write(render_profile(prof, con.lang))
    return EXIT_OK
