"""The SMPP plumbing the crash test's own peers share: an asyncio Protocol that frames and
decodes with our codec (`opensmsc.smpp` FrameBuffer / decode / encode) and hands each PDU to
`on_pdu`. No session machine on purpose: the crash clients and the sink must keep working
whatever state a killed peer left behind, and must show exactly what went over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct

from opensmsc.smpp import RESPONSE_BIT, Decoded, FrameBuffer, GenericNack, Pdu, decode, encode

__all__ = ["SmppPeer"]


class SmppPeer(asyncio.Protocol):
    """Frames in, `on_pdu(decoded)` per PDU; `send(pdu)` with our own sequence numbers."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.frames = FrameBuffer()
        self._sequence = itertools.count(1)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # ---- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.on_connected()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.frames.feed(data)
        except Exception:  # a broken stream: drop the connection, as a real peer would
            self.abort()
            return
        for frame in frames:
            try:
                decoded = decode(frame, strict=False)
            except Exception as exc:  # answer what we cannot read, as SMPP 3.4 §4.3 says
                _length, command_id, _status, seq = struct.unpack_from(">IIII", frame)
                if not command_id & RESPONSE_BIT:
                    self.send(GenericNack(command_status=getattr(exc, "status", 3)), seq)
                continue
            self.on_pdu(decoded)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        self.on_lost()

    # ---- for subclasses -----------------------------------------------------------------------

    def on_connected(self) -> None:
        pass

    def on_pdu(self, decoded: Decoded) -> None:
        raise NotImplementedError

    def on_lost(self) -> None:
        pass

    # ---- writing ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, pdu: Pdu, sequence_number: int | None = None) -> int:
        """Write `pdu` (a request takes the next sequence number); returns the number used.
        Writing to a closed connection is a no-op: the peer may be dead already."""
        seq = next(self._sequence) if sequence_number is None else sequence_number
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode(pdu, seq))
        return seq

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
