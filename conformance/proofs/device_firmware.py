"""Firmware bugs of the reference devices, installed from outside: the proof that the perception suite's
device tests can fail.

The scale model (:class:`~simulators.devices.scale.ScaleModel`), the reader model
(:class:`~simulators.devices.reader.ReaderModel`) and the handheld terminal
(:class:`~simulators.devices.handheld.HandheldTerminal`) have no bug switch.  Each bug here is a subclass that
replaces one public step: a step of a scale's sale, status, read or power cycle; a reader's card command
(``auth``, ``read_block``, ``write_block``); a handheld's ``upload``.  :data:`SCALE_BUGS`, :data:`READER_BUGS`
and :data:`HANDHELD_BUGS` map the ``switch`` of each device entry of ``conformance/variants.toml`` to its
class; the perception bench and the handheld rig build the built-in device from them (:func:`device_class`).
What the host (or the platform) sees is only what the broken firmware really sends.  The models' own fault
switches (``simulators/devices/faults.py``) are field and line faults only.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from profiles.device import messages as m
from simulators.devices.faults import FaultSet
from simulators.devices.handheld import HandheldTerminal
from simulators.devices.reader import ReaderModel
from simulators.devices.refusal import Refused
from simulators.devices.scale import ScaleModel

# -- the scale ---------------------------------------------------------------------------------------------


class MisreportsCapabilities(ScaleModel):
    """``caps_misreported`` (PERC-SCALE-20): IDENTIFY reports a capacity the scale does not have (30 kg)."""

    def capabilities(self) -> dict[str, str]:
        return {**super().capabilities(), "max_g": "30000"}


class AcceptsBadCodes(ScaleModel):
    """``accepts_bad_codes``: loaded batches' codes are not validated."""

    def check_codes(self, batch_trace: str, commodity: str) -> None:
        return None


class OneBatchOnly(ScaleModel):
    """``one_batch``: holds one batch only while IDENTIFY declares more."""

    def load_batch(self, batch_trace: str, commodity: str, commodity_name: str, limit_g: int, unit_price_fen: int):
        if self.store.batch(batch_trace) is None and self.store.batches():
            raise Refused("BATCH_TABLE_FULL")
        super().load_batch(batch_trace, commodity, commodity_name, limit_g, unit_price_fen)


class HidesPaperOut(ScaleModel):
    """``hides_paper_out``: STATUS says the paper is fine while it is out."""

    def status(self) -> m.StatusResponse:
        return replace(super().status(), paper=0)


class IgnoresStopTrade(ScaleModel):
    """``ignore_stop`` (PERC-SCALE-19): a stopped batch still sells."""

    def check_stopped(self, batch: dict) -> None:
        return None


class OverwritesUnacknowledged(ScaleModel):
    """``overwrite_full``: when storage is full the oldest unacknowledged record is overwritten."""

    def memory_full(self) -> None:
        self.store.acknowledge(self.store.read_from(0, 1)[0]["idx"])


class SellsUnstable(ScaleModel):
    """``sells_unstable``: a sale completes on an unstable reading."""

    def saleable(self, r) -> bool:
        mt = self.metro
        return super().saleable(r) or (r.net_g >= mt.min_g and not r.overload and r.gross_g <= mt.max_g)


class SellsOverloaded(ScaleModel):
    """``no_overload``: a sale completes while the scale is overloaded."""

    def saleable(self, r) -> bool:
        return super().saleable(r) or (r.net_g >= self.metro.min_g and r.stable)


class NoQuantityLimit(ScaleModel):
    """``no_limit`` (PERC-SCALE-06): a batch can be oversold."""

    def check_limit(self, batch: dict, net_g: int) -> None:
        return None


class ReusesTraceCodes(ScaleModel):
    """``dup_seq``: trace sequence numbers reused (every two sales share one)."""

    def next_trace_seq(self, last: int) -> int:
        return last if last > 0 and self.sale_attempts % 2 == 0 else last + 1


class TruncatesAmounts(ScaleModel):
    """``amount_truncated``: amounts truncated instead of rounded half-up to the fen."""

    @staticmethod
    def amount_fen(net_g: int, unit_price_fen: int) -> int:
        return net_g * unit_price_fen // 1000


