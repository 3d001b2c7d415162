"""The SMSC's SMPP listeners: plaintext (2775) and implicit TLS (3550), the same session logic
on both. Each accepted TCP connection gets a sans-IO Connection in the SMSC role, an
SmppProtocol driving it, and a service handler made by `handler_factory`.

With `limits`, connections that have not bound are capped (limits.py): past a cap, a new
connection is closed at once. The handler tells when its session bound (`mark_bound`)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from opensmsc.smpp import Connection, Outbind, SessionConfig
from opensmsc.transport.limits import (
    ConnectionLimits,
    UnboundGate,
    address_key,
    file_budget,
    file_limit,
)
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

    def __init__(
        self,
        session_config: SessionConfig,
        handler_factory: HandlerFactory,
        *,
        limits: ConnectionLimits | None = None,  # None: no cap on unbound connections
    ) -> None:
        self._session_config = session_config
        self._handler_factory = handler_factory
        self._servers: dict[str, asyncio.Server] = {}
        self._closed: list[asyncio.Server] = []  # listeners a reload closed
        self._sessions: set[SmppProtocol] = set()
        self._ids = itertools.count(1)
        self._limits = limits
        self._gate: UnboundGate | None = None

    @property
    def sessions(self) -> frozenset[SmppProtocol]:
        return frozenset(self._sessions)

    def serving(self, name: str) -> bool:
        """Whether the listener called `name` accepts connections (the readiness check)."""
        server = self._servers.get(name)
        return server is not None and server.is_serving()

    def port(self, name: str) -> int:
        """The port a listener is bound to (useful with port 0)."""
        sockets = self._servers[name].sockets
        return int(sockets[0].getsockname()[1])

    async def start(self, listener: Listener) -> int:
        return self.install(listener, await self.open(listener))

    async def open(self, listener: Listener) -> asyncio.Server:
        """A socket listening for `listener`, its connections sessions of this server, but not
        known under its name until `install`: a reload opens every new port before it changes
        anything, so a port in use changes nothing. Raises OSError."""
        soft, _ = file_limit()  # raised to the hard limit at the first start
        if self._limits is not None and self._gate is None:
            self._gate = UnboundGate(self._limits, file_budget=file_budget(soft))
        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: self._new_session(listener.name),
            host=listener.host,
            port=listener.port,
            ssl=listener.ssl_context,
            ssl_handshake_timeout=listener.tls_handshake_timeout if listener.ssl_context else None,
            reuse_address=True,
            backlog=1024,
        )

    def install(self, listener: Listener, server: asyncio.Server) -> int:
        """Serve `server` (from `open`) as the listener of its name; one that served under that
        name before stops accepting (`close`). Returns the port."""
        self.close(listener.name)
        self._servers[listener.name] = server
        port = self.port(listener.name)
        log.info("listening name=%s address=%s port=%d", listener.name, listener.host, port)
        return port

    def close(self, name: str) -> None:
        """Stop accepting on the listener `name`; sessions that came through it stay."""
        server = self._servers.pop(name, None)
        if server is None:
            return
        server.close()
        # Awaited only at stop(): from Python 3.12 wait_closed also waits for the sessions.
        self._closed.append(server)
        log.info("listener closed name=%s", name)

    def set_session_config(self, session_config: SessionConfig) -> None:
        """The session settings of connections accepted from now on (a reload); sessions
        already open keep theirs."""
        self._session_config = session_config

    @property
    def unbound(self) -> int:
        """Accepted connections that have not bound (0 without limits)."""
        return 0 if self._gate is None else self._gate.unbound

    def _new_session(self, listener: str) -> SmppProtocol:
        loop = asyncio.get_running_loop()
        session_id = f"{listener}-{next(self._ids)}"
        connection = Connection(self._session_config, now=loop.time())
        # Sessions we dial out (outbind) are ours: not capped.
        gate = self._gate if listener != "outbind" else None
        protocol = _TrackedProtocol(
            connection, session_id=session_id, sessions=self._sessions, gate=gate
        )
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

    def stop_accepting(self) -> None:
        """Close the listening sockets (new connections are refused) and the connections that
        have not bound; bound sessions go on until `stop()`."""
        for server in self._servers.values():
            server.close()
        for protocol in list(self._sessions):
            if not protocol.connection.state.is_bound and not protocol.connection.is_binding:
                protocol.close()

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
        for server in [*self._servers.values(), *self._closed]:
            await server.wait_closed()
        self._servers.clear()
        self._closed.clear()


class _TrackedProtocol(SmppProtocol):
    """Joins the server's set of live sessions once its transport exists, if the gate admits
    it. A TLS handshake that fails never reaches connection_made (nor connection_lost), so it
    must not be counted from the factory, or the set would grow with every failed handshake."""

    def __init__(
        self,
        connection: Connection,
        *,
        session_id: str,
        sessions: set[SmppProtocol],
        gate: UnboundGate | None,
    ) -> None:
        super().__init__(connection, session_id=session_id)
        self._live = sessions
        self._gate = gate
        self._unbound_key: str | None = None  # counted by the gate until bound or closed
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        gate = self._gate
        if gate is not None:
            peer = transport.get_extra_info("peername")
            key = address_key(str(peer[0])) if isinstance(peer, tuple) and peer else "?"
            now = asyncio.get_running_loop().time()
            if not gate.admit(key, open_connections=len(self._live), now=now):
                self._refused = True
                self.handler = None
                transport.close()
                return
            self._unbound_key = key
        self._live.add(self)
        super().connection_made(transport)

    def mark_bound(self) -> None:
        self._release_unbound()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._release_unbound()
        super().connection_lost(exc)
        self._live.discard(self)

    def _release_unbound(self) -> None:
        key, self._unbound_key = self._unbound_key, None
        if key is not None and self._gate is not None:
            self._gate.release(key)
