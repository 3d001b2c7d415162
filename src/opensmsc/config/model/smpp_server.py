"""`[smpp.server]`: the SMSC's listeners and the sessions ESMEs open on them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from opensmsc.config.rules import (
    CertificateFile,
    Checks,
    Host,
    OptionalSeconds,
    PduLength,
    Port,
    PositiveInt,
    PrivateKeyFile,
    Problem,
    Seconds,
    SystemId,
    Window,
    key_in_certificate_file,
)


class SmppVersion(enum.Enum):
    """An SMPP interface_version as written in the file; `.code` is the octet on the wire."""

    V33 = "3.3"
    V34 = "3.4"
    V50 = "5.0"

    @property
    def code(self) -> int:
        return {"3.3": 0x33, "3.4": 0x34, "5.0": 0x50}[self.value]


class OverloadAction(enum.Enum):
    """What the SMSC answers when a window or the node's queue is full (issue 4, flow control)."""

    THROTTLE = "throttle"  # ESME_RTHROTTLED (0x58)
    QUEUE_FULL = "queue_full"  # ESME_RMSGQFUL (0x14)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppServerConfig:
    """`[smpp.server]`: the SMSC's listeners, plain (2775) and implicit TLS (3550)."""

    system_id: SystemId = "opensmsc"  # sent in bind_*_resp
    bind_address: Host = "0.0.0.0"
    plain_enabled: bool = True
    port: Port = 2775
    tls_enabled: bool = True
    tls_port: Port = 3550
    tls_cert_file: CertificateFile | None = None  # none: a self-signed one is made in data_dir
    tls_key_file: PrivateKeyFile | None = None  # none: the key is in tls_cert_file
    tls_ca_file: CertificateFile | None = None  # verifies client certificates
    require_client_cert: bool = False
    max_pdu_length: PduLength = 65_536 + 1024
    session_init_timeout: Seconds = 30.0
    enquire_link_interval: OptionalSeconds = 30.0
    inactivity_timeout: OptionalSeconds = 300.0
    response_timeout: Seconds = 30.0
    window: Window = 10  # our requests (deliver_sm) in flight per session
    unbind_drain_timeout: OptionalSeconds = 5.0
    overload_action: OverloadAction = OverloadAction.THROTTLE
    interface_versions: tuple[SmppVersion, ...] = (
        SmppVersion.V33,
        SmppVersion.V34,
        SmppVersion.V50,
    )
    bind_failure_delay: OptionalSeconds = 1.0  # first delay of an (address, system_id) failing
    bind_failure_max_delay: OptionalSeconds = 30.0  # the delay doubles per failure up to this
    max_unbound_connections: PositiveInt = 1000  # connections not bound yet, in all
    max_unbound_per_address: PositiveInt = 50  # connections not bound yet, per source address
    strict: bool = False  # decode PDUs strictly (the codec's strict mode); lenient by default

    def problems(self) -> list[Problem]:
        checks = Checks()
        with checks.rule():
            if self.tls_key_file is not None and self.tls_cert_file is None:
                checks.add(("tls_key_file",), "is set without tls_cert_file")
        with checks.rule():
            checks.extend(key_in_certificate_file(self.tls_cert_file, self.tls_key_file))
        with checks.rule():
            if self.require_client_cert and self.tls_ca_file is None:
                checks.add(
                    ("require_client_cert",), "needs tls_ca_file to verify client certificates"
                )
        with checks.rule():
            if self.plain_enabled and self.tls_enabled and self.port == self.tls_port != 0:
                checks.add(("tls_port",), f"is the same as port ({self.port})")
        with checks.rule():
            if not self.interface_versions:
                checks.add(("interface_versions",), "expected at least one version")
        with checks.rule():
            if self.bind_failure_max_delay < self.bind_failure_delay:
                checks.add(
                    ("bind_failure_max_delay",),
                    f"expected at least bind_failure_delay ({self.bind_failure_delay})",
                )
        return checks.found
