"""`[[accounts]]`: the ESMEs that may bind to us, and their distribution lists."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, ClassVar

from opensmsc.config.rules import (
    ApiKeyHash,
    Argon2Hash,
    Checks,
    EnvName,
    ExistingFile,
    Fingerprint,
    Host,
    IpNetwork,
    Length,
    MaxBinds,
    MoPrefix,
    Octet,
    Port,
    Problem,
    Rate,
    Seconds,
    SmppPassword,
    SystemId,
    Url,
    WebhookSecret,
    Window,
    duplicates,
)
from opensmsc.smpp import BindMode


class LongMessageReceipts(enum.Enum):
    """How receipts for a long (concatenated) message are made (issue 5)."""

    PER_PART = "per_part"  # one receipt per part, as each part ends
    WHOLE = "whole"  # one receipt when every part has ended; its state the worst of them


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionListConfig:
    """`[[accounts.distribution_lists]]`: a dl_name of submit_multi and its members."""

    name: Annotated[str, Length(maximum=20, minimum=1)]  # SMPP 3.4 §5.2.27: dl_name
    members: tuple[Annotated[str, Length(maximum=20, minimum=1)], ...]  # destination_addr
    ton: Octet = 1  # dest_addr_ton of the members (international)
    npi: Octet = 1  # dest_addr_npi of the members (E.164)

    def problems(self) -> list[Problem]:
        if not self.members:
            return [Problem(("members",), "expected at least one member")]
        return []


_ANYWHERE: tuple[IPv4Network | IPv6Network, ...] = (ip_network("0.0.0.0/0"), ip_network("::/0"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountConfig:
    """`[[accounts]]`: an ESME allowed to bind to us.

    The password is never in the file in the clear: `password_hash` is an argon2 hash;
    `password_file` and `password_env` hold the password itself, hashed in memory at start.
    """

    refused_keys: ClassVar[dict[str, str]] = {
        "password": "plaintext passwords are not accepted for accounts; "
        "use password_hash (`opensmsc hash-password`), password_file or password_env",
    }

    system_id: SystemId
    enabled: bool = True
    password_hash: Argon2Hash | None = None
    password_file: ExistingFile | None = None
    password_env: EnvName | None = None
    bind_modes: tuple[BindMode, ...] = (
        BindMode.TRANSMITTER,
        BindMode.RECEIVER,
        BindMode.TRANSCEIVER,
    )
    allowed_networks: tuple[IpNetwork, ...] = _ANYWHERE
    max_binds: MaxBinds = 4  # room for a transmitter+receiver pair and overlapping reconnects
    throughput: Rate = 0.0  # messages per second, over all of this account's sessions; 0: no cap
    window: Window = 10  # requests (submit_sm) in flight per session before ESME_RTHROTTLED
    # Mutual TLS: with either list non-empty, a bind must come over TLS with a client
    # certificate whose RFC 4514 subject or SHA-256 fingerprint is listed (password still checked).
    cert_subjects: tuple[str, ...] = ()  # e.g. "CN=esme-a,O=Example"
    cert_fingerprints: tuple[Fingerprint, ...] = ()
    outbind_host: Host | None = None  # where we outbind to when messages wait for this account
    outbind_port: Port = 2775
    # What we present in the outbind PDU, so the ESME can tell it is us (SMPP 3.4 §4.1.7).
    outbind_password: SmppPassword = ""
    default_validity: Seconds = 172_800.0  # without validity_period; also receipts' and MO's
    max_validity: Seconds = 604_800.0  # the most a validity_period may ask for
    long_message_receipts: LongMessageReceipts = LongMessageReceipts.PER_PART
    distribution_lists: tuple[DistributionListConfig, ...] = ()
    # MO to destinations starting with one of these comes to this account (the longest prefix
    # of all accounts wins); "" makes it the default: MO that nothing else takes.
    mo_prefixes: tuple[MoPrefix, ...] = ()
    # The HTTP API ([api]): whether this account may use it at all, and its API keys, stored
    # hashed (`opensmsc api-key create ACCOUNT` makes one and prints the line to add).
    api_enabled: bool = True
    api_keys: tuple[ApiKeyHash, ...] = ()
    # Where its delivery reports and MO go as signed HTTP POSTs (Standard Webhooks), instead
    # of its SMPP sessions; a message's own callback_url goes first.
    webhook_url: Url | None = None
    webhook_secret: WebhookSecret | None = field(default=None, repr=False)
    # How its MO look at webhook_url: none for Standard Webhooks; "jasmin" as Jasmin's HTTP
    # connectors receive them, with ";method=GET|POST" (GET by default) and
    # ";connector=NAME" (their origin-connector) (docs/http-jasmin.md).
    mo_style: str | None = None

    def problems(self) -> list[Problem]:
        checks = Checks()
        with checks.rule():
            if self.mo_style is not None:
                checks.extend(_mo_style_problems(self.mo_style))
        with checks.rule():
            secrets = [
                name
                for name, value in (
                    ("password_hash", self.password_hash),
                    ("password_file", self.password_file),
                    ("password_env", self.password_env),
                )
                if value is not None
            ]
            if not secrets:
                checks.add(
                    ("password_hash",), "missing; give password_hash, password_file or password_env"
                )
            elif len(secrets) > 1:
                checks.add((secrets[1],), f"conflicts with {secrets[0]}; give only one")
        with checks.rule():
            if not self.bind_modes:
                checks.add(("bind_modes",), "expected at least one bind mode")
        with checks.rule():
            if not self.allowed_networks:
                checks.add(("allowed_networks",), "expected at least one network")
        with checks.rule():
            if self.max_validity < self.default_validity:
                checks.add(
                    ("max_validity",),
                    f"expected at least default_validity ({self.default_validity})",
                )
        with checks.rule():
            checks.extend(duplicates(self.distribution_lists, "name", ("distribution_lists",)))
        return checks.found


_MO_STYLE_PARAMETERS: dict[str, frozenset[str] | None] = {
    "method": frozenset({"GET", "POST"}),
    "connector": None,  # any name
}


def _mo_style_problems(style: str) -> list[Problem]:
    name, *parameters = style.split(";")
    if name != "jasmin":
        return [Problem(("mo_style",), f"unknown style {name!r}; expected jasmin")]
    for parameter in parameters:
        key, equals, value = parameter.partition("=")
        allowed = _MO_STYLE_PARAMETERS.get(key, frozenset())
        if (
            not equals
            or key not in _MO_STYLE_PARAMETERS
            or (allowed is not None and value.upper() not in allowed)
        ):
            return [
                Problem(
                    ("mo_style",),
                    f"{parameter!r}: expected method=GET, method=POST or connector=NAME",
                )
            ]
    return []
