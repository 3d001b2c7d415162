"""The SMPP error classes, each carrying what a peer must be answered (STYLE.md §4).

`decode()` and `FrameBuffer` raise nothing but `FramingError` and `PduError`. A `FramingError`
means the byte stream can no longer be trusted (answer generic_nack, flush, close); a `PduError`
means one frame was bad but its boundaries are sound (answer it, the session lives on).
"""

from __future__ import annotations

from opensmsc.errors import OpensmscError
from opensmsc.smpp.constants import CommandStatus


def _status_name(status: int) -> str:
    parsed = CommandStatus.parse(status)
    return parsed.name if isinstance(parsed, CommandStatus) else f"0x{status:08X}"


class SmppError(OpensmscError):
    """Base of every SMPP error."""


class ProtocolError(SmppError):
    """A session rule was broken; `status` is the command_status that describes it."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        self.message = message
        super().__init__(f"{message} ({_status_name(status)})" if message else _status_name(status))


class LocalProtocolError(ProtocolError):
    """We broke the rules: a bug in opensmsc (e.g. encoding a 300-octet short_message)."""


class InvalidStateError(LocalProtocolError):
    """A PDU was sent in a session state that does not allow it."""


class WindowFull(LocalProtocolError):
    """No window slot is free; wait for ResponseReceived or RequestTimedOut."""


class RemoteProtocolError(ProtocolError):
    """The peer broke framing; the answer is queued, then the connection is closed."""


class FramingError(RemoteProtocolError):
    """The header is unusable: command_length out of bounds (ESME_RINVCMDLEN).

    `sequence_number` is the header's when its octets arrived, else None. `frames` holds the
    frames FrameBuffer completed in the same feed() before the bad one.
    """

    def __init__(
        self,
        status: int,
        message: str = "",
        *,
        command_id: int | None = None,
        sequence_number: int | None = None,
    ) -> None:
        self.command_id = command_id
        self.sequence_number = sequence_number
        # FrameBuffer: the good frames cut in the same feed() before the bad length.
        self.frames: list[bytes] = []
        super().__init__(status, message)


class PduError(SmppError):
    """A bad PDU inside a good frame: answer it with `status`; the session lives on.

    `command_id` and `sequence_number` are as read from the header, so the answer (the
    request's own response, or generic_nack for ESME_RINVCMDID) can echo them.
    """

    def __init__(
        self,
        status: int,
        message: str = "",
        *,
        command_id: int = 0,
        sequence_number: int = 0,
    ) -> None:
        self.status = status
        self.message = message
        self.command_id = command_id
        self.sequence_number = sequence_number
        super().__init__(
            f"command_id=0x{command_id:08X} seq={sequence_number}: {message}"
            f" ({_status_name(status)})"
        )


__all__ = [
    "FramingError",
    "InvalidStateError",
    "LocalProtocolError",
    "PduError",
    "ProtocolError",
    "RemoteProtocolError",
    "SmppError",
    "WindowFull",
]
