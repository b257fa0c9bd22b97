"""A device protocol = framing + command table + NAK reasons + timing, by name.

:class:`Protocol` binds the framer (:mod:`.framer`), the message classes
(:mod:`.messages`) and the profile's ``device_protocol.toml``.  Protocols are
looked up by name in a registry (:func:`register_protocol`,
:func:`get_protocol`) so that a vendor's real protocol can be added as another
module beside this one without touching the devices or drivers that use the
:class:`Protocol` interface (``encode``, ``decoder``, ``decode``, ``nak``).

Errors: :class:`~profiles.device.fields.PayloadError` for a payload that does
not fit its message; :class:`UnknownCommand` for a command code not in the
table.  Both carry what a device needs to NAK the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields as dc_fields
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..findings import Finding
from .fields import FieldSpec, Layout, PayloadError
from .framer import Frame, FrameDecoder, FrameSpec
from .messages import REGISTRY, STRUCTS, Ack, Message, Nak

if TYPE_CHECKING:  # typing only: the loader is imported lazily (get_protocol)
    from ..codes import CodeBook
    from ..profile import Profile

DEFAULT = "roucai-dp/1"
_C = TypeVar("_C", bound=type)  # a message or struct class checked against its layout


class UnknownCommand(ValueError):
    """A frame whose CMD is not in the protocol's table."""

    def __init__(self, cmd: int):
        self.cmd = cmd
        super().__init__(f"unknown command 0x{cmd:02X}")


@dataclass(frozen=True, slots=True)
class NakReason:
    code: int
    name: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Timing:
    """Protocol timeouts (seconds) and retry counts."""

    response_timeout_s: float = 0.5
    retries: int = 3
    inter_byte_timeout_s: float = 0.1
    event_ack_timeout_s: float = 0.5
    event_retries: int = 3


@dataclass(frozen=True)
class Command:
    """One row of the command table."""

    wire: str
    code: int
    direction: str  # "host" (request/response) or "device" (event)
    devices: tuple[str, ...]
    zh: str
    en: str
    request: Layout
    response: Layout | None  # None: answered with ACK
    request_cls: type[Message]
    response_cls: type[Message] | None


