"""One TCP connection of a connector, and the slot it fills (issue 4, 9).

What this is for: `UpstreamSession` is the SessionHandler of one connection to (or, by outbind,
from) the upstream: it settles its bind, keeps the session's own bookkeeping (peer, termination,
unbind, rate-limited protocol warnings) and hands everything else to the connector through
`SessionEvents`: submit answers, receipts and MO, bound, lost. `Link` is a session slot: what
it binds as, its state and counters for status.

What it is not: connecting, binding or reconnecting (link.py), or the session rules and timers
(`smpp.Connection`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from opensmsc.smpp import (
    AlertReceived,
    BindMode,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Bound,
    CommandStatus,
    ConnectionTerminated,
    DataSmReceived,
    DeliverReceived,
    Event,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
    Response,
    ResponseReceived,
    SubmitSm,
    TerminationReason,
    UnbindRequested,
)
from opensmsc.transport import SmppProtocol
from opensmsc.upstream.model import LinkState
from opensmsc.upstream.settings import ConnectorSettings

__all__ = [
    "IncomingEvent",
    "Link",
    "SessionEvents",
    "SessionOwner",
    "UpstreamSession",
    "status_text",
]

log = logging.getLogger(__name__)

IncomingEvent = DeliverReceived | DataSmReceived


def status_text(status: int) -> str:
    parsed = CommandStatus.parse(status)
    name = parsed.name if isinstance(parsed, CommandStatus) else "unknown status"
    return f"{name} (0x{status:08X})"


class SessionEvents(Protocol):
    """What the connector does with its sessions' traffic (connector.SmppConnector)."""

    def on_submit_response(
        self, session: UpstreamSession, sequence_number: int, response: Response
    ) -> None: ...

    def on_submit_timeout(self, session: UpstreamSession, sequence_number: int) -> None: ...

    def on_incoming(self, session: UpstreamSession, event: IncomingEvent) -> None: ...

    def on_session_bound(self, session: UpstreamSession) -> None:
        """A session of a slot of ours (not an outbind) bound."""

    def on_session_lost(self, session: UpstreamSession, reason: str) -> None:
        """The connection ended; whatever it had in flight is lost."""


class Link:
    """A session slot: what it binds as, and its current session if any. An outbind session
    gets a slot of its own, outside `Links.links`, so it never carries submits."""

    def __init__(self, mode: BindMode, *, outbind: bool = False) -> None:
        self.mode = mode
        self.outbind = outbind
        self.state = LinkState.IDLE
        self.session: UpstreamSession | None = None
        self.task: asyncio.Task[None] | None = None
        self.connects = 0
        self.binds = 0
        self.last_error: str | None = None

    @property
    def sends(self) -> bool:
        return self.mode is not BindMode.RECEIVER


class SessionOwner(Protocol):
    """What a session needs of the sessions of its connector (link.Links)."""

    settings: ConnectorSettings
    handler: SessionEvents
    now: Callable[[], float]
    sessions: set[UpstreamSession]  # open connections; a session leaves it when it closes


class UpstreamSession:
    """One TCP connection of a connector; the SessionHandler its SmppProtocol reports to."""

    def __init__(self, owner: SessionOwner, link: Link, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        self._owner = owner
        self.link = link
        self.session_id = session_id
        self.protocol: SmppProtocol | None = None
        self.bind_result: asyncio.Future[str | None] = loop.create_future()  # None: bound
        self.closed: asyncio.Future[None] = loop.create_future()
        self.peer_system_id: str | None = None
        self.termination: TerminationReason | None = None
        # A peer that breaks a rule usually breaks it in bursts: one warning a second, counted.
        self._violations_logged_at = float("-inf")
        self._violations_suppressed = 0

    def attach(self, protocol: SmppProtocol) -> UpstreamSession:
        self.protocol = protocol
        return self

    @property
    def can_send(self) -> bool:
        protocol = self.protocol
        return protocol is not None and not protocol.is_closed and protocol.connection.can_send

    def resolve_bind(self, outcome: str | None) -> None:
        if not self.bind_result.done():
            self.bind_result.set_result(outcome)

    def respond(self, event: IncomingEvent, status: int = 0) -> None:
        if self.protocol is None:
            return
        if status:
            self.protocol.reject(event, status)
        else:
            self.protocol.respond(event, event.pdu.response())

    # SessionHandler
    def on_events(self, events: list[Event]) -> None:
        handler = self._owner.handler
        for event in events:
            match event:
                case ResponseReceived(sequence_number=seq, request=request, response=response):
                    if isinstance(request, BindTransmitter | BindReceiver | BindTransceiver):
                        self.resolve_bind(
                            None
                            if response.command_status == 0
                            else f"bind refused: {status_text(response.command_status)}"
                        )
                    elif isinstance(request, SubmitSm):
                        handler.on_submit_response(self, seq, response)
                case RequestTimedOut(sequence_number=seq, request=request):
                    if isinstance(request, SubmitSm):
                        handler.on_submit_timeout(self, seq)
                    else:
                        self.resolve_bind(
                            f"no bind response within {self._owner.settings.response_timeout:g} s"
                        )
                case DeliverReceived() | DataSmReceived():
                    handler.on_incoming(self, event)
                case RequestReceived():
                    # The Connection refuses what an SMSC may not send; nothing else is left.
                    if self.protocol is not None:
                        self.protocol.reject(event, CommandStatus.ESME_RINVCMDID)
                case Bound(peer_system_id=peer):
                    self.peer_system_id = peer
                case UnbindRequested():
                    self.link.state = LinkState.UNBINDING
                    log.info(
                        "upstream unbinds connector=%s session=%s",
                        self._owner.settings.name,
                        self.session_id,
                    )
                case ConnectionTerminated(reason=reason):
                    self.termination = reason
                case ProtocolViolation(detail=detail, status=status):
                    self._violation(status, detail)
                case AlertReceived():
                    log.info(
                        "alert_notification connector=%s session=%s",
                        self._owner.settings.name,
                        self.session_id,
                    )
                case _:
                    pass

    def on_connection_lost(self, exc: Exception | None) -> None:
        reason = self.termination.value if self.termination else (str(exc) or "closed")
        self.resolve_bind(f"connection closed before the bind response ({reason})")
        self._owner.sessions.discard(self)
        self._owner.handler.on_session_lost(self, reason)
        if not self.closed.done():
            self.closed.set_result(None)

    def _violation(self, status: int, detail: str) -> None:
        now = self._owner.now()
        if now - self._violations_logged_at < 1.0:
            self._violations_suppressed += 1
            return
        log.warning(
            "upstream protocol violation connector=%s session=%s status=0x%08X: %s"
            " (%d more in the last second)",
            self._owner.settings.name,
            self.session_id,
            status,
            detail,
            self._violations_suppressed,
        )
        self._violations_logged_at = now
        self._violations_suppressed = 0
