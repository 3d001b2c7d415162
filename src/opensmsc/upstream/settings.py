"""What a connector needs to know about its upstream SMSC: upstream's own settings (issue 9).

What this is for: `ConnectorSettings` holds what one connector uses of a `[[smpp.client]]`
section, in upstream's own types, so that nothing in this package reads the configuration model:
the app builds it with `settings_from_config` (app/connector_settings.py), a test
or a library user builds it directly. Its defaults are those of the configuration file
(tests/services/test_connector_settings.py checks that they agree). The pure helpers that read
the settings live here too: the bind PDU, the smpp.SessionConfig of the connector's sessions,
the password (the one function that reads a file or the environment, at start-up).

What it is not: validation of the file (config/ does that and names file:line: key); the checks
here are those a connector cannot run without.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from opensmsc.errors import ConfigError
from opensmsc.smpp import (
    BindMode,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Role,
    SessionConfig,
)

__all__ = [
    "SMPP_V33",
    "SMPP_V34",
    "SMPP_V50",
    "ConnectorBind",
    "ConnectorSettings",
    "MessageIdFormat",
    "bind_modes",
    "bind_request",
    "connector_session_config",
    "resolve_password",
]

SMPP_V33: Final = 0x33
SMPP_V34: Final = 0x34
SMPP_V50: Final = 0x50


class ConnectorBind(enum.Enum):
    """How a connector binds upstream; PAIR is one transmitter and one receiver session."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"
    PAIR = "pair"


class MessageIdFormat(enum.Enum):
    """How an upstream SMSC writes its message_ids, so that its receipts find our messages."""

    AUTO = "auto"  # learnt per connector from its submit_sm_resp ids (matching.IdReading)
    DEC = "dec"
    HEX = "hex"


_MODES: Final = {
    ConnectorBind.TRANSMITTER: (BindMode.TRANSMITTER,),
    ConnectorBind.RECEIVER: (BindMode.RECEIVER,),
    ConnectorBind.TRANSCEIVER: (BindMode.TRANSCEIVER,),
    ConnectorBind.PAIR: (BindMode.TRANSMITTER, BindMode.RECEIVER),
}
_BIND_CLASSES: Final[
    dict[BindMode, type[BindTransmitter] | type[BindReceiver] | type[BindTransceiver]]
] = {
    BindMode.TRANSMITTER: BindTransmitter,
    BindMode.RECEIVER: BindReceiver,
    BindMode.TRANSCEIVER: BindTransceiver,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorSettings:
    """One connector: where its upstream is, how it binds, its windows, timers and id format.
    Durations in seconds; `interface_version` is the octet on the wire (0x33, 0x34, 0x50)."""

    name: str
    host: str
    port: int = 2775
    enabled: bool = True
    tls: bool = False
    tls_ca_file: Path | None = None  # none: the system's trusted CAs
    tls_server_name: str | None = None  # SNI and the name checked; none: host
    tls_verify: bool = True
    tls_cert_file: Path | None = None  # client certificate, for mutual TLS
    tls_key_file: Path | None = None  # none: the key is in tls_cert_file
    system_id: str
    password: str | None = field(default=None, repr=False)  # or password_file / password_env
    password_file: Path | None = None
    password_env: str | None = None
    system_type: str = ""
    bind: ConnectorBind = ConnectorBind.TRANSCEIVER
    interface_version: int = SMPP_V34
    address_range: str = ""
    addr_ton: int = 0
    addr_npi: int = 0
    window: int = 10
    throughput: float = 0.0  # messages per second; 0: no cap
    enquire_link_interval: float = 30.0
    response_timeout: float = 30.0
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 60.0
    message_id_format: MessageIdFormat = MessageIdFormat.AUTO
    receive_window: int = 100  # the carrier's deliver_sm we may owe an answer at once
    outbind_listen: bool = False
    outbind_bind_address: str = "0.0.0.0"
    outbind_port: int = 2775
    outbind_system_id: str = ""  # what the outbind must present; empty: not checked
    outbind_password: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        """How errors name this connector (as the configuration file does)."""
        return f"smpp.client[{self.name}]"


def bind_modes(settings: ConnectorSettings) -> tuple[BindMode, ...]:
    """The sessions a connector keeps bound: one, or a transmitter and a receiver.

    Raises ConfigError for a transceiver bind in SMPP 3.3, which has none."""
    if settings.bind is ConnectorBind.TRANSCEIVER and settings.interface_version == SMPP_V33:
        raise ConfigError(
            "bind transceiver needs interface_version 3.4 or 5.0", path=settings.where, key="bind"
        )
    return _MODES[settings.bind]


def connector_session_config(
    settings: ConnectorSettings,
    *,
    drain_timeout: float,
    max_consecutive_timeouts: int | None,
) -> SessionConfig:
    """The smpp.SessionConfig of the sessions a connector opens (ESME role)."""
    return SessionConfig(
        role=Role.ESME,
        window=settings.window,
        peer_window=settings.receive_window,
        interface_version=settings.interface_version,
        # The bind has its own response_timeout; an unbound session ends with it.
        session_init_timeout=None,
        enquire_link_interval=settings.enquire_link_interval,
        response_timeout=settings.response_timeout,
        drain_timeout=drain_timeout,
        max_consecutive_timeouts=max_consecutive_timeouts,
    )


def resolve_password(settings: ConnectorSettings) -> str:
    """The bind password from `password`, `password_file` (one line) or `password_env`.

    Raises ConfigError when the file cannot be read or the variable is not set.
    """
    if settings.password is not None:
        return settings.password
    if settings.password_file is not None:
        try:
            return settings.password_file.read_text(encoding="utf-8").strip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot read password_file: {exc}", path=settings.where, key="password_file"
            ) from exc
    if settings.password_env is not None:
        value = os.environ.get(settings.password_env)
        if value is None:
            raise ConfigError(
                f"environment variable {settings.password_env} is not set",
                path=settings.where,
                key="password_env",
            )
        return value
    return ""


def bind_request(
    settings: ConnectorSettings, mode: BindMode, password: str
) -> BindTransmitter | BindReceiver | BindTransceiver:
    """The bind PDU a connector sends for one of its sessions (SMPP 3.4 §4.1)."""
    return _BIND_CLASSES[mode](
        system_id=settings.system_id,
        password=password,
        system_type=settings.system_type,
        interface_version=settings.interface_version,
        addr_ton=settings.addr_ton,
        addr_npi=settings.addr_npi,
        address_range=settings.address_range,
    )
