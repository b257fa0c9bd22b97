"""Bit-level model of a UART: what a receiver decodes from another UART's bits.

When both ends use the same settings a line delivers bytes unchanged (masked
to ``bytesize``).  When they differ (baud rate, data bits, parity, stop bits)
a real receiver still samples the wire and hands up *something*: this module
computes that something, deterministically.

Model: the sender's bits are laid out on a grid of half-bit cells (so 1.5 stop
bits are exact); the idle line is high (mark).  The receiver hunts for a
falling edge, samples the middle of the start bit (a high sample is a false
start: hunting resumes), then the middle of each data bit, the parity bit and
the first stop bit at *its own* bit time.  A low stop bit is a framing error, a
wrong parity bit a parity error; like Linux with ``INPCK`` off (pyserial's raw
mode) the sampled character is delivered anyway.  After a low stop bit the
receiver waits for the line to go high before hunting again.  The line is idle
(high) after the last bit given, so trailing characters complete.
"""

from __future__ import annotations

from .settings import LineSettings


def parity_bit(value: int, parity: str) -> int:
    """The parity bit sent after ``value`` for parity letter ``parity`` (``"N"`` -> 0, unused)."""
    ones = bin(value).count("1") & 1
    return {"E": ones, "O": ones ^ 1, "M": 1, "S": 0}.get(parity, 0)


def encode(data: bytes, s: LineSettings) -> bytearray:
    """Levels (0/1) on a grid of half-bit cells for ``data`` sent with settings ``s``."""
    out = bytearray()
    stop_cells = int(s.stopbits * 2)
    for b in data:
        b &= s.data_mask
        out += b"\x00\x00"
        for k in range(s.bytesize):
            bit = (b >> k) & 1
            out.append(bit)
            out.append(bit)
        if s.parity != "N":
            p = parity_bit(b, s.parity)
            out.append(p)
            out.append(p)
        out += b"\x01" * stop_cells
    return out


def decode(levels: bytes | bytearray, tx_baudrate: int, rx: LineSettings) -> tuple[bytes, int, int]:
    """Sample half-bit-cell ``levels`` sent at ``tx_baudrate`` with a receiver set to ``rx``.

    :returns: ``(characters, framing_errors, parity_errors)``.
    """
    n = len(levels)
    # cells per receiver bit = 2 * tx / rx; offset of sample k from the edge cell:
    # floor((2k+1) * tx / rx)
    tx, rxb = tx_baudrate, rx.baudrate
    n_fields = 1 + rx.bytesize + rx.parity_bits + 1  # start, data, parity, first stop
    offsets = [((2 * k + 1) * tx) // rxb for k in range(n_fields)]

    def level(i: int) -> int:
        return levels[i] if i < n else 1

    out = bytearray()
    framing = parity_err = 0
    pos = 0
    line_high_needed = False
    while pos < n:
        if line_high_needed:
            try:
                pos = levels.index(1, pos)
            except ValueError:
                break
            line_high_needed = False
        try:
            edge = levels.index(0, pos)
        except ValueError:
            break
        if level(edge + offsets[0]) != 0:  # glitch, not a start bit
            pos = edge + offsets[0]
            # the sample was high, so the line is high there: a new edge may follow
            continue
        value = 0
        for k in range(rx.bytesize):
            value |= level(edge + offsets[1 + k]) << k
        idx = 1 + rx.bytesize
        if rx.parity != "N":
            if level(edge + offsets[idx]) != parity_bit(value, rx.parity):
                parity_err += 1
            idx += 1
        stop_at = edge + offsets[idx]
        if level(stop_at) == 0:
            framing += 1
            line_high_needed = True
        out.append(value)
        pos = stop_at + 1
    return bytes(out), framing, parity_err


def receive(data: bytes, tx: LineSettings, rx: LineSettings) -> tuple[bytes, int, int]:
    """What a receiver set to ``rx`` gets when ``data`` is sent with ``tx``.

    Identical settings: the data masked to ``bytesize``, no errors (fast path).
    :returns: ``(characters, framing_errors, parity_errors)``.
    """
    if tx == rx or (tx.baudrate == rx.baudrate and tx.bytesize == rx.bytesize and tx.parity == rx.parity):
        # stop-bit count alone does not matter: a receiver checks only the first one
        if tx.bytesize == 8:
            return bytes(data), 0, 0
        m = tx.data_mask
        return bytes(b & m for b in data), 0, 0
    return decode(encode(data, tx), tx.baudrate, rx)
