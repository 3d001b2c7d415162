"""`[[smpp.client]]`: connectors, our ESME sessions to upstream SMSCs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated

from opensmsc.config.model.smpp_server import SmppVersion
from opensmsc.config.rules import (
    AddressRange,
    CertificateFile,
    Checks,
    EnvName,
    ExistingFile,
    Host,
    Length,
    Name,
    Octet,
    Port,
    PrivateKeyFile,
    Problem,
    Rate,
    Seconds,
    SmallCount,
    SmppPassword,
    SystemId,
    SystemType,
    Window,
    key_in_certificate_file,
)


class ClientBind(enum.Enum):
    """How a connector binds upstream; PAIR is one transmitter and one receiver session."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"
    PAIR = "pair"


class MessageIdFormat(enum.Enum):
    """How an upstream SMSC writes message_ids, so its receipts find our messages."""

    AUTO = "auto"  # decimal if all digits, else hex
    DEC = "dec"
    HEX = "hex"


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppClientConfig:
    """`[[smpp.client]]`: a connector, our ESME session to an upstream SMSC."""

    name: Name
    host: Host
    port: Port = 2775
    enabled: bool = True
    tls: bool = False
    tls_ca_file: CertificateFile | None = None  # none: the system's trusted CAs
    tls_server_name: Host | None = None  # SNI and the name checked; none: host
    tls_verify: bool = True
    tls_cert_file: CertificateFile | None = None  # client certificate, for mutual TLS
    tls_key_file: PrivateKeyFile | None = None  # none: the key is in tls_cert_file
    system_id: SystemId
    password: SmppPassword | None = None  # or password_file / password_env; none: ""
    password_file: ExistingFile | None = None
    password_env: EnvName | None = None
    system_type: SystemType = ""
    bind: ClientBind = ClientBind.TRANSCEIVER
    interface_version: SmppVersion = SmppVersion.V34
    address_range: AddressRange = ""
    addr_ton: Octet = 0
    addr_npi: Octet = 0
    window: Window = 10
    throughput: Rate = 0.0  # messages per second; 0: no cap
    # With [cluster]: how many nodes bind this connector at once (cluster/ownership.py); each
    # node binds it at most once. Without [cluster] the one node binds it.
    cluster_binds: SmallCount = 1
    enquire_link_interval: Seconds = 30.0
    response_timeout: Seconds = 30.0
    reconnect_min_delay: Seconds = 1.0
    reconnect_max_delay: Seconds = 60.0
    message_id_format: MessageIdFormat = MessageIdFormat.AUTO
    # deliver_sm (receipts, MO) the carrier may have unanswered on one session before we answer
    # ESME_RTHROTTLED; we answer each at once, so this only guards against a runaway peer.
    receive_window: Window = 100
    # Outbind (SMPP 3.4 §2.2.1, digest §1.10): the upstream SMSC connects to us and sends
    # outbind; we answer with a bind on that connection (receiver, or transceiver in 5.0).
    outbind_listen: bool = False
    outbind_bind_address: Host = "0.0.0.0"
    outbind_port: Port = 2775
    # What the SMSC must present in the outbind PDU; empty: not checked.
    outbind_system_id: Annotated[str, Length(maximum=15)] = ""  # SMPP 3.4 §4.1.7
    outbind_password: SmppPassword = field(default="", repr=False)

    def problems(self) -> list[Problem]:
        checks = Checks()
        with checks.rule():
            secrets = [
                name
                for name, value in (
                    ("password", self.password),
                    ("password_file", self.password_file),
                    ("password_env", self.password_env),
                )
                if value is not None
            ]
            if len(secrets) > 1:
                checks.add((secrets[1],), f"conflicts with {secrets[0]}; give only one")
        with checks.rule():
            if self.tls_key_file is not None and self.tls_cert_file is None:
                checks.add(("tls_key_file",), "is set without tls_cert_file")
        with checks.rule():
            checks.extend(key_in_certificate_file(self.tls_cert_file, self.tls_key_file))
        for name in ("tls_ca_file", "tls_server_name", "tls_cert_file", "tls_key_file"):
            with checks.rule():
                if not self.tls and getattr(self, name) is not None:
                    checks.add((name,), "is set but tls is false")
        for name in ("outbind_system_id", "outbind_password"):
            with checks.rule():
                if not self.outbind_listen and getattr(self, name):
                    checks.add((name,), "is set but outbind_listen is false")
        with checks.rule():
            if self.reconnect_max_delay < self.reconnect_min_delay:
                checks.add(
                    ("reconnect_max_delay",),
                    f"expected at least reconnect_min_delay ({self.reconnect_min_delay})",
                )
        return checks.found
