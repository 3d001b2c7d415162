"""Incremental SMPP framing: bytes in, whole frames out, no I/O (SMPP 3.4 §3.2).

What this is for: cutting a TCP byte stream into PDUs, whatever the chunking (one octet at a
time included), checking each command_length the moment its four octets are in, before any of
the frame is buffered. What it is not: decoding. Frames come out as `bytes` for `decode()`.
"""

from __future__ import annotations

from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import FramingError
from opensmsc.smpp.fields import HEADER, HEADER_SIZE, U32

DEFAULT_MAX_LENGTH = 65_536 + 1024
"""A message_payload of 64K plus room for the mandatory fields and other TLVs."""

_u32 = U32.unpack_from
_header = HEADER.unpack_from


class FrameBuffer:
    """Incremental framing. `feed()` returns the frames completed by `data`, in order.

    A command_length below 16 or above `max_length` raises FramingError (ESME_RINVCMDLEN), with
    the sequence_number when its octets have arrived. The stream cannot be resynchronised after
    that, so every later `feed()` raises the same error. Frames completed in the same `feed()`
    before the bad one are on the error as `frames`, so a caller may still answer them.
    """

    __slots__ = ("_buf", "_error", "_max", "_need")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < HEADER_SIZE:
            raise ValueError(f"max_length {max_length} is below the 16-octet header")
        self._max = max_length
        self._buf = bytearray()
        self._need = 4  # octets the buffer must hold before the next look at it
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete frame."""
        return len(self._buf)

    @property
    def max_length(self) -> int:
        """The largest command_length accepted."""
        return self._max

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """The frames completed by `data`, in order. Raises FramingError only."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        if not buf:
            # The common case: nothing pending, so the frames are cut straight from `data`.
            src = data if type(data) is bytes else bytes(data)
        else:
            buf += data
            if len(buf) < self._need:
                return []  # the pending frame (or its length octets) is still incomplete
            src = bytes(buf)
            buf.clear()
        frames: list[bytes] = []
        pos = 0
        end = len(src)
        max_length = self._max
        while end - pos >= 4:
            length = _u32(src, pos)[0]
            if length < HEADER_SIZE or length > max_length:
                self._fail(src, pos, length, frames)
            if end - pos < length:
                break
            frames.append(src[pos : pos + length] if pos or length != end else src)
            pos += length
        if pos < end:
            buf += src[pos:]
            self._need = _u32(src, pos)[0] if end - pos >= 4 else 4
        else:
            self._need = 4
        return frames

    def _fail(self, src: bytes, pos: int, length: int, frames: list[bytes]) -> None:
        command_id = sequence_number = None
        if len(src) - pos >= HEADER_SIZE:
            _, command_id, _, sequence_number = _header(src, pos)
        error = FramingError(
            CommandStatus.ESME_RINVCMDLEN,
            f"command_length {length} outside 16..{self._max}",
            command_id=command_id,
            sequence_number=sequence_number,
        )
        error.frames = frames
        self._error = error
        self._buf.clear()
        raise error


__all__ = ["DEFAULT_MAX_LENGTH", "FrameBuffer"]
