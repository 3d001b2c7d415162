"""The SMSC's SMPP listeners: plaintext (2775) and implicit TLS (3550), the same session logic
on both. Each accepted TCP connection gets a sans-IO Connection in the SMSC role, an
SmppProtocol driving it, and a service handler made by `handler_factory`."""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from opensmsc.smpp.connection import Connection, SessionConfig
from opensmsc.smpp.pdu import Outbind
from opensmsc.transport.protocol import SessionHandler, SmppProtocol

log = logging.getLogger(__name__)

HandlerFactory = Callable[[SmppProtocol], SessionHandler]


@dataclass(frozen=True, slots=True)
class Listener:
    name: str  # "smpp" or "smpps", for logs
    host: str
    port: int  # 0 picks a free port
    ssl_context: ssl.SSLContext | None = None
    tls_handshake_timeout: float = 10.0


class SmppServer:
    """Owns the listening sockets and every live session."""

    def __init__(self, session_config: SessionConfig, handler_factory: HandlerFactory) -> None:
        self._session_config = session_config
        self._handler_factory = handler_factory
        self._servers: dict[str, asyncio.Server] = {}
        self._sessions: set[SmppProtocol] = set()
        self._ids = itertools.count(1)

    @property
    def sessions(self) -> frozenset[SmppProtocol]:
        return frozenset(self._sessions)

    def port(self, name: str) -> int:
        """The port a listener is bound to (useful with port 0)."""
        sockets = self._servers[name].sockets
        return int(sockets[0].getsockname()[1])

    async def start(self, listener: Listener) -> int:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: self._new_session(listener.name),
            host=listener.host,
            port=listener.port,
            ssl=listener.ssl_context,
            ssl_handshake_timeout=listener.tls_handshake_timeout if listener.ssl_context else None,
            reuse_address=True,
            backlog=1024,
        )
        self._servers[listener.name] = server
        port = self.port(listener.name)
        log.info("listening name=%s address=%s port=%d", listener.name, listener.host, port)
        return port

    def _new_session(self, listener: str) -> SmppProtocol:
        loop = asyncio.get_running_loop()
        session_id = f"{listener}-{next(self._ids)}"
        connection = Connection(self._session_config, now=loop.time())
        protocol = _TrackedProtocol(connection, session_id=session_id, sessions=self._sessions)
        protocol.handler = self._handler_factory(protocol)
        return protocol

    async def outbind(
        self,
        host: str,
        port: int,
        pdu: Outbind,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> SmppProtocol:
        """Open a session towards a listening ESME and send it `pdu` (SMPP 3.4 §2.2.1): the ESME
        answers with bind_receiver (or, in 5.0, bind_transceiver) on the same connection, and
        from there it is an ordinary session. Raises OSError / TimeoutError when the ESME
        cannot be reached."""
        loop = asyncio.get_running_loop()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: self._new_session("outbind"), host=host, port=port, ssl=ssl_context
            ),
            timeout,
        )
        protocol.send_request(pdu)
        return protocol

    async def stop(self, *, drain_timeout: float = 5.0) -> None:
        """Stop accepting, unbind every session, wait for them to close (bounded), then cut."""
        for server in self._servers.values():
            server.close()
        for protocol in list(self._sessions):
            if protocol.connection.state.is_bound:
                protocol.unbind()
            else:
                protocol.close()
        deadline = asyncio.get_running_loop().time() + drain_timeout
        while self._sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for protocol in list(self._sessions):
            protocol.abort()
        for server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()


class _TrackedProtocol(SmppProtocol):
    """Joins the server's set of live sessions once its transport exists. A TLS handshake that
    fails never reaches connection_made (nor connection_lost), so it must not be counted from
    the factory, or the set would grow with every failed handshake."""

    def __init__(
        self,
        connection: Connection,
        *,
        session_id: str,
        sessions: set[SmppProtocol],
    ) -> None:
        super().__init__(connection, session_id=session_id)
        self._live = sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._live.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._live.discard(self)
