"""A contactless storage card modelled on Mifare Classic 1K (the chip, not the data layout).

16 sectors × 4 blocks × 16 bytes.  Block 0 is the manufacturer block (UID,
read-only unless the card is a "magic" clone).  Block 3 of each sector is the
trailer: key A (6) | access bits (3) + GPB (1) | key B (6).  Access bits follow
the Mifare Classic conditions (C1 C2 C3 per block, stored with inverted
copies; inconsistent bits lock the sector).  Key A never reads back (zeros);
when key B is readable it cannot be used to authenticate.

A write can be *torn* (``tear_after=N``): the first N bytes reach the block and
the card leaves the field (:class:`CardLost`), as when a customer pulls the
card away mid-write.  The data layout on top is the profile's
(:mod:`profiles.device.card_layout`).
"""

from __future__ import annotations

import random

from profiles.device.card_layout import CardHolder, CardLayout

# data block conditions (C1, C2, C3) -> (keys that may read, keys that may write)
_DATA = {
    (0, 0, 0): ("AB", "AB"),
    (0, 1, 0): ("AB", ""),
    (1, 0, 0): ("AB", "B"),
    (1, 1, 0): ("AB", "B"),
    (0, 0, 1): ("AB", ""),
    (0, 1, 1): ("B", "B"),
    (1, 0, 1): ("B", ""),
    (1, 1, 1): ("", ""),
}
# trailer conditions -> (keyA write, access read, access write, keyB read, keyB write)
_TRAILER = {
    (0, 0, 0): ("A", "A", "", "A", "A"),
    (0, 1, 0): ("", "A", "", "A", ""),
    (1, 0, 0): ("B", "AB", "", "", "B"),
    (1, 1, 0): ("", "AB", "", "", ""),
    (0, 0, 1): ("A", "A", "A", "A", "A"),
    (0, 1, 1): ("B", "AB", "B", "", "B"),
    (1, 0, 1): ("", "AB", "B", "", ""),
    (1, 1, 1): ("", "AB", "", "", ""),
}

KEY_A, KEY_B = 0x60, 0x61


