"""The node as the target: the harness plays the scales (on ptys) and the city platform (HTTP).

One scripted, bounded scenario (:class:`NodeSession`) per certify run; the tests
of ``test_node_*.py`` (and the coding suite, for node targets) judge what it
captured.  The phases, each with its own time bound:

1. ``start``     the reference platform behind a :class:`~.recorder.Recorder` (a real uvicorn
                 server on 127.0.0.1 with a SQLite file), the city's nodes registered and keyed;
                 the day's records of the city nodes *not* under test uploaded by the harness;
                 simulated scales on ptys with the day's batches; one node process per node type
                 under test, started from its ``start_command`` with a config the harness wrote.
2. ``handheld``  each node's records of the simulated day registered through its handheld intake
                 (the profile's envelopes, signed with the node's key), plus one intake without its
                 quarantine certificate at the slaughterhouse (must be refused).
3. ``sales``     sales on every scale; wait until every record is at the platform.
4. ``outage``    the platform is stopped; sales and a handheld backlog larger than the profile's
                 Count limit arrive meanwhile; the platform is restarted (same port, same database);
                 wait until everything is at the platform.
5. ``backoff``   the platform answers 503 for a while (the harness's recorder, not the platform);
                 the node's retry times are recorded; then service resumes.
6. ``stoptrade`` a failed pesticide test of the wholesale batch the retail scale sells from is
                 posted to the platform; wait until the scale refuses that batch and the node has
                 acknowledged the instruction.

A phase that does not finish in time is recorded (:attr:`NodeSession.timeouts`) and
the scenario goes on with short waits; the tests that need it get a ``TimeoutError``
(verdict ``timeout``), never a hang.

The node under test is started with ``start_command`` from the capability statement
(``[target] start_command``), a template with ``{config}`` (the node TOML this module
writes, in the reference node's format), ``{platform_url}``, ``{node_code}``, ``{key}``,
``{node_port}``, ``{scale_ports}`` (comma-separated pty paths), ``{workdir}`` and
``{python}``.  The built-in target runs ``{python} -m roucai.cli serve node --config {config}``
(:data:`FAULT_COMMAND` for a broken variant: the node with a defect installed from outside).

The package, one module per concept (each phase a ``run(session)`` function of its own module):

- :mod:`.session` :class:`NodeSession`, the phases in order and the shutdown; :mod:`.state` what a run
  records and the phases share (bounded waits, time-outs); :mod:`.readers` what the tests read from it;
- the phases :mod:`.start` (with :mod:`.scales`, :mod:`.node_config`, :mod:`.node_process`,
  :mod:`.certificates`), :mod:`.handheld` (with :mod:`.batch_push`, :mod:`.stall_transfer`), :mod:`.sales`,
  :mod:`.outage`, :mod:`.backoff`, :mod:`.stoptrade`, :mod:`.operators`;
- what they drive: :mod:`.city_platform` (the platform the harness plays), :mod:`.under_test` (the nodes and
  their scales); and :mod:`.settings`, :mod:`.errors`, :mod:`.ports`, :mod:`.waiting`.
"""

from __future__ import annotations

from .city_platform import HarnessPlatform
from .errors import HarnessError
from .ports import free_port
from .session import NodeSession
from .settings import (
    BACKOFF_WINDOW_S,
    BUILTIN_COMMAND,
    FAULT_COMMAND,
    OUTAGE_SALES,
    PUSH_WAIT_S,
    ROLE_CAPS,
    SALES_PER_SCALE,
    STOP_POLL_S,
    UPLOAD_CFG,
    UPLOAD_PATH,
)
from .under_test import NodeUnderTest, ScaleBench
from .waiting import wait_for

__all__ = [
    "BACKOFF_WINDOW_S",
    "BUILTIN_COMMAND",
    "FAULT_COMMAND",
    "OUTAGE_SALES",
    "PUSH_WAIT_S",
    "ROLE_CAPS",
    "SALES_PER_SCALE",
    "STOP_POLL_S",
    "UPLOAD_CFG",
    "UPLOAD_PATH",
    "HarnessError",
    "HarnessPlatform",
    "NodeSession",
    "NodeUnderTest",
    "ScaleBench",
    "free_port",
    "wait_for",
]
