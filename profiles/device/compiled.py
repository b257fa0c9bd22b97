"""Straight-line encoder and decoder of one payload layout, generated from its field list.

:class:`~profiles.device.fields.Layout` keeps one codec per field (the reference: it raises the
precise :class:`~profiles.device.fields.PayloadError`).  Calling them one by one costs a Python call
per field; a SALE_EVENT carries twelve.  This module writes, once per layout, one function that
packs or unpacks every stretch of fixed-width fields with a single ``struct`` call and inlines the
length-prefixed ones.

Contract of both generated functions: **when they return, they return exactly what the field codecs
return** (same bytes; same values, same dict order); on any input the field codecs would refuse, and on
anything unusual (a negative offset, a short buffer, a wrong type), they raise some exception (``ValueError``
where they check themselves) and the caller falls back to the field codecs, which give the result or the precise error.  So the generated
code never decides an error and never weakens a check.  ``test_compiled_*`` in
``tests/profiles/test_device_protocol.py`` compare both paths on valid and broken input for every layout of
the profile.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # fields imports this module
    from .fields import FieldSpec

_INT_FMT = {"u8": "B", "u16": "H", "u32": "I", "i32": "i"}
#: field types packed inside a fixed-width ``struct`` run
_FIXED = set(_INT_FMT) | {"bool", "ascii", "gb18030", "bytes", "datetime"}
#: one length byte, as bytes, for each length 0..255
_LEN = tuple(bytes((k,)) for k in range(256))


def _bool_post(raw: int) -> bool:
    if raw > 1:
        raise ValueError
    return bool(raw)


def datetime_of_digits(raw: bytes) -> datetime:
    """The time of 14 ASCII digits yyyyMMddHHmmss; ``ValueError`` when they are not one."""
    if not raw.isdigit():
        raise ValueError(raw)
    return datetime(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]), int(raw[8:10]), int(raw[10:12]), int(raw[12:14]))


def _split(fields: Sequence["FieldSpec"]) -> list[tuple[str, list[tuple[int, Any]]]]:
    """Fields in order as ``("run", [(i, field), ...])`` stretches of fixed-width fields or
    ``("var", [(i, field)])`` single length-prefixed ones."""
    out: list[tuple[str, list[tuple[int, Any]]]] = []
    for i, f in enumerate(fields):
        t = f.type.partition(":")[0]
        if t in _FIXED:
            if out and out[-1][0] == "run":
                out[-1][1].append((i, f))
            else:
                out.append(("run", [(i, f)]))
        else:
            out.append(("var", [(i, f)]))
    return out


def _fmt(t: str, arg: str) -> str:
    if t in _INT_FMT:
        return _INT_FMT[t]
    if t == "bool":
        return "B"
    if t == "datetime":
        return "14s"
    return f"{int(arg)}s"


def compile_encoder(fields: Sequence["FieldSpec"], structs: dict[str, Any]) -> Callable[[Sequence[Any]], bytes]:
    """``encode(values) -> bytes`` for ``values`` in field order (see the module's contract)."""
    ns: dict[str, Any] = {"_LEN": _LEN, "_datetime": datetime}
    body = [f"    ({''.join(f'v{i}, ' for i in range(len(fields)))}) = values"]
    pieces: list[str] = []
    for kind, group in _split(fields):
        if kind == "run":
            fmt, args = "", []
            for i, f in group:
                t, _, arg = f.type.partition(":")
                fmt += _fmt(t, arg)
                if t in _INT_FMT:
                    args.append(f"v{i}")
                elif t == "bool":
                    args.append(f"(1 if v{i} else 0)")
                elif t in ("ascii", "gb18030"):
                    n = int(arg)
                    enc = "ascii" if t == "ascii" else "gb18030"
                    body.append(f"    b{i} = (v{i} or '').encode({enc!r})")
                    body.append(f"    if len(b{i}) > {n}: raise ValueError")
                    # ascii pads with spaces; struct pads ``Ns`` with NUL, which is gb18030's padding
                    args.append(f"b{i}.ljust({n}, b' ')" if t == "ascii" else f"b{i}")
                elif t == "bytes":
                    body.append(f"    b{i} = bytes(v{i})")
                    body.append(f"    if len(b{i}) != {int(arg)}: raise ValueError")
                    args.append(f"b{i}")
                else:  # datetime
                    body.append(
                        f"    if not isinstance(v{i}, _datetime) or not 1 <= v{i}.year <= 9999: raise ValueError"
                    )
                    body.append(
                        f"    b{i} = f'{{v{i}.year:04d}}{{v{i}.month:02d}}{{v{i}.day:02d}}"
                        f"{{v{i}.hour:02d}}{{v{i}.minute:02d}}{{v{i}.second:02d}}'.encode()"
                    )
                    body.append(f"    if len(b{i}) != 14: raise ValueError")
                    args.append(f"b{i}")
            ns[f"_s{len(pieces)}"] = struct.Struct(">" + fmt)
            pieces.append(f"_s{len(pieces)}.pack({', '.join(args)})")
            continue
        (i, f) = group[0]
        t, _, arg = f.type.partition(":")
        if t in ("blob", "text"):
            src = f"(v{i} or '').encode('gb18030')" if t == "text" else f"bytes(v{i})"
            body.append(f"    b{i} = {src}")
            body.append(f"    if len(b{i}) > 255: raise ValueError")
            pieces.append(f"_LEN[len(b{i})]")
            pieces.append(f"b{i}")
        elif t == "list":
            ns[f"_L{i}"] = structs[arg].encode
            body.append(f"    b{i} = list(v{i} or [])")
            body.append(f"    if len(b{i}) > 255: raise ValueError")
            pieces.append(f"_LEN[len(b{i})]")
            pieces.append(f"b''.join([_L{i}(x) for x in b{i}])")
        else:
            raise ValueError(f"field {f.name}: unknown type {f.type!r}")
    body.append(f"    return b''.join(({''.join(p + ', ' for p in pieces)}))")
    src = "def encode(values):\n" + "\n".join(body) + "\n"
    exec(compile(src, f"<layout encoder {[f.name for f in fields]}>", "exec"), ns)  # noqa: S102 - our own source
    encode: Callable[[Sequence[Any]], bytes] = ns["encode"]
    return encode


def compile_decoder(
    fields: Sequence["FieldSpec"], structs: dict[str, Any], make: Mapping[str, Callable[..., Any]]
) -> Callable[[Any, int], tuple[dict[str, Any], int]]:
    """``decode_from(buf, pos) -> (values, pos)`` (see the module's contract); ``structs[name].decode_from``
    decodes ``list:name`` items, ``make[name]`` builds them (dicts when absent)."""
    ns: dict[str, Any] = {
        "_bool_post": _bool_post,
        "_datetime_post": datetime_of_digits,
    }
    body = ["    if pos < 0: raise ValueError", "    n = len(buf)"]
    values: list[str] = []
    for kind, group in _split(fields):
        if kind == "run":
            fmt = "".join(_fmt(*f.type.partition(":")[::2]) for _, f in group)
            st = ns[f"_s{group[0][0]}"] = struct.Struct(">" + fmt)
            body.append(f"    {''.join(f'r{i}, ' for i, _ in group)}= _s{group[0][0]}.unpack_from(buf, pos)")
            body.append(f"    pos += {st.size}")
            for i, f in group:
                t, _, arg = f.type.partition(":")
                if t in _INT_FMT or t == "bytes":
                    values.append(f"r{i}")
                elif t == "bool":
                    values.append(f"_bool_post(r{i})")
                elif t == "ascii":
                    values.append(f"r{i}.decode('ascii').rstrip(' ')")
                elif t == "gb18030":
                    values.append(f"r{i}.rstrip(b'\\0').decode('gb18030')")
                else:  # datetime
                    values.append(f"_datetime_post(r{i})")
            continue
        (i, f) = group[0]
        t, _, arg = f.type.partition(":")
        if t in ("blob", "text"):
            body.append("    e = pos + 1 + buf[pos]")
            body.append("    if e > n: raise ValueError")
            conv = ".decode('gb18030')" if t == "text" else ""
            body.append(f"    r{i} = bytes(buf[pos + 1 : e]){conv}")
            body.append("    pos = e")
        elif t == "list":
            ns[f"_L{i}"] = structs[arg].decode_from
            ns[f"_M{i}"] = make.get(arg)
            item = f"_M{i}(**d)" if make.get(arg) else "d"
            body.append(f"    r{i} = []")
            body.append("    k = buf[pos]")
            body.append("    pos += 1")
            body.append("    for _ in range(k):")
            body.append(f"        d, pos = _L{i}(buf, pos)")
            body.append(f"        r{i}.append({item})")
        else:
            raise ValueError(f"field {f.name}: unknown type {f.type!r}")
        values.append(f"r{i}")
    body.append(f"    return {{{''.join(f'{f.name!r}: {v}, ' for f, v in zip(fields, values))}}}, pos")
    src = "def decode_from(buf, pos):\n" + "\n".join(body) + "\n"
    exec(compile(src, f"<layout decoder {[f.name for f in fields]}>", "exec"), ns)  # noqa: S102 - our own source
    decode_from: Callable[[Any, int], tuple[dict[str, Any], int]] = ns["decode_from"]
    return decode_from
