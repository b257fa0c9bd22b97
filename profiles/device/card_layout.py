"""Service card (肉类蔬菜流通服务卡) data layout of the reference profile.

EVIDENCE: profile.  MOFCOM's card record format and encryption rules are not
public (devices.md §2.4).  The chip model is Mifare-1K-like: 16 sectors × 4
blocks × 16 bytes; block 3 of each sector is the trailer (key A | access bits
| GPB | key B); block 0 holds the UID.  The profile lays out (``[card]`` in
``device_protocol.toml``):

* sector 0: block 0 manufacturer (UID, BCC, SAK, ATQA); block 1 the
  application id (``RCZS``) and layout version;
* sectors 1 and 2: the **base record** (card type 01 服务卡, kind 01 主卡 / 02
  副卡, operator code, issuing node, holder name GB18030), written as two
  copies A/B: a writer overwrites the copy that is invalid or older, with
  ``version + 1``; a reader takes the valid copy with the highest version.
  A torn write (card pulled mid-write) therefore damages only the copy being
  written, and is *detected* (its CRC fails) rather than read as data;
* sectors 3..14: a ring of the **last N purchased batches** (written at
  wholesale), one 48-byte record per sector with a write sequence; the newest
  record overwrites the oldest slot.

Each 48-byte record (3 data blocks) ends with CRC-16/CCITT-FALSE; the base
record carries a 4-byte MAC binding it to the card's UID (HMAC-SHA256 with the
profile's test key), so data copied onto another card fails the MAC.  A card
whose UID *and* data were cloned is detectable only by the host (a UID seen
again with an older version, see :class:`CardWatch`).

Rule ids of the findings: PERC-CARD-01 layout (application id, magic),
PERC-CARD-02 record check (torn write / corrupt block), PERC-CARD-03 UID
binding (data copied to another card), PERC-CARD-04 codes inside the card,
PERC-CARD-05 cloned UID suspected.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..findings import Finding
from .fields import FieldSpec, Layout, PayloadError
from .framer import crc16

if TYPE_CHECKING:  # typing only: the loader is imported lazily (load_card_layout)
    from ..codes import CodeBook
    from ..profile import Profile

RECORD_BYTES = 48


@dataclass(frozen=True)
class CardHolder:
    """Base record of a card (what is issued to an operator)."""

    operator_code: str
    issuing_node: str
    holder_name: str
    kind: int = 1  # 1 主卡, 2 副卡
    card_type: int = 1  # 01 服务卡


@dataclass(frozen=True)
class CardBatch:
    """One purchased batch written to the card at wholesale."""

    batch_trace: str
    commodity: str
    weight_g: int
    unit_price_fen: int
    date: int  # yyyymmdd


@dataclass
class CardReading:
    """What a card holds, as interpreted by the layout, plus findings."""

    uid: bytes
    holder: CardHolder | None = None
    version: int = 0
    batches: list[CardBatch] = field(default_factory=list)  # newest first
    batch_seqs: list[int] = field(default_factory=list)
    base_copies: dict[int, int | None] = field(default_factory=dict)  # sector -> version (None: invalid)
    batch_slots: dict[int, int | None] = field(default_factory=dict)  # sector -> write_seq (None: invalid/empty)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.holder is not None and not any(f.severity == "error" for f in self.findings)


class CardLayout:
    """The profile's card layout; pure functions over block dicts ``{block: 16 bytes}``."""

    def __init__(self, data: dict[str, Any]):
        c = data["card"]
        self.sectors = int(c["sectors"])
        self.bps = int(c["blocks_per_sector"])
        self.block_size = int(c["block_size"])
        self.uid_bytes = int(c["uid_bytes"])
        self.app_id = c["app_id"].encode("ascii")
        self.layout_version = int(c["layout_version"])
        self.base_sectors = [int(s) for s in c["base_sectors"]]
        self.batch_sectors = [int(s) for s in c["batch_sectors"]]
        self.key_a = bytes.fromhex(c["key_a"])
        self.key_b = bytes.fromhex(c["key_b"])
        self.mac_key = bytes.fromhex(c["mac_key"])
        self.access_bits = bytes.fromhex(c["access_bits"])
        self.kinds = {int(k): v for k, v in c["kinds"].items()}
        self.card_type_service = int(c["card_type_service"])
        self.base_layout = Layout([FieldSpec.from_data(f) for f in c["base_record"]["fields"]])
        self.batch_layout = Layout([FieldSpec.from_data(f) for f in c["batch_record"]["fields"]])
        self.base_magic = c["base_record"]["magic"]
        self.batch_magic = c["batch_record"]["magic"]
        for lay in (self.base_layout, self.batch_layout):
            if lay.fixed_size != RECORD_BYTES:
                raise ValueError(f"card record layout is {lay.fixed_size} bytes, must be {RECORD_BYTES}")

    # -- geometry ---------------------------------------------------------------
    @property
    def total_blocks(self) -> int:
        return self.sectors * self.bps

    def data_blocks(self, sector: int) -> list[int]:
        """The 3 data blocks of ``sector`` (trailer excluded)."""
        first = sector * self.bps
        return [first + i for i in range(self.bps - 1)]

    def trailer_block(self, sector: int) -> int:
        return sector * self.bps + self.bps - 1

    def sector_of(self, block: int) -> int:
        return block // self.bps

    def trailer(self) -> bytes:
        """The profile's sector trailer: key A | access bits | GPB 0x69 | key B."""
        return self.key_a + self.access_bits + b"\x69" + self.key_b

    # -- records ------------------------------------------------------------------
    def mac(self, uid: bytes, operator_code: str, kind: int) -> bytes:
        msg = bytes(uid) + operator_code.encode("ascii", "replace") + bytes((kind & 0xFF,))
        return hmac.new(self.mac_key, msg, hashlib.sha256).digest()[:4]

    def encode_base(self, holder: CardHolder, uid: bytes, version: int) -> bytes:
        """48 bytes of the base record.  Raises PayloadError for values that do not fit."""
        d = {
            "magic": self.base_magic,
            "version": version & 0xFFFF,
            "card_type": holder.card_type,
            "kind": holder.kind,
            "operator_code": holder.operator_code,
            "issuing_node": holder.issuing_node,
            "holder_name": holder.holder_name,
            "mac": self.mac(uid, holder.operator_code, holder.kind),
            "crc": 0,
        }
        raw = self.base_layout.encode(d)
        return raw[:-2] + crc16(raw[:-2]).to_bytes(2, "big")

    def encode_batch(self, b: CardBatch, write_seq: int) -> bytes:
        d = {
            "magic": self.batch_magic,
            "write_seq": write_seq & 0xFFFF,
            "batch_trace": b.batch_trace,
            "commodity": b.commodity,
            "weight_g": b.weight_g,
            "unit_price_fen": b.unit_price_fen,
            "date": b.date,
            "reserved": b"\0\0",
            "crc": 0,
        }
        raw = self.batch_layout.encode(d)
        return raw[:-2] + crc16(raw[:-2]).to_bytes(2, "big")

    def _record(self, blocks: dict[int, bytes], sector: int) -> bytes | None:
        wanted = self.data_blocks(sector)
        parts = [p for b in wanted if (p := blocks.get(b)) is not None and len(p) == self.block_size]
        if len(parts) != len(wanted):
            return None
        return b"".join(parts)

    @staticmethod
    def _blank(raw: bytes) -> bool:
        return raw.count(0) == len(raw)

    def _decode_checked(self, layout: Layout, magic: str, raw: bytes) -> tuple[dict[str, Any] | None, str]:
        """(values, problem): problem is '' (ok), 'blank', 'magic', 'crc' or 'format'."""
        if self._blank(raw):
            return None, "blank"
        if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
            return None, "magic" if raw[:2] != magic.encode() else "crc"
        try:
            vals = layout.decode(raw)
        except PayloadError:
            return None, "format"
        if vals["magic"] != magic:
            return None, "magic"
        return vals, ""

    # -- reading ------------------------------------------------------------------
    def read(self, blocks: dict[int, bytes], uid: bytes, codes: CodeBook | None = None) -> CardReading:
        """Interpret the card's blocks (missing blocks count as unreadable).

        ``codes``: a :class:`profiles.codes.CodeBook` to check the codes inside.
        Never raises for bad card content: problems are findings.
        """
        r = CardReading(uid=bytes(uid))
        app = blocks.get(1)
        if app is None or app[:4] != self.app_id:
            r.findings.append(
                Finding(
                    "PERC-CARD-01",
                    "block 1",
                    "卡片应用标识不是本配置的「RCZS」（非服务卡或未发卡）",
                    "application id is not the profile's 'RCZS' (not a service card, or blank)",
                    value=(app or b"").hex(),
                )
            )
        best = None
        for s in self.base_sectors:
            raw = self._record(blocks, s)
            if raw is None:
                r.base_copies[s] = None
                continue
            vals, problem = self._decode_checked(self.base_layout, self.base_magic, raw)
            r.base_copies[s] = vals["version"] if vals else None
            if vals and (best is None or vals["version"] > best["version"]):
                best = vals
            elif problem in ("crc", "magic", "format"):
                r.findings.append(
                    Finding(
                        "PERC-CARD-02",
                        f"sector {s}",
                        f"基本信息副本（扇区{s}）校验失败：写入中断（撕裂写）或数据损坏",
                        f"base record copy (sector {s}) fails its check: torn write or corrupt block",
                        severity="warning",
                    )
                )
        if best is None:
            r.findings.append(Finding("PERC-CARD-02", "base", "没有有效的基本信息副本", "no valid base record copy"))
        else:
            r.holder = CardHolder(
                best["operator_code"], best["issuing_node"], best["holder_name"], best["kind"], best["card_type"]
            )
            r.version = best["version"]
            if not hmac.compare_digest(best["mac"], self.mac(uid, r.holder.operator_code, r.holder.kind)):
                r.findings.append(
                    Finding(
                        "PERC-CARD-03",
                        "mac",
                        "UID绑定码不符：卡内数据不是为此UID的卡写入的（复制卡）",
                        "UID binding MAC mismatch: the data was not written for this card's UID (copied)",
                        value=bytes(uid).hex(),
                    )
                )
            if r.holder.card_type != self.card_type_service:
                r.findings.append(
                    Finding(
                        "PERC-CARD-01",
                        "card_type",
                        f"卡类型{r.holder.card_type:02d}不是01服务卡",
                        f"card type {r.holder.card_type:02d} is not 01 (service card)",
                    )
                )
            if r.holder.kind not in self.kinds:
                r.findings.append(
                    Finding(
                        "PERC-CARD-01",
                        "kind",
                        f"卡别{r.holder.kind:02d}无效（01主卡/02副卡）",
                        f"kind {r.holder.kind:02d} is invalid (01 main / 02 secondary)",
                    )
                )
        got = []
        for s in self.batch_sectors:
            raw = self._record(blocks, s)
            if raw is None:
                r.batch_slots[s] = None
                continue
            vals, problem = self._decode_checked(self.batch_layout, self.batch_magic, raw)
            r.batch_slots[s] = vals["write_seq"] if vals else None
            if vals:
                got.append(
                    (
                        vals["write_seq"],
                        CardBatch(
                            vals["batch_trace"],
                            vals["commodity"],
                            vals["weight_g"],
                            vals["unit_price_fen"],
                            vals["date"],
                        ),
                    )
                )
            elif problem != "blank":
                r.findings.append(
                    Finding(
                        "PERC-CARD-02",
                        f"sector {s}",
                        f"批次记录（扇区{s}）校验失败：写入中断（撕裂写）或数据损坏",
                        f"batch record (sector {s}) fails its check: torn write or corrupt block",
                        severity="warning",
                    )
                )
        got.sort(key=lambda t: -t[0])
        r.batches = [b for _, b in got]
        r.batch_seqs = [s for s, _ in got]
        if codes is not None:
            r.findings += self._code_findings(r, codes)
        return r

    def _code_findings(self, r: CardReading, codes: CodeBook) -> list[Finding]:
        out = []
        checks = []
        if r.holder:
            checks += [
                ("operator_code", r.holder.operator_code, "operator"),
                ("issuing_node", r.holder.issuing_node, "node"),
            ]
        for i, b in enumerate(r.batches):
            checks += [
                (f"batches[{i}].batch_trace", b.batch_trace, "trace"),
                (f"batches[{i}].commodity", b.commodity, "commodity"),
            ]
        for name, value, kind in checks:
            for fi in codes.findings(value, kind):
                out.append(Finding("PERC-CARD-04", name, fi.zh, fi.en, value=value))
        return out

    # -- writing ------------------------------------------------------------------
    def _as_blocks(self, sector: int, raw: bytes) -> list[tuple[int, bytes]]:
        bs = self.block_size
        return [(blk, raw[i * bs : (i + 1) * bs]) for i, blk in enumerate(self.data_blocks(sector))]

    def plan_base_write(self, reading: CardReading, holder: CardHolder) -> list[tuple[int, bytes]]:
        """Blocks to write to store ``holder`` safely (into the older or invalid copy)."""
        copies = reading.base_copies
        target = min(self.base_sectors, key=lambda s: -1 if (v := copies.get(s)) is None else v)
        raw = self.encode_base(holder, reading.uid, reading.version + 1)
        return self._as_blocks(target, raw)

    def plan_batch_write(self, reading: CardReading, batch: CardBatch) -> list[tuple[int, bytes]]:
        """Blocks to write to add ``batch`` as the newest ring entry (overwrites the oldest)."""
        slots = reading.batch_slots
        target = min(self.batch_sectors, key=lambda s: -1 if (v := slots.get(s)) is None else v)
        seq = (max(reading.batch_seqs) + 1) if reading.batch_seqs else 1
        return self._as_blocks(target, self.encode_batch(batch, seq))

    # -- issuing --------------------------------------------------------------------
    def manufacturer_block(self, uid: bytes) -> bytes:
        """Block 0: UID | BCC | SAK 0x08 | ATQA 04 00 | manufacturer bytes."""
        uid = bytes(uid)
        if len(uid) != self.uid_bytes:
            raise ValueError(f"UID must be {self.uid_bytes} bytes")
        bcc = uid[0] ^ uid[1] ^ uid[2] ^ uid[3]
        return uid + bytes((bcc, 0x08, 0x04, 0x00)) + b"RCSIM\0\0\0"

    def issue(self, uid: bytes, holder: CardHolder) -> dict[int, bytes]:
        """A freshly issued card image ``{block: 16 bytes}`` for every block."""
        blocks = {b: bytes(self.block_size) for b in range(self.total_blocks)}
        blocks[0] = self.manufacturer_block(uid)
        blocks[1] = self.app_id + bytes((self.layout_version,)) + bytes(self.block_size - 5)
        for s in range(self.sectors):
            blocks[self.trailer_block(s)] = self.trailer()
        raw = self.encode_base(holder, uid, 1)
        for blk, data in self._as_blocks(self.base_sectors[0], raw):
            blocks[blk] = data
        return blocks


