"""Virtual serial lines that behave like real ones: paced, garbled, faulty, traced.

A *line* is a null-modem cable with two ends: ``line.host`` / ``line.host_url``
(what the program under test opens) and ``line.device`` (what a simulated device
uses).  The same host code works on every backend::

    import serial                                   # pyserial
    from simulators.serial import open_line, LineSettings

    line = open_line("scale-01", backend="sim",     # or "pty" or "socket"
                     settings=LineSettings(baudrate=9600))   # 8N1 by default
    host = serial.serial_for_url(line.host_url, baudrate=9600, timeout=1.0)
    line.device.write(b"\\x02hello\\x03")            # paced: 7 bytes * 10 bits / 9600 s
    host.read(7)
    host.close(); line.close()                      # or: with open_line(...) as line:

Backends (``open_line(backend=...)``)
    ``"sim"``    in-process; ``host_url == "sim://NAME"``; pyserial reaches it through
                 the ``sim://`` URL handler (see :func:`register`).  Models baud
                 pacing, mismatched settings (garbage), modem lines, all faults.
    ``"pty"``    an OS pseudo-terminal; ``host_url`` is a stable symlink (default
                 ``$TMPDIR/roucai-serial-<uid>/NAME``, or ``link=PATH``) to
                 ``/dev/pts/N``; any program can open it.  Pacing and faults are applied
                 in software by a pump thread (the kernel ignores baud rates); modem
                 lines are *unsupported* (``line.modem_lines_supported is False``;
                 ``line.device.cts`` etc. raise :class:`ModemLinesUnsupported`).
                 The host's baud rate and stop bits are read from the pty's termios, so a
                 host at the wrong rate gets garbage; Linux ptys force 8N, so data bits
                 and parity are assumed to match.
    ``"socket"`` a TCP listener on 127.0.0.1 (ephemeral port unless ``port=``);
                 ``host_url == "socket://127.0.0.1:PORT"``; one host connection at a
                 time.  Paced and faulted like ``pty``; modem lines unsupported.

``open_line(name, backend="sim", settings=LineSettings(), clock=None, faults=None,
trace=None, *, paced=True, link=None, port=0) -> Line``
    ``name`` is unique per process (:class:`LineError` otherwise) and is found again
    with :func:`get_line`.  ``clock`` is ``None``/:class:`WallClock` (real time,
    blocking reads with timeouts, threads) or :class:`SimClock(env)` (SimPy virtual
    time; ``"sim"`` backend only; no threads).  ``faults`` is a list of
    :class:`Fault` (below).  ``trace`` is a :class:`WireTrace`.  ``paced=False``
    delivers bytes immediately (benchmarks, fast unit tests).

:class:`Line`
    ``name``, ``backend``, ``settings``, ``host_url``, ``host`` (the host-side
    :class:`End`; only for ``sim``), ``device`` (device-side :class:`End`),
    ``modem_lines_supported``, ``stats`` (dict per direction: bytes sent/delivered/lost,
    framing_errors, parity_errors), ``close()`` (idempotent: removes symlinks, closes
    fds, joins threads), context manager.

:class:`End` (``line.device``; pyserial-like)
    ``write(data) -> int`` (never blocks: bytes are queued and leave at the line's
    pace; ``flush()`` waits until they have left), ``read(size=1) -> bytes``
    honouring ``.timeout`` (``None`` blocks, ``0`` non-blocking, float seconds),
    ``in_waiting``, ``out_waiting``, ``reset_input_buffer()``, ``reset_output_buffer()``,
    ``close()``, ``is_open``, ``settings`` (settable: the *device's* UART settings;
    if they differ from the host's, each side receives garbage), modem lines
    ``rts``/``dtr`` (settable) and ``cts``/``dsr``/``cd``/``ri`` (read-only) wired as
    a null modem (RTS->CTS, DTR->DSR+CD).  Realtime lines only for blocking
    ``read``; on a :class:`SimClock` line use the events below.

SimPy virtual time (thousands of devices in one process, no thread per device)::

    env = simpy.Environment()
    line = open_line("scale-07", clock=SimClock(env))
    def device(env, end):
        req = yield end.read_event(5)          # fires when 5 bytes have arrived (paced)
        end.write(b"ack:" + req)               # delivered after 9 * byte_time of env time
    env.process(device(env, line.device))
    line.host.write(b"hello"); env.run(until=1)
    line.host.read(64)                         # non-blocking read of what has arrived

    ``end.read_event(n, timeout=None)`` -> event whose value is up to ``n`` bytes (exactly
    ``n`` unless ``timeout`` (env seconds) expired first: then what was there, maybe
    ``b""``); ``end.read_until_event(terminator, max_size=4096, timeout=None)``;
    ``end.write(data)``; ``end.read(n)`` is non-blocking on SimClock lines.

Faults (:mod:`simulators.serial.faults`): each a named switch with parameters, a
seed, and a ``direction`` (``"both"``, ``"host->device"``, ``"device->host"``);
times ``at`` are seconds from ``open_line`` on the line's clock (virtual or wall).
Same seed and same writes -> same corrupted bytes.

    ``byte_loss(rate, seed=0)``            each byte lost with probability ``rate``
    ``bit_errors(rate, seed=0)``           each data bit flipped with probability ``rate``
    ``split(gap_s, every=None, seed=0)``   an idle gap of ``gap_s`` inside each write
                                           (after every ``every`` bytes, or once at a
                                           seeded random point)
    ``delay(seconds)``                     every byte arrives ``seconds`` later
    ``noise_burst(duration, at, seed=0)``  bytes crossing [at, at+duration) are garbled and
                                           random bytes appear on the idle line
    ``unplug(at, duration)``               cable pulled: host reads/writes raise
                                           ``serial.SerialException``, bytes are lost;
                                           afterwards the line works again (``pty``:
                                           the pty is destroyed and re-created under the
                                           same symlink, so the host must reopen)
    ``fault_from_spec("byte_loss:rate=0.01,seed=3")`` parses the CLI form.

Trace (:class:`WireTrace`): one JSON object per line::

    {"t": 0.010417, "dir": "device->host", "hex": "02 68 03", "n": 3,
     "faults": ["bit_errors"], "sent_hex": "02 69 03", "frame": {...}}

``t`` is seconds from line open on the line's clock, when the first byte starts
on the wire; ``hex`` what the receiver gets; ``sent_hex`` only when a fault
changed it; ``frame`` when the decoder (``WireTrace(path, decoder=fn)``,
``fn: bytes -> dict | None``, or ``trace.decoder = fn`` later) parses the chunk.
A first record ``{"event": "open", ...}`` names the line, backend and settings.

:func:`register` appends ``"simulators.serial.urlhandler"`` to
``serial.protocol_handler_packages`` (idempotent; also done on import), so
``serial.serial_for_url("sim://NAME")`` opens the host end of line NAME.  URL
options: none are needed; the host's ``baudrate``/``bytesize``/``parity``/
``stopbits`` are taken from pyserial (``serial_for_url(url, baudrate=4800)``).
Opening a name with no line raises ``serial.SerialException``.

Errors: :class:`LineError` (bad name, duplicate, wrong backend/clock combination),
:class:`ModemLinesUnsupported` (a ``serial.SerialException``), ``ValueError`` for
impossible :class:`LineSettings`.
"""

from __future__ import annotations

import serial as _pyserial

from .clock import SimClock, WallClock
from .faults import Fault, bit_errors, byte_loss, delay, fault_from_spec, noise_burst, split, unplug
from .line import End, Line, LineError, ModemLinesUnsupported
from .registry import get_line, line_names, open_line
from .settings import LineSettings
from .trace import WireTrace

HANDLER_PACKAGE = "simulators.serial.urlhandler"


def register() -> None:
    """Make ``serial.serial_for_url("sim://NAME")`` work (idempotent)."""
    if HANDLER_PACKAGE not in _pyserial.protocol_handler_packages:
        _pyserial.protocol_handler_packages.append(HANDLER_PACKAGE)


register()

__all__ = [
    "LineSettings",
    "WallClock",
    "SimClock",
    "open_line",
    "get_line",
    "line_names",
    "Line",
    "End",
    "LineError",
    "ModemLinesUnsupported",
    "WireTrace",
    "Fault",
    "byte_loss",
    "bit_errors",
    "split",
    "delay",
    "noise_burst",
    "unplug",
    "fault_from_spec",
    "register",
]