class QrCarriesOrderNo(ScaleModel):
    """``qr_order_no``: the receipt's QR code carries the order number instead of the trace code."""

    def print_receipt(self, rec: m.SaleRecord, stall: dict) -> None:
        super().print_receipt(rec, stall)
        cfg = self.receipt_cfg
        self.receipts[-1].qr_content = cfg["qr_template"].format(
            url=cfg["qr_url"], order_no=rec.order_no, trace_code=rec.order_no
        )


class ReceiptWithoutTraceCode(ScaleModel):
    """``receipt_no_trace``: receipts lack the trace code."""

    def print_receipt(self, rec: m.SaleRecord, stall: dict) -> None:
        super().print_receipt(rec, stall)
        last = self.receipts[-1]
        last.lines = [replace(line, trace_code="") for line in last.lines]


class FreesBeforeAck(ScaleModel):
    """``free_on_read``: records are freed as soon as they are read, no acknowledgement awaited."""

    def read_records(self, from_index: int, max_count: int, max_bytes: int = 1900) -> m.ReadRecordsResponse:
        resp = super().read_records(from_index, max_count, max_bytes)
        if resp.records:
            self.store.acknowledge(resp.records[-1].index)
        return resp


class LosesSaleOnPowerCut(ScaleModel):
    """``lose_on_power_cut``: a power cut loses the last committed sale (write cache not flushed)."""

    def power_cut(self) -> None:
        if self.store.durable:
            self.store.drop_newest()
        super().power_cut()


class TraceSeqBackAfterPowerCut(ScaleModel):
    """``seq_reset_on_power_cut``: after a power cut the trace sequence goes back by one (a code issued twice)."""

    def restart(self) -> None:
        super().restart()
        self.store.reset_trace_seq(max(0, self.store.last_trace_seq - 1))


class StoresRecordsWithoutCodes(ScaleModel):
    """``missing_fields``: sale records lack the batch trace code and the commodity code."""

    @staticmethod
    def as_stored(sale: dict) -> dict:
        return {**sale, "batch_trace": "", "commodity": ""}


class ForgetsStallBinding(ScaleModel):
    """``binding_volatile``: the stall binding is kept in RAM only and lost at a restart."""

    def restart(self) -> None:
        super().restart()
        self.store.forget_stall()


#: switch of a scale variant -> the scale with that firmware bug
SCALE_BUGS: dict[str, type[ScaleModel]] = {
    "caps_misreported": MisreportsCapabilities,
    "accepts_bad_codes": AcceptsBadCodes,
    "one_batch": OneBatchOnly,
    "hides_paper_out": HidesPaperOut,
    "ignore_stop": IgnoresStopTrade,
    "overwrite_full": OverwritesUnacknowledged,
    "sells_unstable": SellsUnstable,
    "no_overload": SellsOverloaded,
    "no_limit": NoQuantityLimit,
    "dup_seq": ReusesTraceCodes,
    "amount_truncated": TruncatesAmounts,
    "qr_order_no": QrCarriesOrderNo,
    "receipt_no_trace": ReceiptWithoutTraceCode,
    "free_on_read": FreesBeforeAck,
    "lose_on_power_cut": LosesSaleOnPowerCut,
    "seq_reset_on_power_cut": TraceSeqBackAfterPowerCut,
    "binding_volatile": ForgetsStallBinding,
    "missing_fields": StoresRecordsWithoutCodes,
}

# -- the card reader ---------------------------------------------------------------------------------------


class AcceptsAnyKey(ReaderModel):
    """``skip_auth`` (PERC-CARD-03): any key passes sector authentication."""

    def auth(self, sector: int, key_type: int, key: bytes) -> None:
        if self.card is not None and 0 <= sector < self.card.sectors:
            self.card.auth_state = (sector, "B" if key_type == 0x61 else "A")
            return
        super().auth(sector, key_type, key)


