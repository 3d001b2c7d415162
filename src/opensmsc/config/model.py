"""The configuration model: one frozen dataclass per TOML section, defaults only here.

The TOML file maps onto these classes key for key (`[[smpp.client]]` → `Config.smpp.client`,
a tuple of `SmppClientConfig`). Field types carry the validation (see `rules.py`); rules that span
several fields live in each section's `problems()`. To add a section, add a dataclass here and a
field to its parent: the loader needs no change. `docs/configuration.md` documents every key.

This module reads no file and knows nothing of TOML; `load.py` does that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from opensmsc.config.rules import (
    AddressRange,
    Argon2Hash,
    Bounds,
    DigitPrefix,
    EnvName,
    ExistingFile,
    Fingerprint,
    Host,
    IpNetwork,
    Length,
    Match,
    Msisdn,
    Name,
    NonNegativeInt,
    Octet,
    OptionalSeconds,
    PduLength,
    Port,
    PositiveInt,
    Problem,
    Rate,
    Seconds,
    SmppPassword,
    SystemId,
    SystemType,
)
from opensmsc.smpp.states import BindMode


class LogLevel(enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(enum.Enum):
    TEXT = "text"  # key=value text, one event per line
    JSON = "json"  # one JSON object per line


class SmppVersion(enum.Enum):
    """An SMPP interface_version as written in the file; `.code` is the octet on the wire."""

    V33 = "3.3"
    V34 = "3.4"
    V50 = "5.0"

    @property
    def code(self) -> int:
        return {"3.3": 0x33, "3.4": 0x34, "5.0": 0x50}[self.value]


class ClientBind(enum.Enum):
    """How a connector binds upstream; PAIR is one transmitter and one receiver session."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"
    PAIR = "pair"


class OverloadAction(enum.Enum):
    """What the SMSC answers when a window or the node's queue is full (issue 4, flow control)."""

    THROTTLE = "throttle"  # ESME_RTHROTTLED (0x58)
    QUEUE_FULL = "queue_full"  # ESME_RMSGQFUL (0x14)


class LongMessageReceipts(enum.Enum):
    """How receipts for a long (concatenated) message are made (issue 5)."""

    PER_PART = "per_part"  # one receipt per part, as each part ends
    WHOLE = "whole"  # one receipt when every part has ended; its state the worst of them


