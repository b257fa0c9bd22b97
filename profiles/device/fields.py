"""Payload layouts: a list of typed fields (from the profile's TOML) ⇄ bytes.

Field types (``device_protocol.toml``)::

    u8 u16 u32 i32   big-endian integers        bool        one byte, 0/1
    ascii:N          N ASCII bytes, space-padded (read back stripped)
    gb18030:N        N bytes of GB18030, NUL-padded (read back without NULs)
    bytes:N          N raw bytes                 blob        u8 length + bytes
    text             u8 length + GB18030 bytes   datetime    14 ASCII digits yyyyMMddHHmmss
    list:STRUCT      u8 count + STRUCTs

Decoding never raises anything but :class:`PayloadError` (a field name plus a
zh/en message); encoding raises :class:`PayloadError` for values that cannot
be put on the wire (text too long, non-ASCII code, integer out of range).
"""

from __future__ import annotations

import operator
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from ..errors import RoucaiError
from .compiled import compile_decoder, compile_encoder, datetime_of_digits

ENCODING = "gb18030"


class PayloadError(RoucaiError, ValueError):
    """A payload that does not fit its layout (``field`` names the culprit): non-conformant data, exit 1."""

    exit_code = 1

    def __init__(self, field: str, zh: str, en: str):
        super().__init__(zh, en)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.en}"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a layout: name, wire type and its documentation."""

    name: str
    type: str
    code: str | None = None
    unit: str | None = None
    zh: str = ""
    en: str = ""

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> "FieldSpec":
        return cls(
            name=d["name"],
            type=d["type"],
            code=d.get("code"),
            unit=d.get("unit"),
            zh=d.get("zh", ""),
            en=d.get("en", ""),
        )


_INT = {"u8": struct.Struct(">B"), "u16": struct.Struct(">H"), "u32": struct.Struct(">I"), "i32": struct.Struct(">i")}

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]


def _need(buf: bytes, pos: int, n: int, name: str) -> None:
    if pos + n > len(buf):
        raise PayloadError(name, f"数据域在字段「{name}」处提前结束", f"payload ends inside field {name!r}")


def _int_codec(name: str, st: struct.Struct) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        try:
            out += st.pack(v)
        except (struct.error, TypeError) as exc:
            raise PayloadError(
                name, f"字段「{name}」数值超出范围：{v!r}", f"{name}: value out of range: {v!r}"
            ) from exc

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, st.size, name)
        return st.unpack_from(buf, pos)[0], pos + st.size

    return enc, dec


def _bool_codec(name: str) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        out.append(1 if v else 0)

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1, name)
        if buf[pos] > 1:
            raise PayloadError(name, f"字段「{name}」应为0或1", f"{name} must be 0 or 1")
        return bool(buf[pos]), pos + 1

    return enc, dec


def _fixed_text_codec(name: str, n: int, encoding: str, pad: bytes) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        try:
            b = (v or "").encode(encoding)
        except (UnicodeEncodeError, AttributeError) as exc:
            raise PayloadError(name, f"字段「{name}」含无法编码的字符", f"{name}: cannot encode in {encoding}") from exc
        if len(b) > n:
            raise PayloadError(
                name, f"字段「{name}」超长（{len(b)}>{n}字节）", f"{name} too long ({len(b)} > {n} bytes)"
            )
        out += b + pad * (n - len(b))

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, n, name)
        raw = bytes(buf[pos : pos + n])
        raw = raw.rstrip(pad) if pad == b"\0" else raw
        try:
            s = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise PayloadError(
                name, f"字段「{name}」编码错误（应为{encoding}）", f"{name}: not valid {encoding}"
            ) from exc
        return (s.rstrip(" ") if pad == b" " else s), pos + n

    return enc, dec


def _bytes_codec(name: str, n: int) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        b = bytes(v)
        if len(b) != n:
            raise PayloadError(name, f"字段「{name}」应为{n}字节", f"{name} must be {n} bytes")
        out += b

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, n, name)
        return bytes(buf[pos : pos + n]), pos + n

    return enc, dec


def _var_codec(name: str, is_text: bool) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        if is_text:
            try:
                b = (v or "").encode(ENCODING)
            except (UnicodeEncodeError, AttributeError) as exc:
                raise PayloadError(
                    name, f"字段「{name}」含无法用GB18030编码的字符", f"{name}: cannot encode in GB18030"
                ) from exc
        else:
            b = bytes(v)
        if len(b) > 255:
            raise PayloadError(name, f"字段「{name}」超过255字节", f"{name} longer than 255 bytes")
        out.append(len(b))
        out += b

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1, name)
        n = buf[pos]
        _need(buf, pos + 1, n, name)
        raw = bytes(buf[pos + 1 : pos + 1 + n])
        if not is_text:
            return raw, pos + 1 + n
        try:
            return raw.decode(ENCODING), pos + 1 + n
        except UnicodeDecodeError as exc:
            raise PayloadError(name, f"字段「{name}」不是有效的GB18030文本", f"{name}: not valid GB18030") from exc

    return enc, dec