class HalfCard(ReaderModel):
    """``half_card`` (PERC-READER-02): the firmware handles sectors 0-7 only."""

    def _beyond(self, block: int) -> None:
        if self.card is not None and not self.card.halted and block >= 8 * self.layout.bps:
            raise Refused("BAD_BLOCK", "firmware handles sectors 0-7 only")

    def auth(self, sector: int, key_type: int, key: bytes) -> None:
        self._beyond(sector * self.layout.bps)
        super().auth(sector, key_type, key)

    def read_block(self, block: int) -> bytes:
        self._beyond(block)
        return super().read_block(block)

    def write_block(self, block: int, data: bytes) -> None:
        self._beyond(block)
        super().write_block(block, data)


class DropsCardWrites(ReaderModel):
    """``lost_writes`` (PERC-CARD-08): a block write is checked and acknowledged but never reaches the card."""

    def write_block(self, block: int, data: bytes) -> None:
        self.on_card(lambda c: c.check(block))


class TornWriteUndetected(ReaderModel):
    """``ack_torn_write`` (PERC-CARD-02): a write torn by the card leaving the field is answered as success."""

    def write_block(self, block: int, data: bytes) -> None:
        try:
            super().write_block(block, data)
        except Refused as r:
            if r.reason != "CARD_LOST":
                raise


#: switch of a card_reader variant -> the reader with that firmware bug
READER_BUGS: dict[str, type[ReaderModel]] = {
    "skip_auth": AcceptsAnyKey,
    "half_card": HalfCard,
    "lost_writes": DropsCardWrites,
    "ack_torn_write": TornWriteUndetected,
}


def reader_model(switch: str | None, seed: int) -> ReaderModel:
    """The built-in reader for a variant's ``switch`` (``None``: clean)."""
    cls, faults = device_class("reader", switch)
    return cls(faults=faults, seed=seed)


# -- the handheld ------------------------------------------------------------------------------------------


class DropsUnacknowledgedEntries(HandheldTerminal):
    """``drops_unacked`` (PERC-HAND-03): local entries are deleted even when the upload failed."""

    def upload(self, client: httpx.Client | None = None, max_per_envelope: int = 100):
        outcomes = super().upload(client, max_per_envelope)
        self.outbox = []
        return outcomes


class DropsARequiredField(HandheldTerminal):
    """``missing_fields``: each entry loses one of its required fields (a seeded choice) after the checks."""

    def check_entry(self, type_name: str, rec: dict) -> dict:
        rec = super().check_entry(type_name, rec)
        rt = self.p.records.types[type_name]
        drop = sorted(n for n in rt.required if n in rec and n != rt.node_field)
        if drop:
            rec = dict(rec)
            rec.pop(self.rng.choice(drop))
        return rec


class _PostsTwice:
    """An HTTP client whose every POST is sent twice (the second answer is returned)."""

    def __init__(self, client: httpx.Client):
        self.client = client

    def post(self, *args, **kwargs) -> httpx.Response:
        self.client.post(*args, **kwargs)
        return self.client.post(*args, **kwargs)


class UploadsTwice(HandheldTerminal):
    """``duplicate_upload``: every envelope is uploaded twice."""

    def upload(self, client: httpx.Client | None = None, max_per_envelope: int = 100):
        own = client is None
        client = client or httpx.Client(timeout=self.timeout_s, trust_env=False)
        try:
            return super().upload(_PostsTwice(client), max_per_envelope)
        finally:
            if own:
                client.close()


#: switch of a handheld variant -> the terminal with that firmware bug
HANDHELD_BUGS: dict[str, type[HandheldTerminal]] = {
    "drops_unacked": DropsUnacknowledgedEntries,
    "duplicate_upload": UploadsTwice,
    "missing_fields": DropsARequiredField,
}


_BUGS = {
    "scale": (ScaleModel, SCALE_BUGS),
    "reader": (ReaderModel, READER_BUGS),
    "handheld": (HandheldTerminal, HANDHELD_BUGS),
}


def device_class(device: str, switch: str | None) -> tuple[type, FaultSet]:
    """The built-in ``device`` (scale, reader, handheld) for a variant's ``switch`` (``None``: clean) and the faults
    to give it: a firmware bug's class and no fault, else the clean model with the switch's field faults
    (``bad_crc=40``, ``memory_full=5000``…; :class:`FaultSet` checks them)."""
    clean, bugs = _BUGS[device]
    if switch in bugs:
        return bugs[switch], FaultSet()
    return clean, FaultSet([s.strip() for s in switch.split(",")] if switch else [], device)
