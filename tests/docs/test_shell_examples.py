"""The doc-example runner itself: how a block becomes commands, and that a wrong exit code fails."""

from __future__ import annotations

import pytest

from tests.docs.shell_examples import Command, DocRun, commands


def test_blocks_become_commands_with_their_documented_exit_codes():
    block = (
        "# a comment line\n"
        "roucai codes check 650102001            # valid\n"
        "\n"
        "roucai codes check 65010200X --lang en  # bad digit → exit 1\n"
        "roucai certify --suite coding \\\n"
        "  --seed 7   # two lines, exit 0\n"
        "roucai records validate 'a # b.xml'   # a quoted # is not a comment\n"
        "roucai docs profile --check docs   # exit 1 if the docs drifted (a condition, not the outcome)\n"
        "roucai certify --target http://127.0.0.1:1   # exit 3: one line\n"
        "roucai codes check 21113011 --kind commodity   # a warning (exit 0)\n"
    )
    assert commands(block, 10) == [
        Command("roucai codes check 650102001", 0, 11),
        Command("roucai codes check 65010200X --lang en", 1, 13),
        Command("roucai certify --suite coding    --seed 7", 0, 14),
        Command("roucai records validate 'a # b.xml'", 0, 16),
        Command("roucai docs profile --check docs", 0, 17),
        Command("roucai certify --target http://127.0.0.1:1", 3, 18),
        Command("roucai codes check 21113011 --kind commodity", 0, 19),
    ]


def test_a_line_that_exits_otherwise_than_documented_fails(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- example-skip: needs-hardware | a COM port -->\n", "utf-8")
    run = DocRun(doc, tmp_path, [("needs-hardware", "a COM port")])
    run.run(Command("exit 0", 0, 1))
    run.run(Command("exit 1", 1, 2))
    run.run(Command("echo needs-hardware; exit 9", 0, 3))  # skipped, with its reason
    assert run.ran == 2 and run.skipped == ["doc.md:3 echo needs-hardware; exit 9 — a COM port"]
    with pytest.raises(AssertionError, match=r"doc.md:4: `false` exited 1, the document says 0"):
        run.run(Command("false", 0, 4))
