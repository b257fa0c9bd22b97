"""Bytes ⇄ frames for the profile's device protocol (``roucai-dp/1``), with CRC.

Frame layout (``device_protocol.toml`` ``[frame]``; evidence: profile)::

    STX | LEN (2, BE) | SEQ (1) | CMD (1) | PAYLOAD (LEN-2) | CRC (2, BE) | ETX
    0x02                                                                    0x03

``LEN`` counts SEQ + CMD + PAYLOAD.  ``CRC`` is CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF, not reflected, xorout 0) over LEN..PAYLOAD.  There is no byte
stuffing: the length delimits the frame and ETX + CRC confirm it.

Resynchronisation ("hunting"): on a length out of range, a missing ETX or a bad
CRC the decoder drops only the leading STX byte and searches for the next STX;
while a candidate is incomplete, a complete frame with a good CRC starting at a
later STX wins over it.  So any garbage followed by a good frame yields that
frame at once (unless the garbage itself forms a frame with a valid CRC).  Every discarded byte and every
rejected candidate is counted in :attr:`FrameDecoder.stats`.  The decoder never
raises on input bytes.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    return binascii.crc_hqx(data, 0xFFFF)


class Frame(NamedTuple):
    """A frame that passed length, ETX and CRC checks."""

    seq: int
    cmd: int
    payload: bytes


class FrameFault(NamedTuple):
    """A frame-shaped thing that failed: ``kind`` is ``bad_crc`` or ``truncated``.

    ``seq``/``cmd`` are what the damaged frame claimed (``None`` if not read),
    so a device can NAK it with the reason.
    """

    kind: str
    seq: int | None
    cmd: int | None


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """Constants of one framing (from the profile's ``[frame]`` table)."""

    stx: int = 0x02
    etx: int = 0x03
    max_payload: int = 2048

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> "FrameSpec":
        if (d.get("len_bytes", 2), d.get("seq_bytes", 1), d.get("cmd_bytes", 1), d.get("crc_bytes", 2)) != (
            2,
            1,
            1,
            2,
        ) or d.get("crc", "crc16-ccitt-false") != "crc16-ccitt-false":
            raise ValueError("this framer implements LEN=2, SEQ=1, CMD=1, CRC-16/CCITT-FALSE only")
        return cls(stx=int(d["stx"]), etx=int(d["etx"]), max_payload=int(d["max_payload"]))

    @property
    def overhead(self) -> int:
        """Bytes a frame adds around its payload (7)."""
        return 1 + 2 + 1 + 1 + 2 + 1

    def encode(self, seq: int, cmd: int, payload: bytes = b"") -> bytes:
        """One frame.  Raises ``ValueError`` for seq/cmd outside 0..255 or a payload too long."""
        if not (0 <= seq <= 255 and 0 <= cmd <= 255):
            raise ValueError("seq and cmd must be 0..255")
        if len(payload) > self.max_payload:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {self.max_payload}")
        body = (len(payload) + 2).to_bytes(2, "big") + bytes((seq, cmd)) + payload
        return bytes((self.stx,)) + body + crc16(body).to_bytes(2, "big") + bytes((self.etx,))


_STAT_KEYS = ("frames", "garbage_bytes", "bad_length", "bad_etx", "bad_crc", "truncated", "resyncs")


class FrameDecoder:
    """Streaming decoder: :meth:`feed` bytes as they arrive, get frames and faults.

    :attr:`stats` counts ``frames`` decoded, ``garbage_bytes`` skipped,
    ``bad_length``/``bad_etx``/``bad_crc`` candidates rejected, ``truncated``
    partial frames flushed by :meth:`flush`, and ``resyncs`` (times bytes had to
    be skipped to find the next STX).
    """

    def __init__(self, spec: FrameSpec | None = None):
        self.spec = spec or FrameSpec()
        self._buf = bytearray()
        self.stats = dict.fromkeys(_STAT_KEYS, 0)

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def wanted(self) -> int:
        """Bytes still needed before the pending candidate frame can be judged (≥ 1).

        Lets a reader ask for a whole frame at once instead of byte by byte
        (SimPy ``read_event(n)``); never more than one frame's worth.
        """
        buf = self._buf
        if not buf:
            return 1
        if len(buf) < 3:
            return 3 - len(buf)
        n = (buf[1] << 8) | buf[2]
        if n < 2 or n > self.spec.max_payload + 2:
            return 1
        return max(1, n + 6 - len(buf))

    @property
    def errors(self) -> int:
        """Total of all error counters (everything but ``frames``)."""
        return sum(v for k, v in self.stats.items() if k != "frames")

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | FrameFault]:
        """Add ``data``; return the frames (and CRC faults) completed by it, in order."""
        buf = self._buf
        buf += data
        out: list[Frame | FrameFault] = []
        stx, etx, maxlen = self.spec.stx, self.spec.etx, self.spec.max_payload + 2
        st = self.stats
        while buf:
            if buf[0] != stx:
                i = buf.find(stx)
                skip = len(buf) if i < 0 else i
                st["garbage_bytes"] += skip
                st["resyncs"] += 1
                del buf[:skip]
                if i < 0:
                    break
            if len(buf) < 3:
                break
            n = (buf[1] << 8) | buf[2]
            if n < 2 or n > maxlen:
                st["bad_length"] += 1
                self._drop_stx()
                continue
            total = n + 6
            if len(buf) < total:
                j = self._later_frame(maxlen)
                if j is None:
                    break
                st["garbage_bytes"] += j  # the candidate was garbage: a whole valid frame starts later
                st["resyncs"] += 1
                del buf[:j]
                continue
            if buf[total - 1] != etx:
                st["bad_etx"] += 1
                self._drop_stx()
                continue
            crc = (buf[total - 3] << 8) | buf[total - 2]
            if binascii.crc_hqx(buf[1 : total - 3], 0xFFFF) != crc:
                st["bad_crc"] += 1
                out.append(FrameFault("bad_crc", buf[3], buf[4]))
                self._drop_stx()
                continue
            out.append(Frame(buf[3], buf[4], bytes(buf[5 : total - 3])))
            st["frames"] += 1
            del buf[:total]
        return out

    def _later_frame(self, maxlen: int) -> int | None:
        """Offset of a later STX that begins a complete frame with a good CRC, if any.

        Needed because there is no byte stuffing: a bogus STX can announce a
        long frame and would otherwise swallow the good frames behind it until
        the line goes idle.
        """
        buf, stx, etx = self._buf, self.spec.stx, self.spec.etx
        j = buf.find(stx, 1)
        while j >= 0 and len(buf) - j >= 8:
            n = (buf[j + 1] << 8) | buf[j + 2]
            end = j + n + 6
            if (
                2 <= n <= maxlen
                and end <= len(buf)
                and buf[end - 1] == etx
                and binascii.crc_hqx(buf[j + 1 : end - 3], 0xFFFF) == ((buf[end - 3] << 8) | buf[end - 2])
            ):
                return j
            j = buf.find(stx, j + 1)
        return None

    def _drop_stx(self) -> None:
        del self._buf[:1]
        self.stats["garbage_bytes"] += 1

    def flush(self) -> list[Frame | FrameFault]:
        """The line went idle: give up on a partial frame (``truncated`` fault).

        Bytes after the partial frame's STX are re-scanned, so a frame hidden
        behind a bogus STX is still found; whatever is still incomplete after
        that is stale too and dropped, so nothing is pending afterwards.  Returns
        the fault (SEQ/CMD when they were read) followed by any frames found.
        """
        if not self._buf:
            return []
        buf = self._buf
        seq = buf[3] if len(buf) > 3 else None
        cmd = buf[4] if len(buf) > 4 else None
        self.stats["truncated"] += 1
        out: list[Frame | FrameFault] = [FrameFault("truncated", seq, cmd)]
        while buf:
            self._drop_stx()
            out += self.feed(b"")
        return out

    def reset(self) -> None:
        """Drop buffered bytes (stats are kept)."""
        self._buf.clear()


def decode_all(data: bytes, spec: FrameSpec | None = None) -> list[Frame]:
    """Every good frame in a complete byte string (convenience for traces and tests)."""
    return [f for f in FrameDecoder(spec).feed(data) if isinstance(f, Frame)]


def encode_many(frames: Iterable[tuple[int, int, bytes]], spec: FrameSpec | None = None) -> bytes:
    """Concatenate frames ``(seq, cmd, payload)``."""
    s = spec or FrameSpec()
    return b"".join(s.encode(*f) for f in frames)