class CardWatch:
    """Host-side memory of cards seen: flags a UID that comes back inconsistent.

    A clone (same UID, copied data) is invisible to the card layout; the host
    notices it when the UID shows a *lower* version than already seen, or a
    different operator code (PERC-CARD-05).  Bounded: remembers ``max_cards``.
    """

    def __init__(self, max_cards: int = 100_000):
        self.max_cards = max_cards
        self._seen: dict[bytes, tuple[str, int, int]] = {}

    def observe(self, reading: CardReading) -> list[Finding]:
        if reading.holder is None:
            return []
        uid = bytes(reading.uid)
        seq = reading.batch_seqs[0] if reading.batch_seqs else 0
        cur = (reading.holder.operator_code, reading.version, seq)
        old = self._seen.get(uid)
        out = []
        if old is not None:
            if old[0] != cur[0]:
                out.append(
                    Finding(
                        "PERC-CARD-05",
                        "uid",
                        f"同一UID出现不同经营者编码（{old[0]} / {cur[0]}）：疑似克隆卡",
                        f"the same UID carries another operator code ({old[0]} / {cur[0]}): cloned card suspected",
                        value=uid.hex(),
                    )
                )
            elif cur[1] < old[1] or cur[2] < old[2]:
                out.append(
                    Finding(
                        "PERC-CARD-05",
                        "uid",
                        "同一UID的写入版本倒退：疑似克隆卡（旧数据的复制品）",
                        "the same UID shows an older write version than seen before: cloned card suspected",
                        value=uid.hex(),
                    )
                )
        if old is None and len(self._seen) >= self.max_cards:
            self._seen.pop(next(iter(self._seen)))
        if old is None or cur[1:] >= old[1:]:
            self._seen[uid] = cur
        return out

    def wrote(self, uid: bytes, operator_code: str, version: int, batch_seq: int) -> None:
        """Record what this host itself just wrote to a card."""
        self._seen[bytes(uid)] = (operator_code, version, batch_seq)


def load_card_layout(profile: Profile | None = None) -> CardLayout:
    """The card layout of ``profile`` (default: the reference profile)."""
    if profile is None:
        from ..profile import load_profile

        profile = load_profile()
    return CardLayout(profile.data("device_protocol"))
