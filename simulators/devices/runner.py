"""Serve a device endpoint on a port: a thread in real time, a SimPy process in virtual time.

Real time (:class:`ThreadRunner`): one thread reads the device-side port
(any pyserial-like object: ``line.device`` of :mod:`simulators.serial`, a
``serial.Serial``) with a short timeout, feeds the endpoint and writes its
answers.  Other threads that touch the model (a test calling
``scale.sell(...)``) hold :attr:`ThreadRunner.lock`.  Unplugged or closed ports
are survived (counted in ``stats``) until :meth:`ThreadRunner.stop`.

Virtual time (:class:`SimRunner`): a SimPy process per device on a
``SimClock`` line end (``end.read_event``), no thread.  After changing the model
from another SimPy process (a simulated shopper selling), call
:meth:`SimRunner.kick` so pushed events leave at once.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import serial

from .endpoint import DeviceEndpoint


class ThreadRunner:
    """:param endpoint: what to serve.  :param port: the device-side port.
    :param tick: optional ``tick(now)`` called under the lock every loop (device activity).
    :param poll_s: read timeout per loop (the latency of pushed events and timeouts)."""

    def __init__(
        self,
        endpoint: DeviceEndpoint,
        port,
        *,
        time_source: Callable[[], float] = time.monotonic,
        tick: Callable[[float], None] | None = None,
        poll_s: float = 0.005,
    ):
        self.endpoint = endpoint
        self.port = port
        self.time_source = time_source
        self.tick = tick
        self.poll_s = poll_s
        self.lock = threading.RLock()
        self.stats = {"bytes_in": 0, "bytes_out": 0, "port_errors": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ThreadRunner":
        self.port.timeout = self.poll_s
        self._thread = threading.Thread(target=self._loop, name=f"device-{id(self):x}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> "ThreadRunner":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _loop(self) -> None:
        port, ep = self.port, self.endpoint
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, ValueError, TypeError):
                self.stats["port_errors"] += 1
                if self._stop.wait(self.poll_s * 4):
                    break
                continue
            now = self.time_source()
            with self.lock:
                out = ep.receive(data, now) if data else ep.poll(now)
                if self.tick is not None:
                    self.tick(now)
                    out += ep.poll(now)
            self.stats["bytes_in"] += len(data)
            if out:
                try:
                    port.write(out)
                    self.stats["bytes_out"] += len(out)
                except (serial.SerialException, OSError, ValueError, TypeError):
                    self.stats["port_errors"] += 1


class SimRunner:
    """Serves ``endpoint`` on ``end`` (a SimClock line's device end) in virtual time, with no process of its own.

    The device reacts in callbacks of the events it waits for: a byte on the line (a ``read_event``; the rest
    of a started frame is read with the endpoint's inter-byte timeout), the endpoint's next deadline (event
    retransmission, a stale partial frame; one timer per deadline), or a :meth:`kick` from the SimPy process
    that changed the model.  Answers leave at the same simulated instant as the request's last byte, as the
    thread runner's do in real time, without a process resume per frame."""

    def __init__(self, env, endpoint: DeviceEndpoint, end):
        self.env = env
        self.endpoint = endpoint
        self.end = end
        self._timer_at: float | None = None
        self._read(1)

    def kick(self) -> None:
        """Something changed in the model: push its events now."""
        self._respond(self.endpoint.poll(self.env.now))

    def _respond(self, out: bytes) -> None:
        if out:
            self.end.write(out)
        dl = self.endpoint.next_deadline(self.env.now)
        if dl is not None and (self._timer_at is None or dl < self._timer_at):
            self._timer_at = dl
            self.env.timeout(max(0.0, dl - self.env.now), value=dl).callbacks.append(self._on_timer)

    def _read(self, n: int, timeout: float | None = None) -> None:
        if self.end.is_open:
            self.end.read_event(n, timeout=timeout).callbacks.append(self._on_data)

    def _on_data(self, evt) -> None:
        ep, end, now = self.endpoint, self.end, self.env.now
        data = evt.value
        if data and end.is_open:
            data += end.read(end.in_waiting)
        out = ep.receive(data, now) if data else ep.poll(now)
        if ep.decoder.pending:  # the rest of a frame: one wake-up, not one per byte
            self._read(ep.decoder.wanted, ep.timing.inter_byte_timeout_s)
        else:
            self._read(1)
        self._respond(out)

    def _on_timer(self, evt) -> None:
        if evt.value == self._timer_at:  # the current timer (not one a nearer deadline replaced)
            self._timer_at = None
        if self.end.is_open:
            self._respond(self.endpoint.poll(self.env.now))