class MessageIdFormat(enum.Enum):
    """How an upstream SMSC writes message_ids, so its receipts find our messages."""

    AUTO = "auto"  # decimal if all digits, else hex
    DEC = "dec"
    HEX = "hex"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """`[node]`: this SMSC instance."""

    name: Name = "opensmsc"
    data_dir: Path = Path("data")  # relative to the config file's folder (or the working folder)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingConfig:
    """`[logging]`."""

    level: LogLevel = LogLevel.INFO
    format: LogFormat = LogFormat.TEXT
    show_short_message: bool = False  # STYLE §6: short_message is redacted unless configured


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """`[store]`: the durable message store (SQLite in WAL mode, in `node.data_dir`)."""

    retention: Seconds = 172_800.0  # final messages are kept this long (query_sm), then purged
    purge_interval: Seconds = 300.0  # how often purging (and expiring stale receipts) runs
    lease: Seconds = 30.0  # a claimed message is due again this long after a crash mid-attempt
    max_batch_ops: PositiveInt = 2000  # writes one transaction (one fsync) may carry
    max_batch_delay: OptionalSeconds = 0.0  # wait this long for more writes before a commit


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfig:
    """`[[routing.routes]]`: MT to destinations starting with `prefix` go by `route`."""

    prefix: DigitPrefix
    route: Name  # "loopback" or a [[smpp.client]] name


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingConfig:
    """`[routing]`: where MT messages go, until the routing issue replaces it."""

    default_route: Name = "network"
    routes: tuple[RouteConfig, ...] = ()

    def problems(self) -> list[Problem]:
        return [
            Problem(p.key, p.message.replace("by routes[", "by routing.routes["))
            for p in _duplicates(self.routes, "prefix", ("routes",))
        ]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppServerConfig:
    """`[smpp.server]`: the SMSC's listeners, plain (2775) and implicit TLS (3550)."""

    system_id: SystemId = "opensmsc"  # sent in bind_*_resp
    bind_address: Host = "0.0.0.0"
    plain_enabled: bool = True
    port: Port = 2775
    tls_enabled: bool = True
    tls_port: Port = 3550
    tls_cert_file: ExistingFile | None = None  # none: a self-signed one is made in data_dir
    tls_key_file: ExistingFile | None = None  # none: the key is in tls_cert_file
    tls_ca_file: ExistingFile | None = None  # verifies client certificates
    require_client_cert: bool = False
    max_pdu_length: PduLength = 65_536 + 1024
    session_init_timeout: Seconds = 30.0
    enquire_link_interval: OptionalSeconds = 30.0
    inactivity_timeout: OptionalSeconds = 300.0
    response_timeout: Seconds = 30.0
    window: PositiveInt = 10  # our requests (deliver_sm) in flight per session
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
        found: list[Problem] = []
        if self.tls_key_file is not None and self.tls_cert_file is None:
            found.append(Problem(("tls_key_file",), "is set without tls_cert_file"))
        if self.require_client_cert and self.tls_ca_file is None:
            found.append(
                Problem(("require_client_cert",), "needs tls_ca_file to verify client certificates")
            )
        if self.plain_enabled and self.tls_enabled and self.port == self.tls_port != 0:
            found.append(Problem(("tls_port",), f"is the same as port ({self.port})"))
        if not self.interface_versions:
            found.append(Problem(("interface_versions",), "expected at least one version"))
        if self.bind_failure_max_delay < self.bind_failure_delay:
            found.append(
                Problem(
                    ("bind_failure_max_delay",),
                    f"expected at least bind_failure_delay ({self.bind_failure_delay})",
                )
            )
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppClientConfig:
    """`[[smpp.client]]`: a connector, our ESME session to an upstream SMSC."""

    name: Name
    host: Host
    port: Port = 2775
    enabled: bool = True
    tls: bool = False
    tls_ca_file: ExistingFile | None = None  # none: the system's trusted CAs
    tls_server_name: Host | None = None  # SNI and the name checked; none: host
    tls_verify: bool = True
    tls_cert_file: ExistingFile | None = None  # client certificate, for mutual TLS
    tls_key_file: ExistingFile | None = None  # none: the key is in tls_cert_file
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
    window: PositiveInt = 10
    throughput: Rate = 0.0  # messages per second; 0: no cap
    enquire_link_interval: Seconds = 30.0
    response_timeout: Seconds = 30.0
    reconnect_min_delay: Seconds = 1.0
    reconnect_max_delay: Seconds = 60.0
    message_id_format: MessageIdFormat = MessageIdFormat.AUTO
    # deliver_sm (receipts, MO) the carrier may have unanswered on one session before we answer
    # ESME_RTHROTTLED; we answer each at once, so this only guards against a runaway peer.
    receive_window: PositiveInt = 100
    # Outbind (SMPP 3.4 §2.2.1, digest §1.10): the upstream SMSC connects to us and sends
    # outbind; we answer with a bind on that connection (receiver, or transceiver in 5.0).
    outbind_listen: bool = False
    outbind_bind_address: Host = "0.0.0.0"
    outbind_port: Port = 2775
    # What the SMSC must present in the outbind PDU; empty: not checked.
    outbind_system_id: Annotated[str, Length(maximum=15)] = ""  # SMPP 3.4 §4.1.7
    outbind_password: SmppPassword = field(default="", repr=False)

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
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
            found.append(Problem((secrets[1],), f"conflicts with {secrets[0]}; give only one"))
        if self.tls_key_file is not None and self.tls_cert_file is None:
            found.append(Problem(("tls_key_file",), "is set without tls_cert_file"))
        if not self.tls:
            for name in ("tls_ca_file", "tls_server_name", "tls_cert_file", "tls_key_file"):
                if getattr(self, name) is not None:
                    found.append(Problem((name,), "is set but tls is false"))
        if not self.outbind_listen:
            for name in ("outbind_system_id", "outbind_password"):
                if getattr(self, name):
                    found.append(Problem((name,), "is set but outbind_listen is false"))
        if self.reconnect_max_delay < self.reconnect_min_delay:
            found.append(
                Problem(
                    ("reconnect_max_delay",),
                    f"expected at least reconnect_min_delay ({self.reconnect_min_delay})",
                )
            )
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppConfig:
    """`[smpp]`: holds `[smpp.server]` and the `[[smpp.client]]` connectors."""

    server: SmppServerConfig = field(default_factory=SmppServerConfig)
    client: tuple[SmppClientConfig, ...] = ()


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
    max_binds: PositiveInt = 4  # room for a transmitter+receiver pair and overlapping reconnects
    throughput: Rate = 0.0  # messages per second, over all of this account's sessions; 0: no cap
    window: PositiveInt = 10  # requests (submit_sm) in flight per session before ESME_RTHROTTLED
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
    # MO from connectors to destinations starting with one of these comes to this account.
    mo_prefixes: tuple[DigitPrefix, ...] = ()

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
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
            found.append(
                Problem(
                    ("password_hash",), "missing; give password_hash, password_file or password_env"
                )
            )
        elif len(secrets) > 1:
            found.append(Problem((secrets[1],), f"conflicts with {secrets[0]}; give only one"))
        if not self.bind_modes:
            found.append(Problem(("bind_modes",), "expected at least one bind mode"))
        if not self.allowed_networks:
            found.append(Problem(("allowed_networks",), "expected at least one network"))
        if self.max_validity < self.default_validity:
            found.append(
                Problem(
                    ("max_validity",),
                    f"expected at least default_validity ({self.default_validity})",
                )
            )
        found.extend(_duplicates(self.distribution_lists, "name", ("distribution_lists",)))
        return found


