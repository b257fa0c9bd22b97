"""Read and write :class:`LineSettings` as termios attributes of a tty fd (Linux).

Used by the pty backend: the line keeps its own fd on the pty slave, and the
termios state of a pty slave is shared by every fd on it, so the settings a
host program chose (with pyserial or ``stty``) can be read there.  Standard
rates come from ``tcgetattr``; other rates (``BOTHER``) from the ``TCGETS2``
ioctl.  Anything unreadable yields ``None`` (the caller keeps its settings).
"""

from __future__ import annotations

import fcntl
import struct
import termios

from .settings import LineSettings

_BAUDS = {
    getattr(termios, f"B{b}"): b
    for b in (
        50,
        75,
        110,
        134,
        150,
        200,
        300,
        600,
        1200,
        1800,
        2400,
        4800,
        9600,
        19200,
        38400,
        57600,
        115200,
        230400,
        460800,
        500000,
        576000,
        921600,
        1000000,
        1152000,
        1500000,
        2000000,
        2500000,
        3000000,
        3500000,
        4000000,
    )
    if hasattr(termios, f"B{b}")
}
_CODES = {v: k for k, v in _BAUDS.items()}
_BOTHER = 0o010000
_CBAUD = getattr(termios, "CBAUD", 0o010017)
_CMSPAR = getattr(termios, "CMSPAR", 0o10000000000)
_TCGETS2 = 0x802C542A  # Linux x86/arm: _IOR('T', 0x2A, struct termios2)
_SIZES = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}


def read_settings(fd: int) -> LineSettings | None:
    """The settings of tty ``fd``, or ``None`` if they cannot be read or are out of range."""
    try:
        attrs = termios.tcgetattr(fd)
    except (termios.error, OSError):
        return None
    cflag, ospeed = attrs[2], attrs[5]
    baud = _BAUDS.get(ospeed)
    if baud is None and (cflag & _CBAUD) == _BOTHER:
        try:
            buf = fcntl.ioctl(fd, _TCGETS2, bytes(44))
            baud = struct.unpack("I", buf[40:44])[0]
        except OSError:
            return None
    if not baud:
        return None
    parity = "N"
    if cflag & termios.PARENB:
        if cflag & _CMSPAR:
            parity = "M" if cflag & termios.PARODD else "S"
        else:
            parity = "O" if cflag & termios.PARODD else "E"
    try:
        return LineSettings(
            baudrate=baud,
            bytesize=_SIZES[cflag & termios.CSIZE],
            parity=parity,
            stopbits=2 if cflag & termios.CSTOPB else 1,
        )
    except ValueError:
        return None


def write_settings(fd: int, s: LineSettings) -> None:
    """Set tty ``fd`` to ``s`` where termios can express it (standard rates only; others untouched)."""
    attrs = termios.tcgetattr(fd)
    cflag = attrs[2] & ~(termios.CSIZE | termios.PARENB | termios.PARODD | _CMSPAR | termios.CSTOPB)
    cflag |= {5: termios.CS5, 6: termios.CS6, 7: termios.CS7, 8: termios.CS8}[s.bytesize]
    if s.parity != "N":
        cflag |= termios.PARENB
        if s.parity in ("O", "M"):
            cflag |= termios.PARODD
        if s.parity in ("M", "S"):
            cflag |= _CMSPAR
    if s.stopbits != 1:
        cflag |= termios.CSTOPB
    attrs[2] = cflag
    code = _CODES.get(s.baudrate)
    if code is not None:
        attrs[4] = attrs[5] = code
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