class Protocol:
    """A named device protocol built from a ``device_protocol`` data dict."""

    def __init__(self, data: dict[str, Any]):
        p = data["protocol"]
        self.name: str = p["name"]
        self.evidence: str = p.get("evidence", "profile")
        self.statement = (p.get("statement_zh", ""), p.get("statement_en", ""))
        self.data = data
        fr = data["frame"]
        self.frame = FrameSpec.from_data(fr)
        self.response_flag = int(fr["response_flag"])
        self.ack_code, self.nak_code = int(fr["ack"]), int(fr["nak"])
        self.timing = Timing(**data.get("timing", {}))
        self.naks = {int(n["code"]): NakReason(int(n["code"]), n["name"], n["zh"], n["en"]) for n in data["nak"]}
        self.nak_by_name = {n.name: n for n in self.naks.values()}
        self.struct_layouts: dict[str, Layout] = {}
        for sname, sd in data.get("structs", {}).items():
            self.struct_layouts[sname] = Layout(
                [FieldSpec.from_data(f) for f in sd["fields"]], self.struct_layouts, STRUCTS
            )
            _check_fields(STRUCTS.get(sname), self.struct_layouts[sname], f"struct {sname}")
        self.commands: dict[str, Command] = {}
        self.by_code: dict[int, Command] = {}
        for wire, md in data["messages"].items():
            cmd = self._command(wire, md)
            if cmd.code in self.by_code or cmd.code in (self.ack_code, self.nak_code) or cmd.code & self.response_flag:
                raise ValueError(f"{wire}: command code 0x{cmd.code:02X} clashes")
            self.commands[wire] = cmd
            self.by_code[cmd.code] = cmd

    def _command(self, wire: str, md: dict[str, Any]) -> Command:
        direction = md["direction"]
        req_role = "request" if direction == "host" else "event"
        req = Layout([FieldSpec.from_data(f) for f in md["request"]], self.struct_layouts, STRUCTS)
        req_cls = _check_fields(REGISTRY.get((wire, req_role)), req, f"{wire} {req_role}")
        resp = resp_cls = None
        if md["response"] != "ACK":
            resp = Layout([FieldSpec.from_data(f) for f in md["response"]], self.struct_layouts, STRUCTS)
            resp_cls = REGISTRY.get((wire, "response"))
            _check_fields(resp_cls, resp, f"{wire} response")
        return Command(
            wire,
            int(md["code"]),
            direction,
            tuple(md.get("devices", ())),
            md.get("zh", ""),
            md.get("en", ""),
            req,
            resp,
            req_cls,
            resp_cls,
        )

    # -- encoding -------------------------------------------------------------
    def encode(self, msg: Message, seq: int) -> bytes:
        """The frame carrying ``msg`` with sequence number ``seq``."""
        if isinstance(msg, Ack):
            return self.frame.encode(seq, self.ack_code, bytes((msg.cmd,)))
        if isinstance(msg, Nak):
            return self.frame.encode(seq, self.nak_code, bytes((msg.cmd, msg.reason)))
        cmd = self.commands[msg.wire]
        if msg.role == "response":
            if cmd.response is None:
                raise ValueError(f"{msg.wire} is answered with ACK, not a response")
            return self.frame.encode(seq, cmd.code | self.response_flag, cmd.response.encode(msg))
        return self.frame.encode(seq, cmd.code, cmd.request.encode(msg))

    def payload(self, msg: Message) -> bytes:
        """Only the payload bytes of ``msg`` (benchmarks, traces)."""
        cmd = self.commands[msg.wire]
        layout = cmd.response if msg.role == "response" else cmd.request
        if layout is None:
            raise ValueError(f"{msg.wire} is answered with ACK, not a response")
        return layout.encode(msg)

    def ack(self, seq: int, cmd: int) -> bytes:
        return self.frame.encode(seq, self.ack_code, bytes((cmd,)))

    def nak(self, seq: int, cmd: int, reason: str | int) -> bytes:
        code = reason if isinstance(reason, int) else self.nak_by_name[reason].code
        return self.frame.encode(seq, self.nak_code, bytes((cmd, code)))

    # -- decoding -------------------------------------------------------------
    def decoder(self) -> FrameDecoder:
        return FrameDecoder(self.frame)

    def command_of(self, frame_cmd: int) -> Command | None:
        """The command a frame's CMD byte belongs to (request or response)."""
        return self.by_code.get(frame_cmd & ~self.response_flag & 0xFF)

    def decode(self, frame: Frame) -> Message:
        """The message in ``frame``.  Raises PayloadError / UnknownCommand."""
        c, p = frame.cmd, frame.payload
        if c == self.ack_code:
            if len(p) != 1:
                raise PayloadError("ack", "ACK数据域应为1字节", "ACK payload must be 1 byte")
            return Ack(p[0])
        if c == self.nak_code:
            if len(p) != 2:
                raise PayloadError("nak", "NAK数据域应为2字节", "NAK payload must be 2 bytes")
            return Nak(p[0], p[1])
        if c & self.response_flag:
            cmd = self.by_code.get(c & ~self.response_flag & 0xFF)
            if cmd is None or cmd.response is None or cmd.response_cls is None:  # both or neither (_command)
                raise UnknownCommand(c)
            return cmd.response_cls(**cmd.response.decode(p))
        cmd = self.by_code.get(c)
        if cmd is None:
            raise UnknownCommand(c)
        return cmd.request_cls(**cmd.request.decode(p))

    def describe(self, frame: Frame) -> dict[str, Any]:
        """A JSON-able description of a frame (for wire traces): never raises."""
        out = {"seq": frame.seq, "cmd": f"0x{frame.cmd:02X}"}
        try:
            msg = self.decode(frame)
        except (PayloadError, UnknownCommand) as exc:
            out["error"] = str(exc)
            return out
        out["message"] = msg.wire
        out["role"] = msg.role
        out["fields"] = msg.to_dict()
        if isinstance(msg, Nak) and msg.reason in self.naks:
            out["reason"] = self.naks[msg.reason].name
        return out

    def trace_decoder(self) -> Callable[[bytes], dict[str, Any] | None]:
        """``bytes -> dict | None`` for :class:`simulators.serial.WireTrace`."""

        def decode_chunk(data: bytes) -> dict[str, Any] | None:
            frames = [f for f in FrameDecoder(self.frame).feed(data) if isinstance(f, Frame)]
            if not frames:
                return None
            descs = [self.describe(f) for f in frames]
            return descs[0] if len(descs) == 1 else {"frames": descs}

        return decode_chunk

    def nak_text(self, code: int, lang: str = "zh") -> str:
        r = self.naks.get(code)
        if r is None:
            return f"0x{code:02X}"
        return f"{r.name}: {r.en if lang == 'en' else r.zh}"

    # -- conformance helpers ----------------------------------------------------
    def code_findings(self, msg: Message, codes: CodeBook, prefix: str = "") -> list[Finding]:
        """Findings about every code-typed field of ``msg`` (and its structs).

        ``codes`` is a :class:`profiles.codes.CodeBook`.  An empty code field
        is reported as missing (rule of the code kind).
        """
        cmd = self.commands.get(msg.wire)
        if cmd is None:
            return []
        layout = cmd.response if msg.role == "response" else cmd.request
        if layout is None:  # answered with ACK: no response fields
            return []
        return self._layout_findings(layout, msg, codes, prefix or msg.wire)

    def _layout_findings(self, layout: Layout, obj: Any, codes: CodeBook, where: str) -> list[Finding]:
        out: list[Finding] = []
        for f in layout.fields:
            v = getattr(obj, f.name)
            if f.code:
                for fi in codes.findings(v, f.code):
                    out.append(
                        Finding(
                            fi.rule,
                            f"{where}.{f.name}{'' if fi.field == 'code' else fi.field}",
                            f"{f.zh or f.name}：{fi.zh}",
                            f"{f.en or f.name}: {fi.en}",
                            value=v,
                        )
                    )
            elif f.type.startswith("list:"):
                sub = self.struct_layouts[f.type[5:]]
                for i, item in enumerate(v):
                    out += self._layout_findings(sub, item, codes, f"{where}.{f.name}[{i}]")
        return out