class NetworkMode(enum.Enum):
    """How the simulated network behaves (issue 6)."""

    DETERMINISTIC = "deterministic"  # no randomness, zero latency: tests
    REALISTIC = "realistic"  # sampled latencies, random systemFailure (seeded): demos, benchmarks


# The simulated network's value kinds (network/subscribers.py checks the same rules).
MsisdnPrefix = Annotated[str, Match(r"[0-9]{0,15}", "a prefix of 0 to 15 digits")]
MccMnc = Annotated[str, Match(r"[0-9]{5,6}", 'an MCC-MNC of 5 or 6 digits, such as "23415"')]
Imsi = Annotated[str, Match(r"[0-9]{6,15}", "an IMSI of 6 to 15 digits")]
GlobalTitle = Annotated[str, Match(r"[0-9]{0,15}", "an E.164 address of up to 15 digits")]
RoutingNumber = Annotated[str, Match(r"[0-9]{0,10}", "a routing number of up to 10 digits")]
Region = Annotated[str, Match(r"[A-Z]{2}", 'an ISO 3166 alpha-2 region such as "GB"')]
Probability = Annotated[float, Bounds("a probability from 0 to 1", minimum=0.0, maximum=1.0)]
LatencySpec = Annotated[
    str,
    Match(
        r"fixed:[0-9]+(\.[0-9]+)?|(uniform|normal):[0-9]+(\.[0-9]+)?:[0-9]+(\.[0-9]+)?",
        'a latency such as "fixed:20", "uniform:10:50" or "normal:40:10" (milliseconds)',
    ),
]
# network.subscribers.SubscriberState values (a test keeps the two lists equal).
SubscriberStateName = Literal[
    "attached",
    "absent",
    "memory_full",
    "busy",
    "barred",
    "unknown",
    "not_provisioned_for_sms",
    "facility_not_supported",
    "system_failure",
    "data_missing",
    "unexpected_data_value",
    "unidentified",
    "illegal_subscriber",
    "illegal_equipment",
    "not_sm_equipped",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixDefaultConfig:
    """`[[network.prefix_defaults]]`: numbers starting with `prefix` that are not subscribers."""

    prefix: MsisdnPrefix  # E.164 digits; "" matches every number
    state: SubscriberStateName = "attached"
    home_network: MccMnc = "00101"  # the ITU-T test network
    msc_address: GlobalTitle = ""  # "": the country code then 9000000
    ported_to: MccMnc | None = None
    serving_network: MccMnc | None = None
    latency: LatencySpec = "fixed:0"
    failure_probability: Probability = 0.0
    absent_diagnostic: Octet = 1  # IMSI detached


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriberConfig:
    """`[[network.subscribers]]`: one subscriber; a key left out takes its prefix default."""

    msisdn: Annotated[str, Length(maximum=32, minimum=1)]  # normalised with default_region
    imsi: Imsi | None = None
    home_network: MccMnc | None = None
    msc_address: GlobalTitle | None = None
    state: SubscriberStateName | None = None
    ported_to: MccMnc | None = None
    serving_network: MccMnc | None = None
    latency: LatencySpec | None = None
    failure_probability: Probability | None = None
    absent_diagnostic: Octet | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortedNumberConfig:
    """`[[network.ported]]`: a number ported out to `recipient_network`."""

    msisdn: Annotated[str, Length(maximum=32, minimum=1)]
    recipient_network: MccMnc
    routing_number: RoutingNumber = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkConfig:
    """`[network]`: the simulated mobile network's HLR, subscribers and portability."""

    mode: NetworkMode = NetworkMode.DETERMINISTIC
    seed: NonNegativeInt = 0  # the random generator's seed in realistic mode
    default_region: Region | None = None  # for national numbers (leading 0)
    strict_numbers: bool = False  # numbers must be valid in their numbering plan
    subscribers_csv: ExistingFile | None = None
    portability_csv: ExistingFile | None = None
    portability_cache_size: NonNegativeInt = 10_000
    max_service_centres: PositiveInt = 8  # room in a subscriber's message-waiting list
    mask_imsi: bool = True  # HLR lookups show only the IMSI's MCC-MNC
    # Our service centre address (E.164 global title), as the HLR records it in a waiting
    # subscriber's message-waiting list (MAP ReportSM-DeliveryStatus).
    sc_address: Msisdn = "19999999999"
    handset_capacity: PositiveInt = 30  # messages a simulated handset's inbox holds
    # A full handset drops its oldest message, as phones do by default; false: it answers
    # memoryCapacityExceeded until its memory is freed.
    handset_delete_old: bool = True
    prefix_defaults: tuple[PrefixDefaultConfig, ...] = ()
    subscribers: tuple[SubscriberConfig, ...] = ()
    ported: tuple[PortedNumberConfig, ...] = ()

    def problems(self) -> list[Problem]:
        # Numbers are checked here, where default_region is known (routing/numbering.py rules).
        from opensmsc.routing.numbering import InvalidNumber, Numbering

        found = _duplicates(self.prefix_defaults, "prefix", ("prefix_defaults",))
        try:
            numbering = Numbering(self.default_region, self.strict_numbers)
        except ValueError as exc:
            return [*found, Problem(("default_region",), str(exc))]
        lists: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("subscribers", tuple(item.msisdn for item in self.subscribers)),
            ("ported", tuple(item.msisdn for item in self.ported)),
        )
        for name, numbers in lists:
            seen: dict[int, int] = {}
            for index, msisdn in enumerate(numbers):
                try:
                    key = numbering.normalise(msisdn)
                except InvalidNumber as exc:
                    found.append(Problem((name, index, "msisdn"), str(exc)))
                    continue
                if key in seen:
                    found.append(
                        Problem(
                            (name, index, "msisdn"),
                            f'"+{key}" is already used by network.{name}[{seen[key]}]',
                        )
                    )
                else:
                    seen[key] = index
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """`[http]`: the HTTP admin interface (HLR lookups, subscribers, handsets). It has no
    authentication yet: keep it on a loopback or management address."""

    enabled: bool = True
    bind_address: Host = "127.0.0.1"
    port: Port = 8775  # 0: an ephemeral port (tests)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole file. `Config()` is the embedded default: no accounts, no connectors."""

    node: NodeConfig = field(default_factory=NodeConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    smpp: SmppConfig = field(default_factory=SmppConfig)
    accounts: tuple[AccountConfig, ...] = ()
    store: StoreConfig = field(default_factory=StoreConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    http: HttpConfig = field(default_factory=HttpConfig)

    def problems(self) -> list[Problem]:
        return [
            *_duplicates(self.accounts, "system_id", ("accounts",)),
            *_duplicates(self.smpp.client, "name", ("smpp", "client")),
            *self._route_problems(),
        ]

    def _route_problems(self) -> list[Problem]:
        # A route names the loopback or a connector; a typo must not silently drop traffic.
        # "network": the simulated mobile network (issue 6).
        known = {"loopback", "network", *(client.name for client in self.smpp.client)}
        expected = ", ".join(f'"{name}"' for name in sorted(known))
        found: list[Problem] = []
        if self.routing.default_route not in known:
            found.append(
                Problem(
                    ("routing", "default_route"),
                    f'"{self.routing.default_route}" is no route; expected one of: {expected}',
                )
            )
        for index, route in enumerate(self.routing.routes):
            if route.route not in known:
                found.append(
                    Problem(
                        ("routing", "routes", index, "route"),
                        f'"{route.route}" is no route; expected one of: {expected}',
                    )
                )
        return found


def _duplicates(items: tuple[object, ...], attribute: str, key: tuple[str, ...]) -> list[Problem]:
    seen: dict[object, int] = {}
    found: list[Problem] = []
    for index, item in enumerate(items):
        value = getattr(item, attribute)
        if value in seen:
            found.append(
                Problem(
                    (*key, index, attribute),
                    f'"{value}" is already used by {".".join(key)}[{seen[value]}]',
                )
            )
        else:
            seen[value] = index
    return found
