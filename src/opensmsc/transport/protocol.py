"""SmppProtocol: the asyncio driver of one sans-IO `smpp.Connection`.

It owns the socket, the loop clock, the timer and backpressure, and nothing of the protocol:
bytes go into the Connection, events come out to a `SessionHandler`, and whatever the Connection
wants to send is written. The handler (a service) answers requests later through `respond()`.

Backpressure, so that no peer can make us buffer without bound:
- a peer that does not read its socket fills our write buffer; past the high-water mark we stop
  reading from it (`pause_writing` → `pause_reading`) until it drains;
- a service that cannot keep up (its queue is full, or the session's window of unanswered
  requests is full in "backpressure" mode) asks for `hold_reading(reason)` and later
  `release_reading(reason)`.

Fairness between sessions: one read can bring 256 KiB, 16,000 enquire_link, and answering
them all in one callback held every other session for tens of milliseconds (issue 10 item
29). At most `FAIR_SHARE` octets are fed to the Connection per turn of the event loop; the
rest waits, the session's reading paused, for the next turns.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Protocol as TypingProtocol
from typing import cast

from opensmsc.smpp import Connection, Event, RemoteProtocolError, Request, RequestReceived, Response

log = logging.getLogger(__name__)

# A peer that does not read its socket can make us hold at most this much unsent data.
WRITE_HIGH_WATER = 256 * 1024
WRITE_LOW_WATER = 64 * 1024
# What one session may have decoded and answered per turn of the event loop: a window's worth
# of submit_sm and more, so that a well-behaved client is never split.
FAIR_SHARE = 8 * 1024


class SessionHandler(TypingProtocol):
    """What a service implements to drive one SMPP session."""

    def on_events(self, events: list[Event]) -> None: ...

    def on_connection_lost(self, exc: Exception | None) -> None: ...


class SmppProtocol(asyncio.Protocol):
    """Drives a Connection over an asyncio transport. No protocol logic lives here."""

    def __init__(self, connection: Connection, *, session_id: str) -> None:
        self._conn = connection
        self.session_id = session_id
        self.handler: SessionHandler | None = None
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._read_holds: set[str] = set()
        self._flush_scheduled = False
        # While data_received() runs, whatever the handler queues is written once at its end.
        self._receiving = False
        self._response_timeout = connection.config.response_timeout
        self._closed = False
        self.peer: tuple[str, int] | None = None
        self._backlog = memoryview(b"")  # read but not fed yet: past this turn's fair share

    # ---- what services call -------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def is_closed(self) -> bool:
        return self._closed

    def send_request(self, pdu: Request) -> int:
        """Queue a request; raises WindowFull / InvalidStateError from the Connection."""
        now = self._loop.time()
        sequence_number = self._conn.send_request(pdu, now=now)
        if not self._receiving:
            self._schedule_flush()
        # The request's response deadline is now + response_timeout; a timer armed no later
        # than that already covers it (the common case: no need to ask next_deadline()).
        timer_at = self._timer_at
        if self._timer is None or timer_at is None or timer_at > now + self._response_timeout:
            self._arm_timer()
        return sequence_number

    def respond(self, to: RequestReceived, pdu: Response) -> None:
        if self._closed:
            return
        self._conn.respond(to, pdu)
        if not self._receiving:
            self._schedule_flush()

    def reject(self, to: RequestReceived, status: int) -> None:
        if self._closed:
            return
        self._conn.reject(to, status)
        self._schedule_flush()

    def unbind(self) -> None:
        if self._closed:
            return
        self._conn.unbind(now=self._loop.time())
        self._schedule_flush()
        self._arm_timer()

    def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._flush()
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def mark_bound(self) -> None:
        """The handler's session is bound: it no longer counts as a connection that has not
        bound (the listener's caps, transport/limits.py)."""

    def hold_reading(self, reason: str) -> None:
        if not self._read_holds and self._transport is not None and not self._closed:
            self._transport.pause_reading()
        self._read_holds.add(reason)

    def release_reading(self, reason: str) -> None:
        if reason not in self._read_holds:
            return
        self._read_holds.discard(reason)
        if not self._read_holds and self._transport is not None and not self._closed:
            self._transport.resume_reading()

    def peer_certificate(self) -> ssl.SSLObject | None:
        """The peer's ssl object, for mutual TLS, or None on a plaintext connection."""
        if self._transport is None:
            return None
        ssl_object = self._transport.get_extra_info("ssl_object")
        return ssl_object if isinstance(ssl_object, ssl.SSLObject) else None

    # ---- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it: no isinstance.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER, low=WRITE_LOW_WATER)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small request/response PDUs: Nagle would add 40 ms stalls.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = (str(peer[0]), int(peer[1]))
        self._flush()
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        if self._backlog:
            # Reading is paused while a backlog waits; a transport may still hand over what it
            # had already read. It goes behind, in order.
            self._backlog = memoryview(bytes(self._backlog) + data)
            return
        if len(data) > FAIR_SHARE:
            self._backlog = memoryview(data)[FAIR_SHARE:]
            data = data[:FAIR_SHARE]
            self.hold_reading("fair-share")
            self._loop.call_soon(self._feed_backlog)
        self._feed(data)

    def _feed_backlog(self) -> None:
        if self._closed or self._conn.is_terminated or not self._backlog:
            self._backlog = memoryview(b"")
            self.release_reading("fair-share")
            return
        data = bytes(self._backlog[:FAIR_SHARE])
        self._backlog = self._backlog[FAIR_SHARE:]
        if self._backlog:
            self._loop.call_soon(self._feed_backlog)
        else:
            self.release_reading("fair-share")
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        try:
            events = self._conn.receive_data(data, now=self._loop.time())
        except RemoteProtocolError as exc:
            log.warning("closing session=%s peer=%s: %s", self.session_id, self.peer, exc)
            self.close()
            return
        if events and self.handler is not None:
            # Answers given synchronously go out in the one write below (coalesced per read).
            self._receiving = True
            try:
                self.handler.on_events(events)
            finally:
                self._receiving = False
        self._flush()
        self._arm_timer()

    def eof_received(self) -> bool | None:
        # What the peer sent before its EOF comes first, all of it now (the transport closes
        # once this returns); a rare case, not worth a half-closed transport.
        backlog, self._backlog = self._backlog, memoryview(b"")
        if backlog and not self._conn.is_terminated:
            self._feed(bytes(backlog))
        self._feed_close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._feed_close()
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        handler, self.handler = self.handler, None
        if handler is not None:
            handler.on_connection_lost(exc)
        # The handler holds this protocol, and this protocol its handler and transport: break
        # the cycles so that reference counting frees a closed session at once. The collector
        # alone would keep thousands alive for long (issue 10 item 22; app.tune_gc makes
        # full collections rare). Whatever still runs for the session (a store commit's
        # answer) finds it closed and sends nothing.
        self._transport = None

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading it too, so it cannot make us queue responses.
        self.hold_reading("peer-not-reading")

    def resume_writing(self) -> None:
        self.release_reading("peer-not-reading")

    # ---- internals ----------------------------------------------------------------------------

    def _feed_close(self) -> None:
        if self._closed:
            return
        try:
            events = self._conn.receive_data(b"", now=self._loop.time())
        except RemoteProtocolError:
            events = []
        if events and self.handler is not None:
            self.handler.on_events(events)

    def _schedule_flush(self) -> None:
        # Coalesce the responses of one burst into one write.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self._conn.data_to_send()
        if data and self._transport is not None and not self._closed:
            self._transport.write(data)
        if self._conn.is_terminated and self._transport is not None and not self._closed:
            self._transport.close()

    def _arm_timer(self) -> None:
        deadline = self._conn.next_deadline()
        if deadline is None or self._closed:
            return
        # Deadlines move later with every PDU; re-arming each time would churn timer handles.
        # An early wake-up costs one handle_timer() that finds nothing due.
        if self._timer is not None and self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        events = self._conn.handle_timer(now=self._loop.time())
        if events and self.handler is not None:
            self.handler.on_events(events)
        self._flush()
        self._arm_timer()