def _check_fields(cls: _C | None, layout: Layout, what: str) -> _C:
    """``cls``, once its dataclass fields are the layout's, in order; ValueError otherwise."""
    if cls is None:
        raise ValueError(f"{what}: no message class registered")
    names = tuple(f.name for f in dc_fields(cls))
    if names != layout.names:
        raise ValueError(f"{what}: class {cls.__name__} fields {names} != profile fields {layout.names}")
    return cls


# -- registry -------------------------------------------------------------------

_FACTORIES: dict[str, Callable[[Profile], Protocol]] = {}


def register_protocol(name: str, factory: Callable[[Profile], Protocol]) -> None:
    """Make protocol ``name`` available; ``factory(profile) -> Protocol``."""
    _FACTORIES[name] = factory


def available_protocols() -> list[str]:
    return sorted(_FACTORIES)


_CACHE: dict[tuple[int, str], Protocol] = {}


def get_protocol(name: str = DEFAULT, profile: Profile | None = None) -> Protocol:
    """Protocol ``name`` for ``profile`` (default: the reference profile); cached."""
    if profile is None:
        from ..profile import load_profile

        profile = load_profile()
    if name not in _FACTORIES:
        raise KeyError(f"unknown device protocol {name!r}; known: {', '.join(available_protocols())}")
    key = (id(profile), name)
    if key not in _CACHE:
        _CACHE[key] = _FACTORIES[name](profile)
    return _CACHE[key]


register_protocol(DEFAULT, lambda profile: Protocol(profile.data("device_protocol")))
