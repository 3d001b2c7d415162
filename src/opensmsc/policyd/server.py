"""The policy server's TCP listener (3055): frames in, the Dispatcher's answers out, with the
bounds that keep a bad or greedy peer from hurting the others (docs/policy-protocol.md §6).

What this is for: owning the listening socket and each connection: cutting the stream into
frames (wire.FrameBuffer), answering each frame as it is read (any number of calls in flight,
answered by id), and closing a connection whose framing breaks (an oversized or zero length),
that stays silent past `idle_timeout`, or that comes when `max_connections` are open. A peer
that does not read its answers is not read either (backpressure), so its answers wait in a
bounded buffer. With an `ssl` context the listener speaks TLS from the first octet (implicit
TLS, as SMPP's 3550); a handshake not done within `handshake_timeout` closes the connection.
What it is not: what the methods do (dispatch.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections import deque
from dataclasses import dataclass
from typing import cast

from opensmsc.policyd.dispatch import Dispatcher, Peer
from opensmsc.policyd.wire import DEFAULT_MAX_FRAME, Frame, FrameBuffer, FrameError

__all__ = ["PolicyServer", "ServerLimits"]

log = logging.getLogger(__name__)

_LENGTH_BYTES = 4
_WRITE_CHUNK = 64 * 1024  # answers handed to the transport at once, at most (about)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """`max_frame`: the longest body read (octets); `idle_timeout`: seconds of silence before
    a connection is closed (0: never); `max_connections`: connections open at once."""

    max_connections: int = 256
    max_frame: int = DEFAULT_MAX_FRAME
    idle_timeout: float = 60.0
    # The answers queued for a peer that does not read them, before we stop reading it.
    write_high_water: int = 256 * 1024


class PolicyServer:
    """The listener. `start()` returns the bound port; `stop()` closes every connection."""

    def __init__(self, dispatcher: Dispatcher, limits: ServerLimits | None = None) -> None:
        self._dispatcher = dispatcher
        self._limits = limits or ServerLimits()
        self._server: asyncio.Server | None = None
        self._live: set[_PolicyConnection] = set()
        self._ids = itertools.count(1)

    @property
    def connections(self) -> int:
        return len(self._live)

    @property
    def buffered(self) -> int:
        """Octets of answers waiting to be taken by the kernel, over every connection."""
        return sum(connection.buffered for connection in self._live)

    @property
    def serving(self) -> bool:
        """Whether it accepts connections (the readiness check)."""
        return self._server is not None and self._server.is_serving()

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
    ) -> int:
        """Listen on host:port (0: an ephemeral port), over TLS with `ssl_context`; the bound
        port. Raises OSError."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection,
            host=host,
            port=port,
            reuse_address=True,
            backlog=1024,
            ssl=ssl_context,
            ssl_handshake_timeout=None if ssl_context is None else handshake_timeout,
        )
        bound = self.port
        assert bound is not None
        log.info(
            "listening name=policyd address=%s port=%d tls=%s",
            host,
            bound,
            "off" if ssl_context is None else "on",
        )
        return bound

    def _new_connection(self) -> _PolicyConnection:
        return _PolicyConnection(self._dispatcher, self._limits, self._live, next(self._ids))

    async def stop(self, *, drain_timeout: float = 2.0) -> None:
        """Stop accepting, close every connection once its answers are written (bounded)."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._live):
            connection.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        while self._live and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self._live):
            connection.abort()
        await self._server.wait_closed()
        self._server = None


class _PolicyConnection(asyncio.Protocol):
    """One client connection (module doc)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        limits: ServerLimits,
        live: set[_PolicyConnection],
        number: int,
    ) -> None:
        self._dispatcher = dispatcher
        self._limits = limits
        self._live = live
        self._number = number
        self._frames = FrameBuffer(limits.max_frame)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._peer: Peer | None = None
        self._last_heard = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._writing_paused = False
        self._backlog: deque[Frame | FrameError] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not an asyncio.Transport subclass, so no isinstance).
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        address = transport.get_extra_info("peername")
        name = f"policyd-{self._number}"
        if address:
            name += f"@{address[0]}:{address[1]}"
        self._peer = self._dispatcher.new_peer(name)
        if len(self._live) >= self._limits.max_connections:
            log.warning(
                "policy connection refused peer=%s: max_connections=%d open",
                name,
                self._limits.max_connections,
            )
            self._closing = True
            transport.close()
            return
        self._live.add(self)
        transport.set_write_buffer_limits(high=self._limits.write_high_water)
        log.info("policy connection opened peer=%s", name)
        if self._limits.idle_timeout > 0:
            self._last_heard = self._loop.time()
            self._idle_timer = self._loop.call_later(self._limits.idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self._closing or self._peer is None:
            return
        if self._idle_timer is not None:
            self._last_heard = self._loop.time()
        self._backlog.extend(self._frames.feed(data))
        self._answer_backlog()

    def _answer_backlog(self) -> None:
        """Answer the frames read, until they are all answered or the peer's answers wait
        beyond the high-water mark; then the rest waits for resume_writing (with reading
        paused), so what a peer that does not read costs us stays bounded."""
        transport, peer, backlog = self._transport, self._peer, self._backlog
        assert transport is not None and peer is not None
        answer = self._dispatcher.answer
        out: list[bytes] = []
        size = 0
        while backlog and not self._writing_paused:
            event = backlog.popleft()
            if isinstance(event, FrameError):
                log.warning("policy connection closed peer=%s: %s", peer.name, event.reason)
                self._closing = True
                break
            text = answer(event.body, peer)
            if text is None:
                continue
            encoded = text.encode()
            out.append(len(encoded).to_bytes(_LENGTH_BYTES, "big"))
            out.append(encoded)
            size += len(encoded)
            if size >= _WRITE_CHUNK:
                transport.write(b"".join(out))  # may call pause_writing at once
                out.clear()
                size = 0
        if out:
            transport.write(b"".join(out))
        if self._closing:
            backlog.clear()
            transport.close()  # after the answers already owed are written
        elif backlog:
            transport.pause_reading()

    def _check_idle(self) -> None:
        silent = self._loop.time() - self._last_heard
        if silent >= self._limits.idle_timeout:
            name = self._peer.name if self._peer else "?"
            log.info("policy connection closed peer=%s: idle for %.0f s", name, silent)
            self.close()
            return
        self._idle_timer = self._loop.call_later(
            self._limits.idle_timeout - silent, self._check_idle
        )

    # Backpressure: a peer that does not read its answers is not read either.
    def pause_writing(self) -> None:
        self._writing_paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._transport is None or self._closing:
            return
        self._answer_backlog()
        if not self._backlog and not self._closing and not self._writing_paused:
            self._transport.resume_reading()

    @property
    def buffered(self) -> int:
        """Octets of answers written but not yet taken by the kernel."""
        return 0 if self._transport is None else self._transport.get_write_buffer_size()

    def close(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self in self._live:
            self._live.discard(self)
            peer = self._peer
            if peer is not None:
                calls = " ".join(f"{m}={n}" for m, n in sorted(peer.counts.items()))
                log.info(
                    "policy connection closed peer=%s calls=%d errors=%d %s",
                    peer.name,
                    peer.calls,
                    peer.errors,
                    calls,
                )
