"""Every shell example in README.md and docs/*.md runs, with its documented exit code.

Sybil (a well-kept documentation-testing library) finds the fenced ``bash`` blocks and
gives each document a setup and a teardown; this module evaluates a block line by line:

* every document runs in its own scratch folder (``conformance/``, ``profiles/`` and
  ``scripts/`` linked in, ``docs/`` and ``fixtures/`` copied), so examples may use what
  earlier ones wrote (``tiny.json`` → ``city.db`` → ``keys.json``) and nothing is written
  into the repository;
* a line expects exit 0, or N when its comment says so: ``exit N`` at its start, ``→ exit N``,
  ``: exit N`` or ``(exit N)`` (a condition such as ``exit 1 if …`` is not an outcome);
* a server (``roucai serve platform|node|proxy`` and ``roucai device scale|reader|relay``)
  starts in the background and is waited for (its health endpoint, its TCP port, or its
  first output line, bounded); it is stopped at the end of its document, or before a later
  example starts another server on the same port (such examples are alternatives);
* ``<!-- example-skip: SUBSTRING | reason -->`` anywhere in a document skips every line of
  that document containing SUBSTRING (real hardware, another machine, a quarter of an hour
  of run time), and the reason is part of the test's report.

A line's failure message carries the command, its exit code and the tail of its output.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINKED = ("conformance", "profiles", "scripts")
COPIED = ("docs", "fixtures")  # examples write beside these (docs --out, a node's outbox)
LINE_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 30.0

_SKIP = re.compile(r"<!--\s*example-skip:\s*(.+?)\s*\|\s*(.+?)\s*-->", re.S)
_EXIT = re.compile(r"(?:^|→|->|:|\()\s*exit (\d)\b(?!\s+if\b)")  # "exit 3", "… → exit 1", "(exit 0)"; not "exit 1 if …"
_SERVER = re.compile(r"^roucai (serve (platform|node|proxy)|device (scale|reader|relay))\b")
_PORT = re.compile(r"--port[ =](\d+)")
_SOCKET = re.compile(r"socket://127\.0\.0\.1:(\d+)")
_LISTEN = re.compile(r"--listen[ =](?:socket://)?127\.0\.0\.1:(\d+)")


@dataclass
class Command:
    """One example: the shell text, the exit code it documents, and its line in the document."""

    text: str
    expect: int
    line: int


def commands(source: str, first_line: int) -> list[Command]:
    """The commands of a block: continuation lines joined, comment-only and blank lines dropped."""
    out: list[Command] = []
    pending, start = "", first_line
    for n, raw in enumerate(source.splitlines(), first_line):
        if not pending:
            start = n
        text = raw.rstrip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text = (pending + text).strip()
        pending = ""
        if not text or text.startswith("#"):
            continue
        code, comment = _split_comment(text)
        m = _EXIT.search(comment)
        out.append(Command(code, int(m.group(1)) if m else 0, start))
    return out


def _split_comment(text: str) -> tuple[str, str]:
    """(command, trailing comment): a '#' that starts a word outside quotes starts the comment."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1 :].strip()
    return text, ""


@dataclass
class DocRun:
    """The scratch folder and the background servers of one document."""

    path: Path
    work: Path
    skips: list[tuple[str, str]]
    servers: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    ran: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def skip_reason(self, text: str) -> str | None:
        return next((reason for sub, reason in self.skips if sub in text), None)

    def run(self, cmd: Command) -> None:
        reason = self.skip_reason(cmd.text)
        if reason:
            self.skipped.append(f"{self.path.name}:{cmd.line} {cmd.text} — {reason}")
            return
        self.ran += 1
        if (
            _SERVER.match(cmd.text)
            and "--check" not in cmd.text
            and "--for" not in cmd.text
            and not re.search(r"--list\b", cmd.text)
        ):
            self._start(cmd)
            return
        try:
            r = subprocess.run(
                ["bash", "-o", "pipefail", "-c", cmd.text],
                cwd=self.work,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=LINE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.path.name}:{cmd.line}: `{cmd.text}` ran over {LINE_TIMEOUT_S:.0f} s")
        if r.returncode != cmd.expect:
            tail = (r.stdout[-1500:] + b"\n" + r.stderr[-2500:]).decode("utf-8", "replace")
            raise AssertionError(
                f"{self.path.name}:{cmd.line}: `{cmd.text}` exited {r.returncode}, the document "
                f"says {cmd.expect}\n{tail}"
            )

    # -- servers ----------------------------------------------------------------------------------
    def _port(self, text: str) -> str:
        for rx in (_LISTEN, _PORT):
            m = rx.search(text)
            if m:
                return m.group(1)
        if text.startswith("roucai serve platform"):
            return "8553"
        m = _SOCKET.search(text) if text.startswith("roucai device") else None
        return m.group(1) if m else f"line:{text}"

    def _start(self, cmd: Command) -> None:
        key = self._port(cmd.text)
        self.stop(key)
        log = self.work / f".server-{len(self.logs)}.log"
        fh = open(log, "wb")
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {cmd.text}"],
            cwd=self.work,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        fh.close()
        self.servers[key], self.logs[key] = proc, log
        problem = self._wait_ready(cmd.text, key, proc, log)
        if problem:
            self.stop(key)
            raise AssertionError(
                f"{self.path.name}:{cmd.line}: server `{cmd.text}` {problem}\n"
                f"{log.read_bytes()[-3000:].decode('utf-8', 'replace')}"
            )

    def _wait_ready(self, text: str, key: str, proc: subprocess.Popen, log: Path) -> str | None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"exited {proc.returncode} instead of serving"
            if key.isdigit() and key != "0":
                plain_http = text.startswith("roucai serve platform") and "--tls-" not in text  # HTTPS: port only
                if plain_http and _healthy(int(key)):
                    return None
                if not plain_http and _accepts(int(key)):
                    return None
            elif log.stat().st_size > 0:
                return None
            time.sleep(0.1)
        return f"was not ready after {READY_TIMEOUT_S:.0f} s"

    def stop(self, key: str | None = None) -> None:
        for k in [key] if key is not None else list(self.servers):
            proc = self.servers.pop(k, None)
            if proc is None:
                continue
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # already gone: nothing to stop
        pass


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- sybil glue -----------------------------------------------------------------------------------
def _doc_run(doc: Path) -> DocRun:
    work = Path(tempfile.mkdtemp(prefix="roucai-doc-"))
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name)
    return DocRun(doc, work, _SKIP.findall(doc.read_text("utf-8")))


def teardown(namespace: dict) -> None:
    run: DocRun | None = namespace.pop("doc_run", None)
    if run is None:
        return
    run.stop()
    shutil.rmtree(run.work, ignore_errors=True)


def evaluate(example) -> None:
    if "doc_run" not in example.namespace:  # made on first use: the namespace does not name its document
        example.namespace["doc_run"] = _doc_run(Path(example.document.path))
    run: DocRun = example.namespace["doc_run"]
    for cmd in commands(example.parsed, example.line + 1):
        run.run(cmd)


def collector():
    """``pytest_collect_file`` for the repository root's conftest.py."""
    from sybil import Sybil
    from sybil.parsers.markdown import CodeBlockParser

    return Sybil(
        parsers=[CodeBlockParser(language="bash", evaluator=evaluate)],
        path=str(ROOT),
        patterns=["README.md", "docs/*.md"],
        teardown=teardown,
    ).pytest()
