"""`[policyd]`: the policy server on TCP 3055 (docs/policy-protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from opensmsc.config.rules import (
    Bounds,
    CertificateFile,
    EnvName,
    Host,
    Length,
    OptionalSeconds,
    Port,
    PositiveInt,
    PrivateKeyFile,
    Problem,
    key_in_certificate_file,
)

FrameSize = Annotated[int, Bounds("an integer from 256 to 16777216", minimum=256, maximum=1 << 24)]
Token = Annotated[str, Length(maximum=1024, minimum=1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicydConfig:
    """`[policyd]`: serves the node's routing decisions to other systems over JSON-RPC 2.0 in
    length-prefixed frames. On by default, on the loopback address only."""

    enabled: bool = True
    bind_address: Host = "127.0.0.1"
    port: Port = 3055  # the IANA "policyserver" port; 0: an ephemeral port (tests)
    max_connections: PositiveInt = 256  # more are closed at once
    max_frame: FrameSize = 65_535  # a longer frame closes its connection
    idle_timeout: OptionalSeconds = 60.0  # a connection silent this long is closed (0: never)
    token: Token | None = field(default=None, repr=False)  # when set, hello must carry it
    token_env: EnvName | None = None  # or the token from this environment variable
    http_port: Port | None = None  # POST /jsonrpc on this port too; none: no HTTP
    # TLS on both listeners (port and http_port): implicit, from the first octet, as SMPP 3550.
    tls_enabled: bool = False
    tls_cert_file: CertificateFile | None = None  # none: the node's self-signed certificate
    tls_key_file: PrivateKeyFile | None = None  # none: the key is in tls_cert_file
    tls_ca_file: CertificateFile | None = None  # verifies client certificates
    require_client_cert: bool = False

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.token is not None and self.token_env is not None:
            found.append(Problem(("token_env",), "give token or token_env, not both"))
        if self.tls_key_file is not None and self.tls_cert_file is None:
            found.append(Problem(("tls_key_file",), "is set without tls_cert_file"))
        found.extend(key_in_certificate_file(self.tls_cert_file, self.tls_key_file))
        if self.require_client_cert and self.tls_ca_file is None:
            found.append(
                Problem(("require_client_cert",), "needs tls_ca_file to verify client certificates")
            )
        return found