def _datetime_codec(name: str) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        if not isinstance(v, datetime) or not 1 <= v.year <= 9999:
            raise PayloadError(name, f"字段「{name}」应为时间", f"{name} must be a datetime")
        out += f"{v.year:04d}{v.month:02d}{v.day:02d}{v.hour:02d}{v.minute:02d}{v.second:02d}".encode()

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 14, name)
        raw = bytes(buf[pos : pos + 14])
        try:
            return datetime_of_digits(raw), pos + 14
        except ValueError as exc:
            raise PayloadError(
                name, f"字段「{name}」不是有效时间 yyyyMMddHHmmss", f"{name} is not a valid yyyyMMddHHmmss time"
            ) from exc

    return enc, dec


class Layout:
    """An ordered list of fields; encodes objects (attribute access) or dicts.

    :param fields: the field specs, in wire order.
    :param structs: name -> Layout for ``list:NAME`` fields.
    :param make: name -> factory building a struct value from a dict (``None``: dicts).
    """

    def __init__(
        self,
        fields: list[FieldSpec],
        structs: dict[str, "Layout"] | None = None,
        make: Mapping[str, Callable[..., Any]] | None = None,
    ):
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        self._codecs: list[tuple[str, Encoder, Decoder]] = []
        for f in fields:
            self._codecs.append((f.name, *self._codec(f, structs or {}, make or {})))
        self._encoders = tuple(enc for _, enc, _ in self._codecs)
        self._attrs = operator.attrgetter(*self.names) if len(self.names) > 1 else None
        # straight-line versions of the two loops below: exact when they return, else the loops decide
        self._fast_encode = compile_encoder(fields, structs or {})
        self._fast_decode = compile_decoder(fields, structs or {}, make or {})

    @staticmethod
    def _codec(
        f: FieldSpec, structs: dict[str, Layout], make: Mapping[str, Callable[..., Any]]
    ) -> tuple[Encoder, Decoder]:
        t, _, arg = f.type.partition(":")
        if t in _INT:
            return _int_codec(f.name, _INT[t])
        if t == "bool":
            return _bool_codec(f.name)
        if t == "ascii":
            return _fixed_text_codec(f.name, int(arg), "ascii", b" ")
        if t == "gb18030":
            return _fixed_text_codec(f.name, int(arg), ENCODING, b"\0")
        if t == "bytes":
            return _bytes_codec(f.name, int(arg))
        if t in ("blob", "text"):
            return _var_codec(f.name, t == "text")
        if t == "datetime":
            return _datetime_codec(f.name)
        if t == "list":
            if arg not in structs:
                raise ValueError(f"field {f.name}: unknown struct {arg!r}")
            return _list_codec(f.name, structs[arg], make.get(arg))
        raise ValueError(f"field {f.name}: unknown type {f.type!r}")

    def encode(self, obj: Any) -> bytes:
        """Bytes of ``obj`` (an object with the fields as attributes, or a dict)."""
        out = bytearray()
        values: Sequence[Any]
        if isinstance(obj, dict):
            values = [obj.get(n) for n in self.names]
        elif self._attrs is not None:
            values = self._attrs(obj)  # one C call for every field
        else:
            values = [getattr(obj, n) for n in self.names]
        try:
            return self._fast_encode(values)
        except Exception:
            pass  # the field encoders give the bytes or raise the precise error
        for enc, v in zip(self._encoders, values):
            enc(v, out)
        return bytes(out)

    def decode(self, buf: bytes, pos: int = 0, exact: bool = True) -> dict[str, Any]:
        """Field values of ``buf``; ``exact``: trailing bytes are an error."""
        values, pos = self.decode_from(buf, pos)
        if exact and pos != len(buf):
            raise PayloadError(
                "payload", f"数据域多出{len(buf) - pos}字节", f"{len(buf) - pos} unexpected trailing bytes"
            )
        return values

    def decode_from(self, buf: bytes, pos: int) -> tuple[dict[str, Any], int]:
        """Field values of ``buf`` from ``pos`` and the position after them."""
        try:
            return self._fast_decode(buf, pos)
        except Exception:
            pass  # the field decoders give the values or raise the precise error
        values = {}
        for name, _, dec in self._codecs:
            values[name], pos = dec(buf, pos)
        return values, pos

    @property
    def fixed_size(self) -> int | None:
        """Byte size when every field is fixed-width, else ``None``."""
        size = 0
        for f in self.fields:
            t, _, arg = f.type.partition(":")
            if t in _INT:
                size += _INT[t].size
            elif t == "bool":
                size += 1
            elif t in ("ascii", "gb18030", "bytes"):
                size += int(arg)
            elif t == "datetime":
                size += 14
            else:
                return None
        return size


def _list_codec(name: str, layout: Layout, make: Callable[..., Any] | None) -> tuple[Encoder, Decoder]:
    def enc(v: Any, out: bytearray) -> None:
        items = list(v or [])
        if len(items) > 255:
            raise PayloadError(name, f"字段「{name}」超过255项", f"{name}: more than 255 items")
        out.append(len(items))
        for it in items:
            out += layout.encode(it)

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1, name)
        n = buf[pos]
        pos += 1
        items = []
        for _ in range(n):
            d, pos = layout.decode_from(buf, pos)
            items.append(make(**d) if make else d)
        return items, pos

    return enc, dec
