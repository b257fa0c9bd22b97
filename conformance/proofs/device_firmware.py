"""Firmware bugs of the reference devices, installed from outside: the proof that the perception suite's card
reader and handheld tests can fail.

The reader model (:class:`~simulators.devices.reader.ReaderModel`) and the handheld terminal
(:class:`~simulators.devices.handheld.HandheldTerminal`) have no bug switch.  Each bug here is a subclass that
replaces one public step: a reader's card command (``auth``, ``read_block``, ``write_block``), a handheld's
``upload``.  :data:`READER_BUGS` and :data:`HANDHELD_BUGS` map the ``switch`` of each ``card_reader`` /
``handheld`` entry of ``conformance/variants.toml`` to its class; the perception bench and the handheld rig
build the built-in device from them (:func:`reader_model`, :func:`handheld_class`).  What the host (or the
platform) sees is only what the broken firmware really sends.  The scale's firmware bugs are still switches of
the scale model (``simulators/devices/faults.py`` ``FIRMWARE_BUGS``).
"""

from __future__ import annotations

import httpx

from simulators.devices.faults import FaultSet
from simulators.devices.handheld import HandheldTerminal
from simulators.devices.reader import ReaderModel
from simulators.devices.refusal import Refused


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
    """The built-in reader for a variant's ``switch`` (``None``: clean): a firmware bug of :data:`READER_BUGS`,
    else the clean model with the switch's field faults (``bad_crc=40``…; :class:`FaultSet` checks them)."""
    if switch in READER_BUGS:
        return READER_BUGS[switch](seed=seed)
    specs = [s.strip() for s in switch.split(",")] if switch else []
    return ReaderModel(faults=FaultSet(specs, "reader"), seed=seed)


class DropsUnacknowledgedEntries(HandheldTerminal):
    """``drops_unacked`` (PERC-HAND-03): local entries are deleted even when the upload failed."""

    def upload(self, client: httpx.Client | None = None, max_per_envelope: int = 100):
        outcomes = super().upload(client, max_per_envelope)
        self.outbox = []
        return outcomes


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
}


def handheld_class(switch: str | None) -> tuple[type[HandheldTerminal], FaultSet]:
    """The built-in handheld for a variant's ``switch`` (``None``: clean) and the faults to give it: a firmware
    bug of :data:`HANDHELD_BUGS` and no fault, else the clean terminal with the switch's faults."""
    if switch in HANDHELD_BUGS:
        return HANDHELD_BUGS[switch], FaultSet()
    specs = [s.strip() for s in switch.split(",")] if switch else []
    return HandheldTerminal, FaultSet(specs, "handheld")
