"""`[network]`: the simulated mobile network's HLR, subscribers and portability."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Literal

from opensmsc.config.model.numbers import e164_key, region
from opensmsc.config.rules import (
    Bounds,
    CacheSize,
    Capacity,
    Checks,
    ExistingFile,
    Length,
    Match,
    Msisdn,
    NonNegativeInt,
    Octet,
    Problem,
    SmallCount,
    duplicates,
)


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
    portability_cache_size: CacheSize = 10_000
    max_service_centres: SmallCount = 8  # room in a subscriber's message-waiting list
    mask_imsi: bool = True  # HLR lookups show only the IMSI's MCC-MNC
    # Our service centre address (E.164 global title), as the HLR records it in a waiting
    # subscriber's message-waiting list (MAP ReportSM-DeliveryStatus).
    sc_address: Msisdn = "19999999999"
    handset_capacity: Capacity = 30  # messages a simulated handset's inbox holds
    # A full handset drops its oldest message, as phones do by default; false: it answers
    # memoryCapacityExceeded until its memory is freed.
    handset_delete_old: bool = True
    prefix_defaults: tuple[PrefixDefaultConfig, ...] = ()
    subscribers: tuple[SubscriberConfig, ...] = ()
    ported: tuple[PortedNumberConfig, ...] = ()

    def problems(self) -> list[Problem]:
        # Numbers are checked here, where default_region is known (numbers.py).
        checks = Checks()
        with checks.rule():
            checks.extend(duplicates(self.prefix_defaults, "prefix", ("prefix_defaults",)))
        with checks.rule():
            try:
                default_region = region(self.default_region)
            except ValueError as exc:
                checks.add(("default_region",), str(exc))
                return checks.found
            strict = self.strict_numbers
            lists: tuple[tuple[str, tuple[SubscriberConfig | PortedNumberConfig, ...]], ...] = (
                ("subscribers", self.subscribers),
                ("ported", self.ported),
            )
            for name, items in lists:
                seen: dict[int, int] = {}
                for index, item in enumerate(items):
                    with checks.rule():
                        try:
                            key = e164_key(item.msisdn, default_region, strict)
                        except ValueError as exc:
                            checks.add((name, index, "msisdn"), str(exc))
                            continue
                        if key in seen:
                            checks.add(
                                (name, index, "msisdn"),
                                f'"+{key}" is already used by network.{name}[{seen[key]}]',
                            )
                        else:
                            seen[key] = index
        return checks.found
