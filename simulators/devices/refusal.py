"""Why a device says no: :class:`Refused` carries a NAK reason name of the protocol.

Device models raise it; the endpoint turns it into a NAK frame with that
reason (``[[nak]]`` in ``device_protocol.toml``).  :class:`PowerLost` is raised
inside a device when its power is cut mid-operation (nothing uncommitted
survives; the device answers nothing until restarted).
"""


class Refused(Exception):
    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}{': ' + detail if detail else ''}")


class PowerLost(Exception):
    """The device lost power in the middle of an operation."""
