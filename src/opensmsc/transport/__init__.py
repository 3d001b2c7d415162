"""asyncio drivers of the sans-IO SMPP core: listeners (server.py), client connections (client.py),
the protocol that drives a Connection (protocol.py), TLS contexts and certificates (tls.py),
connection limits (limits.py). Import from here; the modules may be split or merged.
"""

from opensmsc.transport.client import connect
from opensmsc.transport.errors import (
    ConnectionLost,
    ConnectTimeout,
)
from opensmsc.transport.limits import (
    ConnectionLimits,
    UnboundGate,
    address_key,
    file_budget,
    file_limit,
    raise_file_limit,
)
from opensmsc.transport.protocol import (
    FAIR_SHARE,
    WRITE_HIGH_WATER,
    WRITE_LOW_WATER,
    SessionHandler,
    SmppProtocol,
)
from opensmsc.transport.server import (
    HandlerFactory,
    Listener,
    SmppServer,
)
from opensmsc.transport.tls import (
    CERT_FILENAME,
    KEY_FILENAME,
    VALIDITY_DAYS,
    PeerCertificate,
    TlsMaterial,
    client_context,
    ensure_self_signed,
    fingerprint,
    normalize_fingerprint,
    peer_identity,
    server_context,
)

__all__ = [
    "CERT_FILENAME",
    "FAIR_SHARE",
    "KEY_FILENAME",
    "VALIDITY_DAYS",
    "WRITE_HIGH_WATER",
    "WRITE_LOW_WATER",
    "ConnectTimeout",
    "ConnectionLimits",
    "ConnectionLost",
    "HandlerFactory",
    "Listener",
    "PeerCertificate",
    "SessionHandler",
    "SmppProtocol",
    "SmppServer",
    "TlsMaterial",
    "UnboundGate",
    "address_key",
    "client_context",
    "connect",
    "ensure_self_signed",
    "file_budget",
    "file_limit",
    "fingerprint",
    "normalize_fingerprint",
    "peer_identity",
    "raise_file_limit",
    "server_context",
]
