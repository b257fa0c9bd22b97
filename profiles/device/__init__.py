"""The profile's device protocol (``roucai-dp/1``; evidence: profile) and card layout.

    from profiles.device import get_protocol
    proto = get_protocol()                       # reference profile, "roucai-dp/1"
    frame = proto.encode(IdentifyRequest(), seq=1)
    dec = proto.decoder(); [f] = dec.feed(frame); msg = proto.decode(f)

Modules: :mod:`.framer` (bytes ⇄ frames, CRC, resync), :mod:`.fields` (typed
payload layouts), :mod:`.messages` (one class per message), :mod:`.protocol`
(the named protocol registry), :mod:`.card_layout` (service-card sectors).
No public standard defines a device serial protocol or a service-card layout;
both are the profile's own (see ``device_protocol.toml``).
"""

from .fields import PayloadError
from .framer import Frame, FrameDecoder, FrameFault, FrameSpec, crc16
from .messages import REGISTRY, Message
from .protocol import DEFAULT, Protocol, UnknownCommand, available_protocols, get_protocol, register_protocol

__all__ = [
    "PayloadError",
    "Frame",
    "FrameDecoder",
    "FrameFault",
    "FrameSpec",
    "crc16",
    "REGISTRY",
    "Message",
    "DEFAULT",
    "Protocol",
    "UnknownCommand",
    "available_protocols",
    "get_protocol",
    "register_protocol",
]
