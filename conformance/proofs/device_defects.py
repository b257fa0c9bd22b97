"""Device defects a relay can inject from outside: the catalogue (``device_defects.toml``) and its transforms.

A *transform* rewrites what crosses the wire between a clean scale and the harness, the way a vendor's
firmware bug would show on the line: it decodes a frame with the profile's protocol, changes the message,
and encodes it again with a fresh CRC (or, for line faults, damages or delays the bytes).  It never adds
behaviour the device does not have, except answering a command for it (``swallow``), which is what a
firmware that ACKs and ignores a command looks like from the host.

Contract of a transform (:class:`Transform`): ``frame(direction, frame, msg, now)`` returns ``None``
(forward the frame unchanged) or a list of ``(delay_s, bytes, to)`` to send instead, where ``to`` is
``"host"`` or ``"device"``; an empty list drops the frame.  Transforms are deterministic given the relay's
seed (``rng``) and the traffic.

The catalogue is data: each ``[[defect]]`` names the transform, its parameters, the requirement expected
to catch it, and zh/en descriptions.  :func:`load_catalogue` checks every entry (unknown transform or
parameter, unknown requirement: :class:`DefectError`, a usage error).
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from profiles.device import messages as m
from profiles.errors import RoucaiError

CATALOGUE = Path(__file__).with_name("device_defects.toml")
H2D, D2H = "host->device", "device->host"


class DefectError(RoucaiError, ValueError):
    """An unknown device defect or bad parameters (exit 2)."""


@dataclass(frozen=True)
class DeviceDefect:
    """One catalogue entry."""

    name: str
    requirement: str
    area: str
    transform: str
    params: dict
    zh: str
    en: str


class Transform:
    """Base: forwards everything unchanged (``inert``: the relay need not even decode).  Subclasses override
    :meth:`frame`."""

    inert = True

    def __init__(self, protocol, rng: random.Random, **params):
        self.protocol = protocol
        self.rng = rng
        self.params = params
        self.applied = 0  #: frames this transform changed, dropped, delayed or answered
        self.inert = type(self) is Transform

    def frame(self, direction: str, frame, msg, now: float):
        return None

    def host_connected(self, count: int) -> None:
        """The relay accepted host connection number ``count`` (a harness reopens its port after a power cycle)."""

    def send(self, msg, seq: int, delay: float = 0.0, to: str = "host"):
        return [(delay, self.protocol.encode(msg, seq), to)]


# -- sale records: every record the scale sends (SELL answer, SALE_EVENT, READ_RECORDS) ------------------


def _amount(weight_g: int, price: int) -> int:
    return (weight_g * price + 500) // 1000


class _Records(Transform):
    """Rewrite every sale record in ``sources`` (default: all three kinds) with :meth:`record`."""

    sources = (m.SellResponse, m.SaleEvent, m.ReadRecordsResponse)

    def frame(self, direction, frame, msg, now):
        if direction != D2H or not isinstance(msg, self.sources):
            return None
        if isinstance(msg, m.ReadRecordsResponse):
            new = replace(msg, records=[self.record(r) for r in msg.records])
        else:
            new = replace(msg, record=[self.record(r) for r in msg.record])
        if new == msg:
            return None
        self.applied += 1
        return self.send(new, frame.seq)

    def record(self, r: m.SaleRecord) -> m.SaleRecord:
        return r


class RecordAmount(_Records):
    """``mode``: ``truncate`` (drops the fraction of a fen), ``plus_one`` (one fen too much)."""

    def record(self, r):
        exact = r.weight_g * r.unit_price_fen
        amount = exact // 1000 if self.params["mode"] == "truncate" else _amount(r.weight_g, r.unit_price_fen) + 1
        return replace(r, amount_fen=amount)


class RecordPrice(_Records):
    """Unit price multiplied by ``factor`` (0.5: fen per jin instead of per kg); ``amount``: ``recompute``
    (consistent with the wrong price) or ``keep``; ``only_events``: rewrite SALE_EVENT records only."""

    def __init__(self, protocol, rng, **params):
        super().__init__(protocol, rng, **params)
        if params.get("only_events"):
            self.sources = (m.SaleEvent,)

    def record(self, r):
        price = round(r.unit_price_fen * float(self.params["factor"]))
        amount = _amount(r.weight_g, price) if self.params.get("amount", "recompute") == "recompute" else r.amount_fen
        return replace(r, unit_price_fen=price, amount_fen=amount)


class RecordWeight(_Records):
    """Weight off by ``delta_g`` grams, amount recomputed from it (the firmware is self-consistent)."""

    def record(self, r):
        w = r.weight_g + int(self.params["delta_g"])
        return replace(r, weight_g=w, amount_fen=_amount(w, r.unit_price_fen))


class RecordTime(_Records):
    """Record time shifted by ``hours`` (UTC instead of Beijing time: -8) or ``days``."""

    def record(self, r):
        return replace(
            r, time=r.time + timedelta(hours=float(self.params.get("hours", 0)), days=float(self.params.get("days", 0)))
        )


class RecordText(_Records):
    """One text field of the record damaged: ``op`` = ``truncate`` (last character lost), ``blank``,
    ``mojibake`` (UTF-8 bytes read as GB18030)."""

    def record(self, r):
        field, op = self.params["field"], self.params["op"]
        v = getattr(r, field)
        if op == "truncate":
            v = v[:-1]
        elif op == "blank":
            v = ""
        elif op == "mojibake":
            v = v.encode("utf-8").decode("gb18030", "replace")[: len(v) * 2]
        return replace(r, **{field: v})


class TraceForeignOperator(_Records):
    """Trace codes issued under the factory operator code (``node`` + ``operator_seq``), not the bound one."""

    def record(self, r):
        from profiles import load_profile

        codes = load_profile().codes
        op = codes.operator_code(r.trace_code[:9], int(self.params["operator_seq"]))
        return replace(r, trace_code=op + r.trace_code[len(op) :])


class TraceRewound(_Records):
    """The trace sequence went back by ``by`` (a counter restored from a stale copy): record ``i`` carries the
    code the scale issued to record ``i - by`` (learned from the traffic).  ``after_power_cycle``: only records
    first seen after the host reconnected (as a harness does after power-cycling the scale)."""

    def __init__(self, protocol, rng, **params):
        super().__init__(protocol, rng, **params)
        self.codes: dict[int, str] = {}
        self.rewound_from: int | None = None if params.get("after_power_cycle") else 0
        self.armed = False

    def host_connected(self, count):
        if self.codes:  # the host came back after sales: the scale was power-cycled
            self.armed = True

    def record(self, r):
        first_seen = r.index not in self.codes
        self.codes.setdefault(r.index, r.trace_code)
        if self.rewound_from is None and self.armed and first_seen:
            self.rewound_from = r.index
        if self.rewound_from is None or r.index < self.rewound_from:
            return r
        old = self.codes.get(r.index - int(self.params["by"]))
        return replace(r, trace_code=old) if old else r


class BatchSwapped(_Records):
    """Each record names the batch loaded before its own (a batch pointer off by one); learned from the
    LOAD_BATCH commands the scale acknowledged."""

    def __init__(self, protocol, rng, **params):
        super().__init__(protocol, rng, **params)
        self.loaded: list[str] = []

    def frame(self, direction, frame, msg, now):
        if direction == H2D and isinstance(msg, m.LoadBatchRequest) and msg.batch_trace not in self.loaded:
            self.loaded.append(msg.batch_trace)
        return super().frame(direction, frame, msg, now)

    def record(self, r):
        if r.batch_trace in self.loaded:
            i = self.loaded.index(r.batch_trace)
            if i > 0:
                return replace(r, batch_trace=self.loaded[i - 1])
        return r


class ReadSkipsFirst(Transform):
    """READ_RECORDS answers leave out the first record asked for (``from_index`` taken as exclusive)."""

    def frame(self, direction, frame, msg, now):
        if direction == D2H and isinstance(msg, m.ReadRecordsResponse) and msg.records:
            self.applied += 1
            return self.send(replace(msg, records=msg.records[1:]), frame.seq)
        return None


class ReadEndOffByOne(Transform):
    """READ_RECORDS compares ``from_index`` with the next storage index off by one (``==`` for ``>``): a read at
    the end, with nothing new stored, is refused BAD_INDEX, and a read past the end is answered as if empty."""

    def __init__(self, protocol, rng, **params):
        super().__init__(protocol, rng, **params)
        self.asked: dict[int, int] = {}  #: frame seq of a READ_RECORDS request -> its from_index

    def frame(self, direction, frame, msg, now):
        if direction == H2D and isinstance(msg, m.ReadRecordsRequest):
            self.asked[frame.seq] = msg.from_index
            return None
        if direction != D2H or frame.seq not in self.asked:
            return None
        asked = self.asked.pop(frame.seq)
        bad = self.protocol.nak_by_name["BAD_INDEX"].code
        if isinstance(msg, m.ReadRecordsResponse) and not msg.records and msg.remaining == 0:
            self.applied += 1
            return self.send(m.Nak(self.protocol.commands["READ_RECORDS"].code, bad), frame.seq)
        if isinstance(msg, m.Nak) and msg.reason == bad:
            self.applied += 1
            return self.send(m.ReadRecordsResponse(asked, 0, []), frame.seq)
        return None


# -- weighing ------------------------------------------------------------------------------------------


class WeighAnswer(Transform):
    """WEIGH answers: ``net_plus_division`` (net = gross - tare + e) or ``division_g`` (a fixed division)."""

    def frame(self, direction, frame, msg, now):
        if direction != D2H or not isinstance(msg, m.WeighResponse) or msg.overload:
            return None
        if "division_g" in self.params:
            new = replace(msg, division_g=int(self.params["division_g"]))
        else:
            new = replace(msg, net_g=msg.net_g + msg.division_g)
        self.applied += 1
        return self.send(new, frame.seq)


# -- time ----------------------------------------------------------------------------------------------


class ClockAnswer(Transform):
    """GET_CLOCK answers shifted by ``hours`` (the RTC kept in UTC)."""

    def frame(self, direction, frame, msg, now):
        if direction == D2H and isinstance(msg, m.GetClockResponse):
            self.applied += 1
            return self.send(replace(msg, time=msg.time + timedelta(hours=float(self.params["hours"]))), frame.seq)
        return None


# -- events --------------------------------------------------------------------------------------------


class EventDropped(Transform):
    """SALE_EVENT never reaches the host (the firmware's push is broken; READ_RECORDS still has the sale)."""

    def frame(self, direction, frame, msg, now):
        if direction == D2H and isinstance(msg, m.SaleEvent):
            self.applied += 1
            return []
        return None


class EventRepeated(Transform):
    """Every SALE_EVENT is pushed once more under a new SEQ right after the host ACKed it (the firmware marks
    a copy as sent); ``after_s`` after the ACK."""

    def __init__(self, protocol, rng, **params):
        super().__init__(protocol, rng, **params)
        self.sent: dict[int, m.SaleEvent] = {}

    def frame(self, direction, frame, msg, now):
        if direction == D2H and isinstance(msg, m.SaleEvent):
            self.sent[frame.seq] = msg
            return None
        if (
            direction == H2D
            and isinstance(msg, m.Ack)
            and frame.seq in self.sent
            and msg.cmd == self.protocol.commands["SALE_EVENT"].code
        ):
            again = self.sent.pop(frame.seq)
            self.applied += 1
            return [
                (0.0, self.protocol.frame.encode(frame.seq, frame.cmd, frame.payload), "device"),
                (float(self.params["after_s"]), self.protocol.encode(again, (frame.seq + 128) % 256), "host"),
            ]
        return None


# -- the line ------------------------------------------------------------------------------------------


class CorruptFrames(Transform):
    """Intermittent line errors: each device->host frame, with probability ``p`` (seeded), has one payload
    byte flipped after its CRC was computed (the host sees a bad CRC)."""

    def frame(self, direction, frame, msg, now):
        if direction != D2H or self.rng.random() >= float(self.params["p"]):
            return None
        raw = bytearray(self.protocol.frame.encode(frame.seq, frame.cmd, frame.payload))
        raw[4] ^= 0x5A  # the CMD byte: covered by the CRC, LEN stays right
        self.applied += 1
        return [(0.0, bytes(raw), "host")]


class LateAnswers(Transform):
    """Each answer (response, ACK, NAK) with probability ``p`` (seeded) is held back ``delay_s``."""

    def frame(self, direction, frame, msg, now):
        if (
            direction != D2H
            or msg is None
            or msg.role not in ("response", "control")
            or self.rng.random() >= float(self.params["p"])
        ):
            return None
        self.applied += 1
        return [
            (float(self.params["delay_s"]), self.protocol.frame.encode(frame.seq, frame.cmd, frame.payload), "host")
        ]


class NakReason(Transform):
    """NAKs with a business reason (code >= ``from_code``) carry ``to`` instead (a generic error)."""

    def frame(self, direction, frame, msg, now):
        if direction == D2H and isinstance(msg, m.Nak) and msg.reason >= int(self.params.get("from_code", 0x10)):
            self.applied += 1
            return self.send(m.Nak(msg.cmd, self.protocol.nak_by_name[self.params["to"]].code), frame.seq)
        return None


# -- identity ------------------------------------------------------------------------------------------


class IdentifyCapability(Transform):
    """IDENTIFY reports capability ``key`` as ``value``, or leaves it out (``value`` absent)."""

    def frame(self, direction, frame, msg, now):
        if direction != D2H or not isinstance(msg, m.IdentifyResponse):
            return None
        key, value = self.params["key"], self.params.get("value")
        caps = [c for c in msg.capabilities if c.key != key]
        if value is not None:
            caps.append(m.Capability(key, str(value)))
        self.applied += 1
        return self.send(replace(msg, capabilities=caps), frame.seq)


# -- commands the firmware mishandles ------------------------------------------------------------------


class Swallow(Transform):
    """Command ``wire`` is ACKed but never reaches the scale's logic (the firmware ignores it)."""

    def frame(self, direction, frame, msg, now):
        if direction == H2D and msg is not None and msg.wire == self.params["wire"] and msg.role == "request":
            self.applied += 1
            return [(0.0, self.protocol.ack(frame.seq, frame.cmd), "host")]
        return None


class LoadBatchLimit(Transform):
    """LOAD_BATCH's limit is read ``factor`` times too large (grams taken as milligrams' inverse)."""

    def frame(self, direction, frame, msg, now):
        if direction == H2D and isinstance(msg, m.LoadBatchRequest):
            self.applied += 1
            new = replace(msg, limit_g=min(msg.limit_g * int(self.params["factor"]), 2**32 - 1))
            return [(0.0, self.protocol.encode(new, frame.seq), "device")]
        return None


TRANSFORMS: dict[str, type[Transform]] = {
    "record_amount": RecordAmount,
    "record_price": RecordPrice,
    "record_weight": RecordWeight,
    "record_time": RecordTime,
    "record_text": RecordText,
    "trace_foreign_operator": TraceForeignOperator,
    "trace_rewound": TraceRewound,
    "batch_swapped": BatchSwapped,
    "read_skips_first": ReadSkipsFirst,
    "read_end_off_by_one": ReadEndOffByOne,
    "weigh_answer": WeighAnswer,
    "clock_answer": ClockAnswer,
    "event_dropped": EventDropped,
    "event_repeated": EventRepeated,
    "corrupt_frames": CorruptFrames,
    "late_answers": LateAnswers,
    "nak_reason": NakReason,
    "identify_capability": IdentifyCapability,
    "swallow": Swallow,
    "load_batch_limit": LoadBatchLimit,
}


def load_catalogue(path: Path | str = CATALOGUE, profile=None) -> dict[str, DeviceDefect]:
    """The catalogue by name (checked: known transforms, known requirement ids, unique names)."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DefectError(
            f"无法读取设备缺陷目录 {path}：{exc}", f"cannot read the device defect catalogue {path}: {exc}"
        )
    if profile is None:
        from profiles import load_profile

        profile = load_profile()
    known = set(profile.requirements.ids)
    out: dict[str, DeviceDefect] = {}
    for d in data.get("defect", []):
        try:
            dd = DeviceDefect(
                d["name"], d["requirement"], d["area"], d["transform"], dict(d.get("params", {})), d["zh"], d["en"]
            )
        except KeyError as exc:
            raise DefectError(f"缺陷条目缺少字段 {exc}", f"a defect entry lacks {exc}")
        if dd.name in out:
            raise DefectError(f"缺陷名称重复：{dd.name}", f"duplicate defect name {dd.name}")
        if dd.transform not in TRANSFORMS:
            raise DefectError(f"{dd.name}：未知变换 {dd.transform}", f"{dd.name}: unknown transform {dd.transform}")
        if dd.requirement not in known:
            raise DefectError(
                f"{dd.name}：需求编号 {dd.requirement} 不在目录中",
                f"{dd.name}: requirement {dd.requirement} is not in the catalogue",
            )
        out[dd.name] = dd
    return out


def make_transform(defect: DeviceDefect | None, protocol, seed: int) -> Transform:
    """The transform of ``defect`` (``None``: the clean relay), seeded."""
    rng = random.Random(seed)
    if defect is None:
        return Transform(protocol, rng)
    return TRANSFORMS[defect.transform](protocol, rng, **defect.params)
