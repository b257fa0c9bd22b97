"""UART line settings and the timing they imply.

A byte on an asynchronous serial line is framed as 1 start bit, ``bytesize``
data bits (least significant first), an optional parity bit and ``stopbits``
stop bits (1, 1.5 or 2).  At ``baudrate`` bits per second one byte therefore
occupies ``bits_per_byte / baudrate`` seconds on the wire: 8N1 at 9600 baud is
10 bits = 1.0417 ms per byte, 960 bytes/s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: Parity letters as pyserial spells them: none, even, odd, mark (always 1), space (always 0).
PARITIES = ("N", "E", "O", "M", "S")
BYTESIZES = (5, 6, 7, 8)
STOPBITS = (1, 1.5, 2)
#: Upper bound accepted for ``baudrate`` (bit/s); real USB-UARTs stop around 3-12 Mbit/s.
MAX_BAUDRATE = 12_000_000


@dataclass(frozen=True, slots=True)
class LineSettings:
    """The UART settings of one end of a line.

    :param baudrate: bits per second, 1 .. :data:`MAX_BAUDRATE`.
    :param bytesize: data bits per character, 5..8.
    :param parity: one of :data:`PARITIES`.
    :param stopbits: 1, 1.5 or 2.
    :raises ValueError: for any value outside these ranges.
    """

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1

    def __post_init__(self) -> None:
        if (
            isinstance(self.baudrate, bool)
            or not isinstance(self.baudrate, int)
            or not 1 <= self.baudrate <= MAX_BAUDRATE
        ):
            raise ValueError(f"baudrate must be an int in 1..{MAX_BAUDRATE}, got {self.baudrate!r}")
        if self.bytesize not in BYTESIZES:
            raise ValueError(f"bytesize must be one of {BYTESIZES}, got {self.bytesize!r}")
        if self.parity not in PARITIES:
            raise ValueError(f"parity must be one of {PARITIES}, got {self.parity!r}")
        if self.stopbits not in STOPBITS:
            raise ValueError(f"stopbits must be one of {STOPBITS}, got {self.stopbits!r}")

    @property
    def parity_bits(self) -> int:
        """1 if a parity bit is sent, else 0."""
        return 0 if self.parity == "N" else 1

    @property
    def bits_per_byte(self) -> float:
        """Bits on the wire per character: 1 start + data + parity + stop (10 for 8N1)."""
        return 1 + self.bytesize + self.parity_bits + self.stopbits

    @property
    def bit_time(self) -> float:
        """Seconds per bit."""
        return 1.0 / self.baudrate

    @property
    def byte_time(self) -> float:
        """Seconds one character occupies on the wire."""
        return self.bits_per_byte / self.baudrate

    @property
    def bytes_per_second(self) -> float:
        """Theoretical throughput of a line kept busy, in characters per second."""
        return self.baudrate / self.bits_per_byte

    @property
    def data_mask(self) -> int:
        """Mask of the bits a character can carry (0xFF for 8 data bits, 0x7F for 7 ...)."""
        return (1 << self.bytesize) - 1

    def transmit_time(self, n_bytes: int) -> float:
        """Seconds needed to send ``n_bytes`` characters back to back."""
        return n_bytes * self.byte_time

    def short(self) -> str:
        """The usual notation, e.g. ``"9600 8N1"``."""
        stop = "1.5" if self.stopbits == 1.5 else str(int(self.stopbits))
        return f"{self.baudrate} {self.bytesize}{self.parity}{stop}"

    def to_dict(self) -> dict:
        return {"baudrate": self.baudrate, "bytesize": self.bytesize, "parity": self.parity, "stopbits": self.stopbits}

    def with_(self, **changes) -> "LineSettings":
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    @classmethod
    def from_serial(cls, port) -> "LineSettings":
        """The settings of a pyserial port object (``baudrate``, ``bytesize``, ``parity``, ``stopbits``)."""
        stop = port.stopbits
        stop = 1.5 if stop == 1.5 else int(stop)
        return cls(baudrate=int(port.baudrate), bytesize=int(port.bytesize), parity=str(port.parity), stopbits=stop)
