"""Outgoing SMPP connections: one TCP (or implicit TLS) connection driven by an SmppProtocol.

What this is for: opening the socket an upstream connector binds over, plain or TLS (CA, SNI
via `server_hostname`, client certificate: all in the `ssl.SSLContext` from `tls.client_context`),
within a connect timeout, and turning every OSError / ssl.SSLError into our `ConnectionLost` or
`ConnectTimeout`. What it is not: binding, reconnecting or back-off. The session machine and the
connector above decide those; this module returns a connected, unbound SmppProtocol.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from opensmsc.smpp import Connection, SessionConfig
from opensmsc.transport.errors import ConnectionLost, ConnectTimeout
from opensmsc.transport.protocol import SessionHandler, SmppProtocol

__all__ = ["connect"]

HandlerFactory = Callable[[SmppProtocol], SessionHandler]


async def connect(
    host: str,
    port: int,
    *,
    session_config: SessionConfig,
    handler_factory: HandlerFactory,
    session_id: str,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    connect_timeout: float = 10.0,
) -> SmppProtocol:
    """Connect to `host`:`port` and return the SmppProtocol driving a fresh Connection.

    The handler made by `handler_factory` is attached before the first byte can arrive. With
    `ssl_context` the connection is implicit TLS; `server_hostname` (default `host`) is sent
    as SNI and checked against the certificate when the context checks host names.
    `connect_timeout` bounds the TCP connect and the TLS handshake together.

    Raises ConnectTimeout when that time passes, ConnectionLost for any other failure to
    connect (refused, unreachable, TLS handshake or certificate failure).
    """
    loop = asyncio.get_running_loop()

    def build() -> SmppProtocol:
        connection = Connection(session_config, now=loop.time())
        protocol = SmppProtocol(connection, session_id=session_id)
        protocol.handler = handler_factory(protocol)
        return protocol

    tls_name = (server_hostname or host) if ssl_context is not None else None
    try:
        async with asyncio.timeout(connect_timeout):
            _, protocol = await loop.create_connection(
                build,
                host=host,
                port=port,
                ssl=ssl_context,
                server_hostname=tls_name,
                ssl_handshake_timeout=connect_timeout if ssl_context is not None else None,
            )
    except TimeoutError as exc:
        raise ConnectTimeout(host, port, connect_timeout) from exc
    except ssl.SSLError as exc:  # before OSError: SSLError is one, and the reason differs
        detail = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        raise ConnectionLost(host, port, f"TLS: {detail}") from exc
    except OSError as exc:
        raise ConnectionLost(host, port, exc.strerror or str(exc)) from exc
    return protocol
