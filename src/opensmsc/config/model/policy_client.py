"""`[policy_client]`: the node asks remote policy servers (another node's `[policyd]`, TCP 3055)
for its routing decisions instead of its embedded engine (docs/policy.md, "Remote policy
servers"). What it is not: the client itself (policyd/client.py) or the server (`[policyd]`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from opensmsc.config.rules import (
    Bounds,
    CertificateFile,
    Host,
    Length,
    Problem,
    Seconds,
)

ServerModeName = Literal["active", "standby", "alternate", "out_of_service"]
OnFailure = Literal["local", "reject"]
ServerPort = Annotated[int, Bounds("a port number from 1 to 65535", minimum=1, maximum=65535)]
Token = Annotated[str, Length(maximum=1024, minimum=1)]
Retries = Annotated[int, Bounds("an integer from 0 to 10", minimum=0, maximum=10)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyServerConfig:
    """`[[policy_client.servers]]`: one policy server and its PSX mode."""

    host: Host
    port: ServerPort = 3055
    mode: ServerModeName = "active"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyClientConfig:
    """`[policy_client]`: off by default (the embedded engine decides). On, every decision is
    asked of `servers` with the PSX client's behaviour; `on_failure` says what decides when no
    server answers: "local" the embedded engine, "reject" nothing (fail closed, the message is
    refused with ESME_RTHROTTLED so that its sender retries later)."""

    enabled: bool = False
    servers: tuple[PolicyServerConfig, ...] = ()
    transaction_timeout: Seconds = 0.5  # one call on one server (PSX transaction timer)
    retries: Retries = 1  # further tries on the same server before the next
    keepalive_interval: Seconds = 5.0  # a keepalive after this long without an answer
    token: Token | None = field(default=None, repr=False)  # sent in hello
    tls_enabled: bool = False
    tls_ca_file: CertificateFile | None = None  # none: the system's trusted CAs
    tls_server_name: Host | None = None  # the name the servers' certificate holds
    on_failure: OnFailure = "local"

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.enabled and not any(s.mode != "out_of_service" for s in self.servers):
            found.append(Problem(("servers",), "needs at least one server in service when enabled"))
        if not self.tls_enabled:
            for key in ("tls_ca_file", "tls_server_name"):
                if getattr(self, key) is not None:
                    found.append(Problem((key,), "is set without tls_enabled = true"))
        seen: set[tuple[str, int]] = set()
        for index, server in enumerate(self.servers):
            where = (server.host, server.port)
            if where in seen:
                found.append(
                    Problem(("servers", index), f"{server.host}:{server.port} is listed twice")
                )
            seen.add(where)
        return found
