"""A frame-aware serial relay: host side <-> device side, every byte forwarded, one seeded defect injected.

The relay is what a test lab puts between a harness and a clean device to make a defective one::

    harness --socket://127.0.0.1:7101--> [relay] --socket://127.0.0.1:7001--> device
                                          (or a pty)           (or a pty / serial port path)

Both directions are parsed with the profile's codec (:mod:`profiles.device`).  Bytes that are not part
of a good frame (noise, damaged or partial frames) are forwarded as they came; a partial frame is passed
on once the line has been idle for :data:`IDLE_FLUSH_S` (less than the protocol's inter-byte timeout),
so the relay never completes or hides a truncation.  Each good frame goes through the defect's
transform (:mod:`conformance.proofs.device_defects`): unchanged frames are forwarded as their own bytes,
changed ones are re-encoded with a fresh CRC.  With no defect the relay is transparent.

Host side: ``socket://127.0.0.1:PORT`` (PORT 0: any free port; one host at a time, a new connection
replaces the old one, as when a harness reopens its port after a power cycle) or ``pty`` (a
pseudo-terminal; its path is :attr:`Relay.host_url`).  Device side: ``socket://HOST:PORT`` (127.0.0.1
only) or the path of a pty or serial port.  The device side is connected when the first host connects and
kept; if the device closes it, the relay reconnects (bounded: :data:`CONNECT_TIMEOUT_S`).

Everything runs in one thread (:meth:`Relay.start`); :meth:`Relay.stop` ends it.  :attr:`Relay.stats`
counts bytes and frames per direction and the frames the defect changed.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
import select
import socket
import threading
import time
import tty
from urllib.parse import urlsplit

from profiles.device import Frame, get_protocol
from profiles.errors import RoucaiError

from .device_defects import D2H, H2D, DeviceDefect, make_transform

IDLE_FLUSH_S = 0.03  #: a partial frame is forwarded raw after this much silence
CONNECT_TIMEOUT_S = 5.0
_TICK_S = 0.01


class RelayError(RoucaiError):
    """A side cannot be opened (usage or unreachable): ``zh``/``en`` say which and why."""


class _Path:
    """One direction: raw bytes in; (delay, bytes, to) out, frames passed through the transform."""

    def __init__(self, direction: str, protocol, transform, stats: dict):
        self.direction = direction
        self.protocol = protocol
        self.transform = transform
        self.dec = protocol.decoder()
        self.raw = bytearray()
        self.last_rx = 0.0
        self.stats = stats
        self.out_to = "host" if direction == D2H else "device"

    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes, str]]:
        self.raw += data
        self.last_rx = now
        self.stats["bytes"] += len(data)
        items = self.dec.feed(data)
        n = len(self.raw) - self.dec.pending
        consumed = bytes(self.raw[:n])
        del self.raw[:n]
        out, cur = [], 0
        for it in items:
            if not isinstance(it, Frame):
                continue
            enc = self.protocol.frame.encode(it.seq, it.cmd, it.payload)
            pos = consumed.find(enc, cur)
            if pos < 0:  # cannot happen: a decoded frame is its own canonical encoding
                continue
            if pos > cur:
                out.append((0.0, consumed[cur:pos], self.out_to))
            self.stats["frames"] += 1
            if self.transform.inert:  # the clean relay: forward, nothing to decode
                out.append((0.0, enc, self.out_to))
                cur = pos + len(enc)
                continue
            try:
                msg = self.protocol.decode(it)
            except Exception:  # noqa: BLE001 - an undecodable frame is forwarded as it came
                msg = None
            got = self.transform.frame(self.direction, it, msg, now)
            if got is None:
                out.append((0.0, enc, self.out_to))
            else:
                self.stats["changed"] += 1
                out += got
            cur = pos + len(enc)
        if cur < len(consumed):
            out.append((0.0, consumed[cur:], self.out_to))
        return out

    def idle(self, now: float) -> list[tuple[float, bytes, str]]:
        """A partial frame the line left behind: forwarded raw (the receiver judges the truncation)."""
        if self.raw and now - self.last_rx >= IDLE_FLUSH_S:
            data = bytes(self.raw)
            self.raw.clear()
            self.dec.reset()
            return [(0.0, data, self.out_to)]
        return []

    def reset(self) -> None:
        self.raw.clear()
        self.dec.reset()


class _Fd:
    """A file descriptor side (pty master, tty): read/write with os calls."""

    def __init__(self, fd: int, close_fd: bool = True):
        self.fd, self._close = fd, close_fd

    def fileno(self) -> int:
        return self.fd

    def recv(self) -> bytes | None:
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # pty: nobody has the other end open
                return b""
            return None

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 2.0
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)

    def close(self) -> None:
        if self._close:
            os.close(self.fd)


class _Sock:
    def __init__(self, s: socket.socket):
        self.s = s
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def fileno(self) -> int:
        return self.s.fileno()

    def recv(self) -> bytes | None:
        try:
            data = self.s.recv(4096)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        return data or None  # b"": the peer closed

    def send(self, data: bytes) -> None:
        self.s.setblocking(True)
        try:
            self.s.settimeout(2.0)
            self.s.sendall(data)
        except OSError:
            pass
        finally:
            self.s.setblocking(False)

    def close(self) -> None:
        self.s.close()


def _socket_addr(url: str, what_zh: str, what_en: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.hostname not in ("127.0.0.1", "localhost") or port is None:
        raise RelayError(
            f"{what_zh}只接受 socket://127.0.0.1:端口，收到「{url}」",
            f"{what_en} accepts socket://127.0.0.1:PORT only, got {url!r}",
        )
    return "127.0.0.1", port


class Relay:
    """The relay (see the module docstring).  ``defect`` ``None`` is the clean relay."""

    def __init__(
        self,
        listen: str,
        to: str,
        defect: DeviceDefect | None = None,
        seed: int = 0,
        protocol=None,
        link: str | None = None,
    ):
        self.protocol = protocol or get_protocol()
        self.defect = defect
        self.transform = make_transform(defect, self.protocol, seed)
        self.to = to
        self.stats = {
            H2D: {"bytes": 0, "frames": 0, "changed": 0},
            D2H: {"bytes": 0, "frames": 0, "changed": 0},
            "host_connections": 0,
            "device_connections": 0,
        }
        self._paths = {
            H2D: _Path(H2D, self.protocol, self.transform, self.stats[H2D]),
            D2H: _Path(D2H, self.protocol, self.transform, self.stats[D2H]),
        }
        self._queue: list = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self.done = threading.Event()  #: set when the relay's thread has ended
        self.error: RelayError | None = None  #: the last side that could not be reached (the relay goes on)
        self._thread: threading.Thread | None = None
        self._listener = None
        self._host = None
        self._device = None
        self._link = link
        if listen == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._slave = slave
            self._host = _Fd(master)
            self.host_url = os.ttyname(slave)
            if link:
                try:
                    if os.path.islink(link):
                        os.unlink(link)
                    os.symlink(self.host_url, link)
                except OSError as exc:
                    raise RelayError(f"无法创建链接 {link}：{exc}", f"cannot create the link {link}: {exc}")
        elif listen.startswith("socket://"):
            host, port = _socket_addr(listen, "监听端", "the listening side")
            srv = socket.socket()
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                srv.bind((host, port))
            except OSError as exc:
                srv.close()
                raise RelayError(f"无法监听 {listen}：{exc}", f"cannot listen on {listen}: {exc}")
            srv.listen(2)
            srv.setblocking(False)
            self._listener = srv
            self.host_url = f"socket://127.0.0.1:{srv.getsockname()[1]}"
        else:
            raise RelayError(
                f"监听端须为 socket://127.0.0.1:端口 或 pty，收到「{listen}」",
                f"the listening side must be socket://127.0.0.1:PORT or pty, got {listen!r}",
            )
        if to.startswith("socket://"):
            _socket_addr(to, "设备端", "the device side")
        elif not os.path.exists(to):
            raise RelayError(f"设备端 {to} 不存在", f"the device side {to} does not exist")

    # -- sides --------------------------------------------------------------------------------------
    def _connect_device(self):
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                if self.to.startswith("socket://"):
                    side = _Sock(
                        socket.create_connection(_socket_addr(self.to, "设备端", "the device side"), timeout=1.0)
                    )
                else:
                    fd = os.open(self.to, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
                    try:
                        tty.setraw(fd)
                    except OSError:
                        pass
                    side = _Fd(fd)
                self.stats["device_connections"] += 1
                return side
            except OSError as exc:
                if time.monotonic() > deadline or self._stop.is_set():
                    raise RelayError(
                        f"无法连接设备端 {self.to}：{exc}", f"cannot reach the device side {self.to}: {exc}"
                    )
                time.sleep(0.1)

    def _drop_host(self) -> None:
        if self._host is not None and self._listener is not None:
            self._host.close()
            self._host = None
        self._paths[H2D].reset()
        self._queue = [q for q in self._queue if q[3] != "host"]

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> Relay:
        self._thread = threading.Thread(target=self._run, name="roucai-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for side in (self._host, self._device):
            if side is not None:
                side.close()
        if self._listener is not None:
            self._listener.close()
        if getattr(self, "_slave", None) is not None:
            os.close(self._slave)
            self._slave = None
        if self._link and os.path.islink(self._link):
            os.unlink(self._link)

    def serve_until(self, stop: threading.Event, seconds: float | None = None) -> None:
        """Run in the calling thread until ``stop`` is set (or ``seconds`` passed)."""
        self.start()
        stop.wait(seconds)
        self.stop()

    def _schedule(self, items, now: float) -> None:
        for delay, data, to in items:
            heapq.heappush(self._queue, (now + delay, next(self._order), data, to))

    def _run(self) -> None:
        try:
            self._loop()
        except RelayError as exc:
            self.error = exc
        finally:
            self.done.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            rl = []
            if self._listener is not None:
                rl.append(self._listener)
            if self._host is not None:
                rl.append(self._host)
            if self._device is not None:
                rl.append(self._device)
            now = time.monotonic()
            wait = _TICK_S if not self._queue else max(0.0, min(_TICK_S, self._queue[0][0] - now))
            try:
                ready, _, _ = select.select(rl, [], [], wait)
            except (OSError, ValueError):
                ready = []
            now = time.monotonic()
            for side in ready:
                if side is self._listener:
                    conn, _ = self._listener.accept()
                    if self._host is not None:
                        self._drop_host()
                    if self._device is None:
                        try:
                            self._device = self._connect_device()
                        except RelayError as exc:  # the device is not there: refuse this host, keep serving
                            self.error = exc
                            conn.close()
                            continue
                    self._host = _Sock(conn)
                    self.stats["host_connections"] += 1
                    self.transform.host_connected(self.stats["host_connections"])
                elif side is self._host:
                    data = self._host.recv()
                    if data is None:
                        self._drop_host()
                    elif data:
                        if self._device is None:
                            self._device = self._connect_device()
                        self._schedule(self._paths[H2D].feed(data, now), now)
                elif side is self._device:
                    data = self._device.recv()
                    if data is None:
                        self._device.close()
                        self._device = None
                        self._paths[D2H].reset()
                    elif data:
                        self._schedule(self._paths[D2H].feed(data, now), now)
            for p in self._paths.values():
                self._schedule(p.idle(now), now)
            while self._queue and self._queue[0][0] <= now:
                _, _, data, to = heapq.heappop(self._queue)
                if to == "host" and self._host is not None:
                    self._host.send(data)
                elif to == "device":
                    if self._device is None:
                        self._device = self._connect_device()
                    self._device.send(data)
