"""`[api]`: the public HTTP API, a front door beside SMPP (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from opensmsc.config.rules import (
    Bounds,
    CertificateFile,
    Host,
    Port,
    PositiveInt,
    PrivateKeyFile,
    Problem,
    Seconds,
    key_in_certificate_file,
)

# A batch of 10,000 messages of a few hundred characters each is a few MiB of JSON.
_DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    """`[api]`: where the HTTP API listens and the limits of one request. Off unless enabled:
    it opens a port to the accounts' applications, which is the operator's decision."""

    enabled: bool = False
    bind_address: Host = "0.0.0.0"
    port: Port = 8080  # 0: an ephemeral port (tests)
    tls_enabled: bool = False
    tls_cert_file: CertificateFile | None = None  # none: the node's self-signed certificate
    tls_key_file: PrivateKeyFile | None = None  # none: the key is in tls_cert_file
    max_body_size: Annotated[
        int, Bounds("1024 to 1073741824 octets", minimum=1024, maximum=1 << 30)
    ] = _DEFAULT_MAX_BODY  # octets
    max_batch: Annotated[int, Bounds("1 to 10000 messages", minimum=1, maximum=10_000)] = (
        10_000  # messages in one batch request
    )
    max_page: PositiveInt = 1000  # messages in one page of GET /v1/messages
    idempotency_ttl: Seconds = 86_400.0  # how long an Idempotency-Key's answer is kept
    # Webhooks (delivery reports to callback_url / an account's webhook_url): a failed POST is
    # tried again after webhook_backoff seconds, doubling up to webhook_max_backoff, for
    # webhook_retry_for seconds; each POST waits webhook_timeout for its answer.
    webhook_retry_for: Seconds = 86_400.0
    webhook_backoff: Seconds = 5.0
    webhook_max_backoff: Seconds = 900.0
    webhook_timeout: Seconds = 15.0
    # The drop-in endpoints for clients of other gateways, each answered as the original
    # answers: Kannel's /cgi-bin/sendsms (docs/http-compat.md); Jasmin's HTTP and REST APIs
    # (/send, /balance, /rate, /ping, /secure/*, docs/http-jasmin.md).
    kannel_compat: bool = True
    jasmin_compat: bool = True

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.tls_key_file is not None and self.tls_cert_file is None:
            found.append(Problem(("tls_key_file",), "is set without tls_cert_file"))
        found.extend(key_in_certificate_file(self.tls_cert_file, self.tls_key_file))
        if self.idempotency_ttl < 86_400:
            found.append(Problem(("idempotency_ttl",), "expected at least 86400 (24 hours)"))
        return found
