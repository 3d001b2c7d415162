"""The transport floor's errors: what an OSError or ssl.SSLError becomes at our boundary.

Services above never see an OSError from a socket: `transport.client.connect` translates each
into one of these (STYLE.md §4), with the peer and a message that reads alone in a log. What
this is not: SMPP errors (those are `smpp.SmppError`) or a bind refusal (an SMPP answer).
"""

from __future__ import annotations

from opensmsc.errors import OpensmscError

__all__ = ["ConnectTimeout", "ConnectionLost"]


class ConnectionLost(OpensmscError):
    """The TCP or TLS connection to `host`:`port` could not be made or broke.

    `reason` is the human part ("connection refused", "TLS: certificate verify failed"); the
    original OSError / ssl.SSLError is the `__cause__`.
    """

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"{host}:{port}: {reason}")


class ConnectTimeout(ConnectionLost):
    """No TCP connection (and TLS handshake) within the connect timeout. A subclass, because
    most callers handle it as any other failed connect; a few report it apart."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(host, port, f"no connection within {timeout:g} s")
