"""A service-card reader (读写机具): a card field plus the reader command set.

Commands (``device_protocol.toml``): POLL, AUTH, READ_BLOCK, WRITE_BLOCK, HALT,
plus IDENTIFY / GET_CLOCK / SET_CLOCK / STATUS.  The reader knows nothing of
the profile's card layout; hosts do (:class:`~simulators.devices.driver.ReaderDriver`).
When a card enters the field the reader pushes a CARD_EVENT (UID only).

Faults (``FaultSet``, device ``reader``):
``card_pulled=N`` the next block write tears after N bytes and the card leaves
the field (NAK CARD_LOST); one-shot.  ``wrong_key`` cards presented carry
other keys (AUTH_FAILED).  ``corrupt_block=N`` block N of a presented card has
flipped bits.  ``cloned_uid`` when a UID comes back, the card presented is a
copy of that UID's card as first seen (same UID, older data).
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any, Callable, TypeVar

from profiles import load_profile
from profiles.device import get_protocol
from profiles.device import messages as m
from profiles.device.card_layout import CardLayout
from profiles.profile import Profile

from .card import CardError, MifareCard
from .clock import DeviceClock
from .faults import FaultSet
from .refusal import Refused

T = TypeVar("T")


class ReaderModel:
    kind = "reader"

    def __init__(
        self,
        *,
        profile: Profile | None = None,
        faults: FaultSet | None = None,
        seed: int = 0,
        time_source: Callable[[], float] = time.monotonic,
        layout: CardLayout | None = None,
    ) -> None:
        self.profile = profile or load_profile()
        data = get_protocol(profile=self.profile).data  # parsed once per profile
        self.protocol_name = data["protocol"]["name"]
        self.layout = layout or CardLayout(data)
        self.faults = faults or FaultSet()
        self.rng = random.Random(seed)
        self.clock = DeviceClock(time_source, drift_ppm=float(self.faults.value("clock_drift", 0.0)))
        self.serial_no = f"RR{random.Random(seed).randrange(10**10):010d}"
        self.card: MifareCard | None = None
        self.events: deque[m.Message] = deque()
        self._first_seen: dict[bytes, MifareCard] = {}
        self.powered = True
        self._handlers: dict[type[m.Message], Callable[[Any], m.Message | None]] = {
            m.IdentifyRequest: lambda q: self.identify(),
            m.GetClockRequest: lambda q: m.GetClockResponse(self.clock.now().replace(microsecond=0)),
            m.SetClockRequest: lambda q: self.clock.set(q.time),
            m.StatusRequest: lambda q: m.StatusResponse(0, 0, 0, 0, 0, False, False, [], 0),
            m.PollRequest: lambda q: self.poll(),
            m.AuthRequest: lambda q: self.auth(q.sector, q.key_type, q.key),
            m.ReadBlockRequest: lambda q: m.ReadBlockResponse(q.block, self.read_block(q.block)),
            m.WriteBlockRequest: lambda q: self.write_block(q.block, q.data),
            m.HaltRequest: lambda q: self.halt(),
        }

    def handle(self, msg: m.Message) -> m.Message | None:
        h = self._handlers.get(type(msg))
        if h is None:
            raise Refused("UNKNOWN_CMD", msg.wire)
        return h(msg)

    def pop_events(self) -> list[m.Message]:
        out = list(self.events)
        self.events.clear()
        return out

    def identify(self) -> m.IdentifyResponse:
        caps = {"card_family": "mifare-classic-1k", "sectors": str(self.layout.sectors), "card_reader": "1"}
        return m.IdentifyResponse(
            "reader",
            "roucai-sim",
            "RR-1",
            "1.0.0",
            self.serial_no,
            self.protocol_name,
            [m.Capability(k, v) for k, v in caps.items()],
        )

    # -- the field --------------------------------------------------------------------
    def present(self, card: MifareCard) -> MifareCard:
        """Put ``card`` in the field (faults may swap or alter it); returns what is in the field."""
        uid = bytes(card.uid)
        if uid not in self._first_seen:
            self._first_seen[uid] = card.copy()
        elif self.faults.on("cloned_uid"):
            card = self._first_seen[uid].copy(magic=True)
        if self.faults.on("wrong_key"):
            card.rekey(bytes.fromhex("FFFFFFFFFFFF"), bytes.fromhex("FFFFFFFFFFFF"))
        if self.faults.on("corrupt_block"):
            card.corrupt(int(self.faults.value("corrupt_block")), self.rng)
        card.halted = False
        card.auth_state = None
        self.card = card
        if not self.faults.on("no_events"):
            self.events.append(m.CardEvent(1, uid, "", 0))
        return card

    def remove(self) -> MifareCard | None:
        card, self.card = self.card, None
        if card is not None and not self.faults.on("no_events"):
            self.events.append(m.CardEvent(2, bytes(card.uid), "", 0))
        return card

    def poll(self) -> m.PollResponse:
        c = self.card
        if c is None or c.halted:
            return m.PollResponse(False, b"", 0)
        return m.PollResponse(True, c.uid, c.sak)

    # The card commands: AUTH, READ_BLOCK, WRITE_BLOCK (a firmware's bug replaces one of them in a subclass,
    # installed from outside by a proof: conformance/proofs/device_firmware.py).
    def auth(self, sector: int, key_type: int, key: bytes) -> None:
        self.on_card(lambda c: c.authenticate(sector, key_type, key))

    def read_block(self, block: int) -> bytes:
        return self.on_card(lambda c: c.read(block))

    def on_card(self, fn: Callable[[MifareCard], T]) -> T:
        """``fn(the card in the field)``; NO_CARD without one, a card's refusal as its NAK reason."""
        if self.card is None or self.card.halted:
            raise Refused("NO_CARD")
        try:
            return fn(self.card)
        except CardError as e:
            raise Refused(e.reason) from e

    def write_block(self, block: int, data: bytes) -> None:
        tear = None
        if self.faults.on("card_pulled"):
            tear = int(self.faults.value("card_pulled"))
            self.faults.clear("card_pulled")
        try:
            self.on_card(lambda c: c.write(block, data, tear))
        except Refused as r:
            if r.reason == "CARD_LOST":
                self.remove()
            raise

    def halt(self) -> None:
        if self.card is None:
            raise Refused("NO_CARD")
        self.card.halted = True
        self.card.auth_state = None
