"""Render the device protocol's reference page (``docs/device-protocol.md``) from the profile data.

``python -m profiles.device.doc > docs/device-protocol.md``; a test keeps the
committed page equal to the rendering, so the page cannot drift from the data.
"""

from __future__ import annotations

from typing import Any, Iterable

from .fields import FieldSpec
from .protocol import Protocol, get_protocol

_INTRO = """\
# Device wire protocol `{name}` (evidence: **profile**)

> {zh}
>
> {en}

This page is generated from `profiles/reference/device_protocol.toml` by
`python -m profiles.device.doc`; edit the TOML, not this page.

## Frame

```
STX | LEN (2, big-endian) | SEQ (1) | CMD (1) | PAYLOAD (LEN-2) | CRC (2, big-endian) | ETX
0x{stx:02X}                                                                                0x{etx:02X}
```

* `LEN` counts SEQ + CMD + PAYLOAD; the payload is at most {maxp} bytes.
* `CRC` is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, xorout 0) over LEN..PAYLOAD;
  the check value of `"123456789"` is `0x29B1`.
* No byte stuffing: the length delimits a frame, ETX and CRC confirm it.  A receiver that meets a bad
  length, a missing ETX or a bad CRC drops the STX and hunts for the next one; while a candidate is
  incomplete, a complete good frame starting at a later STX wins.  Errors are counted, never fatal.
* A response to command `C` has `CMD = C | 0x{flag:02X}`; `ACK` is CMD `0x{ack:02X}` (payload: the command),
  `NAK` is CMD `0x{nak:02X}` (payload: the command, a reason code).
* Text is GB18030 with a one-byte length prefix; codes are fixed-width ASCII, space-padded when absent;
  weights are grams, unit prices fen per kg, amounts fen; times are 14 ASCII digits `yyyyMMddHHmmss`.

Example: IDENTIFY with SEQ 1 is `{example}`.

## Timing and retransmission

| parameter | value |
|---|---|
{timing}

The host waits `response_timeout_s` (after its request has left the wire, and again after every byte of an
answer still arriving), then resends the *same* SEQ, at most `retries` times, and reports a timeout.  NAK
BAD_CRC and NAK TRUNCATED are also resent; any other NAK is final.  The device answers a repeated
(SEQ, CMD) with its previous answer without executing the command again.  Events (SALE_EVENT,
CARD_EVENT) carry the device's own SEQ and are ACKed by the host with that SEQ; unACKed events are resent
`event_retries` times, then left in storage for READ_RECORDS.  A SELL with a non-zero `request_id` is
idempotent even across a power cut.

## NAK reasons

| code | name | 中文 | English |
|---|---|---|---|
{naks}

## Messages

{messages}

## Structs

{structs}

## Capability statement keys (IDENTIFY)

| key | type | unit | 中文 | English |
|---|---|---|---|---|
{caps}

## Service card layout (profile)

Mifare-1K-like: {sectors} sectors × {bps} blocks × {bsize} bytes; block 3 of each sector is the trailer
(key A | access bits `{access}` + GPB | key B; data blocks readable with A or B, writable with B).  Sector 0:
UID block and the application id `{app}`.  Base record in sectors {base} (two copies; the valid one with
the highest version wins, so a torn write is detected and the older copy survives).  The last
{nbatch} purchased batches in sectors {bfirst}..{blast} (a ring).  Keys here are the profile's **test
keys**; MOFCOM's card format and keys are not public.

### Base record (48 bytes)

{base_rec}

### Batch record (48 bytes)

{batch_rec}
"""


def _fields_table(fields: Iterable[FieldSpec | dict[str, Any]]) -> str:
    rows = ["| field | type | unit | code | 中文 | English |", "|---|---|---|---|---|---|"]
    for f in fields:
        rows.append(
            f"| `{f['name'] if isinstance(f, dict) else f.name}` | "
            f"`{f['type'] if isinstance(f, dict) else f.type}` | "
            f"{(f.get('unit') if isinstance(f, dict) else f.unit) or ''} | "
            f"{(f.get('code') if isinstance(f, dict) else f.code) or ''} | "
            f"{(f.get('zh') if isinstance(f, dict) else f.zh) or ''} | "
            f"{(f.get('en') if isinstance(f, dict) else f.en) or ''} |"
        )
    return "\n".join(rows)


def render(proto: Protocol | None = None) -> str:
    """The Markdown reference page of ``proto`` (default: the reference profile's)."""
    p = proto or get_protocol()
    d = p.data
    msgs = []
    for wire, c in p.commands.items():
        who = "host → device" if c.direction == "host" else "device → host (event)"
        part = [f"### `{wire}` 0x{c.code:02X} ({who}; {', '.join(c.devices)})", "", f"{c.zh}  ", c.en, ""]
        part += [
            "Request:" if c.direction == "host" else "Payload:",
            "",
            _fields_table(c.request.fields) if c.request.fields else "(empty)",
            "",
        ]
        part += ["Answer:", "", _fields_table(c.response.fields) if c.response else "ACK", ""]
        msgs.append("\n".join(part))
    structs = "\n\n".join(f"### `{name}`\n\n{_fields_table(lay.fields)}" for name, lay in p.struct_layouts.items())
    from .messages import IdentifyRequest

    card = d["card"]
    return _INTRO.format(
        name=p.name,
        zh=p.statement[0],
        en=p.statement[1],
        stx=p.frame.stx,
        etx=p.frame.etx,
        maxp=p.frame.max_payload,
        flag=p.response_flag,
        ack=p.ack_code,
        nak=p.nak_code,
        example=p.encode(IdentifyRequest(), 1).hex(" "),
        timing="\n".join(f"| `{k}` | {v} |" for k, v in d.get("timing", {}).items()),
        naks="\n".join(f"| 0x{n.code:02X} | `{n.name}` | {n.zh} | {n.en} |" for n in p.naks.values()),
        messages="\n".join(msgs),
        structs=structs,
        caps="\n".join(
            f"| `{k}` | {v['type']} | {v.get('unit', '')} | {v['zh']} | {v['en']} |"
            for k, v in d["capabilities"].items()
        ),
        sectors=card["sectors"],
        bps=card["blocks_per_sector"],
        bsize=card["block_size"],
        access=card["access_bits"],
        app=card["app_id"],
        base=", ".join(map(str, card["base_sectors"])),
        nbatch=len(card["batch_sectors"]),
        bfirst=card["batch_sectors"][0],
        blast=card["batch_sectors"][-1],
        base_rec=_fields_table(card["base_record"]["fields"]),
        batch_rec=_fields_table(card["batch_record"]["fields"]),
    )


if __name__ == "__main__":
    print(render(), end="")
