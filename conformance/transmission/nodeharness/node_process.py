"""The node under test as a process: started from the capability statement's ``start_command`` (a template,
see the package docstring) in its own process group, checked for readiness, stopped with SIGTERM and, after
10 s, SIGKILL.  The process dies with the harness (:func:`~simulators.lifetime.die_with_parent`)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys

from simulators.lifetime import die_with_parent

from .errors import HarnessError
from .state import SessionState
from .under_test import NodeUnderTest


def start_node(sess: SessionState, n: NodeUnderTest) -> None:
    """Start ``n``'s process (``n.proc``), its output to ``n.log``; ``HarnessError`` on a bad template."""
    values = {
        "config": str(n.config),
        "platform_url": sess.platform.url,
        "node_code": n.code,
        "key": n.key,
        "node_port": str(n.port),
        "scale_ports": ",".join(b.line.host_url for b in n.scales),
        "workdir": str(n.workdir),
        "python": sys.executable,
    }
    try:
        cmd = [part.format(**values) for part in shlex.split(sess.start_command)]
    except (KeyError, IndexError, ValueError) as exc:
        raise HarnessError(f"start_command {sess.start_command!r}: bad placeholder {exc}") from None
    n.command = cmd
    n.log = n.workdir / "node.log"
    with open(n.log, "wb") as fh:
        try:
            n.proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=str(n.workdir),
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=die_with_parent,
            )
        except OSError as exc:
            raise HarnessError(f"cannot start the node: {cmd[0]}: {exc.strerror}") from None


def node_ready(sess: SessionState, n: NodeUnderTest) -> bool:
    """True once ``n`` listens on its port (or at once without a handheld intake); an exited process is
    recorded as the ``start`` time-out, with its log's tail, and also ends the wait."""
    if n.proc.poll() is not None:
        sess.timeouts.setdefault(
            "start", f"node {n.code} exited with {n.proc.returncode}: " + n.log.read_text("utf-8", "replace")[-600:]
        )
        return True
    if not sess.with_handheld:
        return True
    try:
        with socket.create_connection(("127.0.0.1", n.port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_nodes(nodes: list[NodeUnderTest]) -> None:
    """SIGTERM to each node's process group (all first, then wait), SIGKILL after 10 s."""
    live = [n for n in nodes if n.proc is not None and n.proc.poll() is None]
    for n in live:
        try:
            os.killpg(n.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for n in live:
        try:
            n.proc.wait(10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(n.proc.pid, signal.SIGKILL)
                n.proc.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
