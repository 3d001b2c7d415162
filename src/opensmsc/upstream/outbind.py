"""A connector's outbind listener: the ESME side of outbind (SMPP 3.4 §2.2.1, digest §1.10).

What this is for: a carrier's SMSC that has messages for us while we are not bound as a receiver
may connect to us and send outbind. `OutbindListener` accepts those TCP connections, checks the
outbind's system_id and password against `outbind_system_id` / `outbind_password`, and hands
each accepted connection to its connector (`adopt`), which binds on it as receiver (or as
transceiver in SMPP 5.0) and from then on treats it like a session it opened itself: the same
receipt matching, the same on_receipt / on_mo callbacks, the same graceful unbind at stop.

What it is not: the session logic after the outbind (that is `link.Links`), nor
the socket handling, which is the transport's `SmppServer` run in the ESME role. Plain TCP
only for now: a TLS listener would need a server certificate for the connector.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from opensmsc.errors import ConfigError
from opensmsc.logtext import peer_text
from opensmsc.smpp import (
    BindMode,
    ConnectionTerminated,
    Event,
    Outbind,
    OutbindReceived,
    ProtocolViolation,
    Role,
    SessionConfig,
)
from opensmsc.transport import Listener, SessionHandler, SmppProtocol, SmppServer
from opensmsc.upstream.settings import SMPP_V50, ConnectorSettings

__all__ = ["AdoptOutbind", "OutbindListener", "outbind_bind_mode", "outbind_refusal"]

log = logging.getLogger(__name__)

AdoptOutbind = Callable[[SmppProtocol, BindMode], SessionHandler | None]
"""The connector's hook: send the bind on this connection and return the handler that takes
its events from now on; None when the connector is stopping (the connection is then closed)."""


def outbind_bind_mode(settings: ConnectorSettings) -> BindMode:
    """How a connector answers an outbind: bind_transceiver when it speaks SMPP 5.0 (5.0 §2.3
    allows it), else bind_receiver, the only answer 3.4 allows (§2.2.1)."""
    if settings.interface_version == SMPP_V50:
        return BindMode.TRANSCEIVER
    return BindMode.RECEIVER


def outbind_refusal(settings: ConnectorSettings, pdu: Outbind) -> str | None:
    """Why this outbind must be refused, or None to accept it. An empty `outbind_system_id` or
    `outbind_password` in the configuration accepts any value."""
    expected_id = settings.outbind_system_id
    if expected_id and pdu.system_id != expected_id:
        return f"system_id {peer_text(pdu.system_id)} is not {expected_id!r}"
    expected_password = settings.outbind_password
    # Compared in constant time: the listener is reachable by whoever can reach the port.
    if expected_password and not hmac.compare_digest(
        pdu.password.encode("utf-8", "surrogateescape"),
        expected_password.encode("utf-8", "surrogateescape"),
    ):
        return "wrong password"
    return None


class OutbindListener:
    """Listens for one connector at `outbind_bind_address`:`outbind_port` (0: any free port;
    `port` tells which). `start()` raises ConfigError when it cannot listen there. `stop()`
    closes the listening socket and any connection still open; the connector unbinds the
    sessions it adopted before calling it."""

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        session_config: SessionConfig,
        adopt: AdoptOutbind,
    ) -> None:
        if session_config.role is not Role.ESME:
            raise ValueError("an outbind listener runs ESME-role sessions")
        self.settings = settings
        self._adopt = adopt
        self._mode = outbind_bind_mode(settings)
        self._server = SmppServer(session_config, self._new_connection)
        self._port: int | None = None
        self.accepted = 0  # outbinds handed to the connector
        self.refused = 0  # outbinds whose credentials did not match

    @property
    def listener_name(self) -> str:
        return f"outbind-{self.settings.name}"

    @property
    def port(self) -> int | None:
        """The port it listens on; None when not started."""
        return self._port

    async def start(self) -> int:
        settings = self.settings
        try:
            self._port = await self._server.start(
                Listener(
                    name=self.listener_name,
                    host=settings.outbind_bind_address,
                    port=settings.outbind_port,
                )
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for outbinds on {settings.outbind_bind_address}:"
                f"{settings.outbind_port}: {exc.strerror or exc}",
                path=settings.where,
                key="outbind_port",
            ) from exc
        return self._port

    async def stop(self, *, drain_timeout: float = 1.0) -> None:
        self._port = None
        await self._server.stop(drain_timeout=drain_timeout)

    def _new_connection(self, protocol: SmppProtocol) -> SessionHandler:
        return _AwaitingOutbind(self, protocol)

    def _on_outbind(self, protocol: SmppProtocol, pdu: Outbind) -> SessionHandler | None:
        refusal = outbind_refusal(self.settings, pdu)
        if refusal is not None:
            self.refused += 1
            log.warning(
                "outbind refused connector=%s session=%s peer=%s: %s",
                self.settings.name,
                protocol.session_id,
                protocol.peer,
                refusal,
            )
            return None
        handler = self._adopt(protocol, self._mode)
        if handler is None:
            log.info(
                "outbind refused connector=%s session=%s: connector stopping",
                self.settings.name,
                protocol.session_id,
            )
            return None
        self.accepted += 1
        log.info(
            "outbind accepted connector=%s session=%s peer=%s smsc_system_id=%s bind=%s",
            self.settings.name,
            protocol.session_id,
            protocol.peer,
            peer_text(pdu.system_id),
            self._mode.value,
        )
        return handler


class _AwaitingOutbind:
    """The handler of an accepted connection until its outbind arrives; then the connector's
    session handler takes over, and this one only forwards."""

    __slots__ = ("_listener", "_protocol", "_session")

    def __init__(self, listener: OutbindListener, protocol: SmppProtocol) -> None:
        self._listener = listener
        self._protocol = protocol
        self._session: SessionHandler | None = None

    def on_events(self, events: list[Event]) -> None:
        if self._session is not None:
            self._session.on_events(events)
            return
        for index, event in enumerate(events):
            match event:
                case OutbindReceived(pdu=pdu):
                    session = self._listener._on_outbind(self._protocol, pdu)
                    if session is None:
                        # No response PDU exists for outbind (SMPP 3.4 §4.1.7): closing is
                        # the only refusal there is.
                        self._protocol.close()
                        return
                    self._session = session
                    rest = events[index + 1 :]
                    if rest:
                        session.on_events(rest)
                    return
                case ProtocolViolation(detail=detail, status=status):
                    # The Connection has answered it already (e.g. deliver_sm before the bind).
                    log.warning(
                        "outbind listener: protocol violation connector=%s session=%s "
                        "status=0x%08X: %s",
                        self._listener.settings.name,
                        self._protocol.session_id,
                        status,
                        detail,
                    )
                case ConnectionTerminated(reason=reason):
                    log.info(
                        "outbind listener: connection ended before an outbind "
                        "connector=%s session=%s reason=%s",
                        self._listener.settings.name,
                        self._protocol.session_id,
                        reason.value,
                    )
                case _:
                    pass

    def on_connection_lost(self, exc: Exception | None) -> None:
        if self._session is not None:
            self._session.on_connection_lost(exc)