class CardError(Exception):
    """A card operation failed; ``reason`` is a NAK reason name of the protocol."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class CardLost(CardError):
    def __init__(self) -> None:
        super().__init__("CARD_LOST")


def access_conditions(access: bytes) -> list[tuple[int, int, int]] | None:
    """(C1, C2, C3) for blocks 0..3 of a sector, or ``None`` if the inverted copies disagree."""
    b6, b7, b8 = access[0], access[1], access[2]
    c1, c2, c3 = b7 >> 4, b8 & 0x0F, b8 >> 4
    if (~b6 & 0x0F) != c1 or ((~b6 >> 4) & 0x0F) != c2 or (~b7 & 0x0F) != c3:
        return None
    return [((c1 >> i) & 1, (c2 >> i) & 1, (c3 >> i) & 1) for i in range(4)]


class MifareCard:
    """One card: ``uid`` (4 bytes) and 1 KB of blocks.  ``magic``: block 0 writable (a clone card)."""

    def __init__(self, uid: bytes, blocks: dict[int, bytes], *, sectors: int = 16, bps: int = 4, magic: bool = False):
        self.uid = bytes(uid)
        self.sectors, self.bps = sectors, bps
        self.mem = bytearray(sectors * bps * 16)
        for b, data in blocks.items():
            self.mem[b * 16 : (b + 1) * 16] = data
        self.magic = magic
        self.sak = 0x08
        self.auth_state: tuple[int, str] | None = None  # (sector, "A"|"B")
        self.halted = False
        self.writes = 0

    @classmethod
    def issued(cls, layout: CardLayout, uid: bytes, holder: CardHolder) -> "MifareCard":
        """A card freshly issued with the profile's layout and keys."""
        return cls(uid, layout.issue(uid, holder), sectors=layout.sectors, bps=layout.bps)

    def copy(self, *, magic: bool | None = None) -> "MifareCard":
        c = MifareCard(self.uid, {}, sectors=self.sectors, bps=self.bps, magic=self.magic if magic is None else magic)
        c.mem[:] = self.mem
        return c

    def block(self, b: int) -> bytes:
        return bytes(self.mem[b * 16 : (b + 1) * 16])

    def blocks(self) -> dict[int, bytes]:
        return {b: self.block(b) for b in range(self.sectors * self.bps)}

    def _trailer(self, sector: int) -> bytes:
        return self.block(sector * self.bps + self.bps - 1)

    def _conds(self, sector: int) -> list[tuple[int, int, int]] | None:
        return access_conditions(self._trailer(sector)[6:9])

    def _key_b_readable(self, sector: int) -> bool:
        conds = self._conds(sector)
        return conds is not None and "A" in _TRAILER[conds[3]][3]

    # -- operations ------------------------------------------------------------------
    def authenticate(self, sector: int, key_type: int, key: bytes) -> None:
        if not 0 <= sector < self.sectors:
            raise CardError("BAD_BLOCK")
        t = self._trailer(sector)
        which = "A" if key_type == KEY_A else "B" if key_type == KEY_B else None
        stored = t[0:6] if which == "A" else t[10:16]
        if which is None or bytes(key) != stored or (which == "B" and self._key_b_readable(sector)):
            self.auth_state = None
            raise CardError("AUTH_FAILED")
        self.auth_state = (sector, which)

    def check(self, block: int) -> tuple[int, str, tuple[int, int, int]]:
        """``(sector, key used, access condition)`` of ``block`` under the current authentication; CardError
        (BAD_BLOCK, NOT_AUTHENTICATED, ACCESS_DENIED) otherwise."""
        if not 0 <= block < self.sectors * self.bps:
            raise CardError("BAD_BLOCK")
        sector = block // self.bps
        if self.auth_state is None or self.auth_state[0] != sector:
            raise CardError("NOT_AUTHENTICATED")
        conds = self._conds(sector)
        if conds is None:
            raise CardError("ACCESS_DENIED")
        return sector, self.auth_state[1], conds[block % self.bps]

    def read(self, block: int) -> bytes:
        sector, key, cond = self.check(block)
        if block % self.bps == self.bps - 1:
            t = self._trailer(sector)
            kb_r = key in _TRAILER[cond][3]
            acc_r = key in _TRAILER[cond][1]
            return bytes(6) + (t[6:10] if acc_r else bytes(4)) + (t[10:16] if kb_r else bytes(6))
        if key not in _DATA[cond][0]:
            raise CardError("ACCESS_DENIED")
        return self.block(block)

    def write(self, block: int, data: bytes, tear_after: int | None = None) -> None:
        data = bytes(data)
        if len(data) != 16:
            raise CardError("BAD_PAYLOAD")
        sector, key, cond = self.check(block)
        if block == 0 and not self.magic:
            raise CardError("ACCESS_DENIED")
        if block % self.bps == self.bps - 1:
            if not any(key in p for p in (_TRAILER[cond][0], _TRAILER[cond][2], _TRAILER[cond][4])):
                raise CardError("ACCESS_DENIED")
        elif block != 0 and key not in _DATA[cond][1]:
            raise CardError("ACCESS_DENIED")
        if tear_after is not None:
            n = max(0, min(16, tear_after))
            self.mem[block * 16 : block * 16 + n] = data[:n]
            self.auth_state = None
            raise CardLost()
        self.mem[block * 16 : (block + 1) * 16] = data
        self.writes += 1
        if block == 0:
            self.uid = data[:4]

    def corrupt(self, block: int, rng: random.Random) -> None:
        """Flip a few bits of ``block`` (ageing, a bad write, a damaged card)."""
        for _ in range(3):
            i = block * 16 + rng.randrange(16)
            self.mem[i] ^= 1 << rng.randrange(8)

    def rekey(self, key_a: bytes, key_b: bytes) -> None:
        """Give every sector other keys (a card of another system: ``wrong_key``)."""
        for s in range(self.sectors):
            t = self._trailer(s)
            b = s * self.bps + self.bps - 1
            self.mem[b * 16 : (b + 1) * 16] = bytes(key_a) + t[6:10] + bytes(key_b)
