"""One class per message of ``roucai-dp/1``: payload ⇄ typed object.

Every class names its wire message (the key under ``[messages]`` in
``device_protocol.toml``) and its role; classes register themselves in
:data:`REGISTRY` when defined.  The field lists (order, wire types, units) live
in the TOML; :mod:`profiles.device.protocol` checks at load time that each
class's fields are exactly the TOML's, so data and code cannot drift apart.

Wire names are converted to class names in one place, :func:`class_name`
(``READ_RECORDS`` + ``request`` -> ``ReadRecordsRequest``; events keep their
name: ``SALE_EVENT`` -> ``SaleEvent``).

Units: grams, fen per kg, fen; times are naive ``datetime`` on the device clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Callable, ClassVar, TypeVar

#: (wire name, role) -> message class.  Roles: request, response, event, control.
REGISTRY: dict[tuple[str, str], type["Message"]] = {}
#: struct name (``[structs.NAME]``) -> class.
STRUCTS: dict[str, type] = {}


def class_name(wire: str, role: str) -> str:
    """The Python class name of wire message ``wire`` in ``role``."""
    base = "".join(part.capitalize() for part in wire.split("_"))
    return base if role in ("event", "control") else base + role.capitalize()


class Message:
    """Base of all messages; subclasses pass ``wire=`` and ``role=``."""

    wire: ClassVar[str] = ""
    role: ClassVar[str] = ""

    def __init_subclass__(cls, wire: str = "", role: str = "", **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if wire:
            cls.wire, cls.role = wire, role
            if class_name(wire, role) != cls.__name__:
                raise TypeError(f"{cls.__name__} should be named {class_name(wire, role)}")
            REGISTRY[(wire, role)] = cls

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (datetimes ISO, bytes hex, structs as dicts)."""
        # every concrete message is declared with @dataclass; the base class itself never is
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return {f.name: _plain(getattr(v, f.name)) for f in fields(v)}
    return v


_T = TypeVar("_T", bound=type)


def struct(name: str) -> Callable[[_T], _T]:
    """Register a dataclass as the struct ``[structs.NAME]``."""

    def deco(cls: _T) -> _T:
        STRUCTS[name] = cls
        return cls

    return deco


# -- structs ----------------------------------------------------------------


@struct("capability")
@dataclass
class Capability:
    """One entry of a capability statement (value as text; see ``[capabilities]``)."""

    key: str
    value: str


@struct("sale_record")
@dataclass
class SaleRecord:
    """One committed sale line as stored by a scale (grams, fen/kg, fen)."""

    index: int
    trace_code: str
    batch_trace: str
    commodity: str
    commodity_name: str
    weight_g: int
    unit_price_fen: int
    amount_fen: int
    time: datetime
    order_no: str
    operator_code: str
    stall: str


@struct("batch_entry")
@dataclass
class BatchEntry:
    """A batch loaded on a scale, with what was sold of it."""

    batch_trace: str
    commodity: str
    limit_g: int
    sold_g: int
    unit_price_fen: int
    stopped: bool


# -- control ------------------------------------------------------------------


@dataclass
class Ack(Message, wire="ACK", role="control"):
    """Positive acknowledgement of command ``cmd`` (or of an event)."""

    cmd: int


@dataclass
class Nak(Message, wire="NAK", role="control"):
    """Negative acknowledgement of command ``cmd`` with a reason code (``[[nak]]``)."""

    cmd: int
    reason: int


# -- common -------------------------------------------------------------------


@dataclass
class IdentifyRequest(Message, wire="IDENTIFY", role="request"):
    pass


@dataclass
class IdentifyResponse(Message, wire="IDENTIFY", role="response"):
    device_kind: str
    vendor: str
    model: str
    firmware: str
    serial_no: str
    protocol: str
    capabilities: list[Capability] = field(default_factory=list)

    def capability_map(self) -> dict[str, str]:
        return {c.key: c.value for c in self.capabilities}


@dataclass
class GetClockRequest(Message, wire="GET_CLOCK", role="request"):
    pass


@dataclass
class GetClockResponse(Message, wire="GET_CLOCK", role="response"):
    time: datetime


@dataclass
class SetClockRequest(Message, wire="SET_CLOCK", role="request"):
    time: datetime


@dataclass
class StatusRequest(Message, wire="STATUS", role="request"):
    pass


@dataclass
class StatusResponse(Message, wire="STATUS", role="response"):
    paper: int
    ink: int
    memory_used: int
    memory_free: int
    power: int
    tamper: bool
    bound: bool
    batches: list[BatchEntry] = field(default_factory=list)
    next_index: int = 1


# -- scale --------------------------------------------------------------------


@dataclass
class BindStallRequest(Message, wire="BIND_STALL", role="request"):
    node_code: str
    operator_code: str
    stall: str
    market_name: str
    vendor_name: str


@dataclass
class LoadBatchRequest(Message, wire="LOAD_BATCH", role="request"):
    batch_trace: str
    commodity: str
    commodity_name: str
    limit_g: int
    unit_price_fen: int


@dataclass
class StopTradeRequest(Message, wire="STOP_TRADE", role="request"):
    batch_trace: str
    reason: str


@dataclass
class ReadRecordsRequest(Message, wire="READ_RECORDS", role="request"):
    from_index: int
    max_count: int


@dataclass
class ReadRecordsResponse(Message, wire="READ_RECORDS", role="response"):
    next_index: int
    remaining: int
    records: list[SaleRecord] = field(default_factory=list)


@dataclass
class AckRecordsRequest(Message, wire="ACK_RECORDS", role="request"):
    up_to_index: int


@dataclass
class AckRecordsResponse(Message, wire="ACK_RECORDS", role="response"):
    freed: int
    memory_used: int


@dataclass
class WeighRequest(Message, wire="WEIGH", role="request"):
    pass


@dataclass
class WeighResponse(Message, wire="WEIGH", role="response"):
    gross_g: int
    tare_g: int
    net_g: int
    division_g: int
    stable: bool
    overload: bool


@dataclass
class TareRequest(Message, wire="TARE", role="request"):
    pass


@dataclass
class SellRequest(Message, wire="SELL", role="request"):
    batch_trace: str
    request_id: int = 0


@dataclass
class SellResponse(Message, wire="SELL", role="response"):
    record: list[SaleRecord] = field(default_factory=list)


@dataclass
class SaleEvent(Message, wire="SALE_EVENT", role="event"):
    record: list[SaleRecord] = field(default_factory=list)


@dataclass
class CardEvent(Message, wire="CARD_EVENT", role="event"):
    event: int
    uid: bytes
    operator_code: str
    kind: int


# -- card reader ----------------------------------------------------------------


@dataclass
class PollRequest(Message, wire="POLL", role="request"):
    pass


@dataclass
class PollResponse(Message, wire="POLL", role="response"):
    present: bool
    uid: bytes
    sak: int


@dataclass
class AuthRequest(Message, wire="AUTH", role="request"):
    sector: int
    key_type: int
    key: bytes


@dataclass
class ReadBlockRequest(Message, wire="READ_BLOCK", role="request"):
    block: int


@dataclass
class ReadBlockResponse(Message, wire="READ_BLOCK", role="response"):
    block: int
    data: bytes


@dataclass
class WriteBlockRequest(Message, wire="WRITE_BLOCK", role="request"):
    block: int
    data: bytes


@dataclass
class HaltRequest(Message, wire="HALT", role="request"):
    pass
