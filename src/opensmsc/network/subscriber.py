"""One subscriber as the simulated HLR sees it, and the values it is made of.

What this is for: `Subscriber` is the record the HLR answers from (IMSI, home network, serving
MSC, state, ported-to and visited networks, latency, failure probability, absent diagnostic);
`SubscriberState` what the network knows of a subscriber; `Latency` a response-time
distribution; `PrefixDefault` what an unlisted number is. The checks of each field live here,
so that the table (subscribers.py), its CSV loader and the configuration agree on them.

What it is not: the table of subscribers (subscribers.py) or MAP behaviour (hlr.py).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, Literal

from opensmsc.errors import OpensmscError
from opensmsc.network.map_errors import AbsentDiagnostic
from opensmsc.routing import parse_mcc_mnc

__all__ = [
    "DEFAULT_NETWORK",
    "STATES",
    "STATE_CODES",
    "DuplicateSubscriber",
    "Latency",
    "PrefixDefault",
    "Subscriber",
    "SubscriberNotFound",
    "SubscriberState",
    "check_digits",
    "check_probability",
    "make_imsi",
    "state_named",
    "with_changes",
]

DEFAULT_NETWORK: Final = "00101"  # MCC 001 MNC 01: the ITU-T E.212 test network


class SubscriberState(Enum):
    """What the network knows of a subscriber; hlr.py maps each to its MAP answer.

    The first seven are issue 6's states. The others exist so that every MAP error of DIGEST
    §6.2 can be produced on demand; rarer ones (absentSubscriber 27, messageWaitingListFull,
    other sm-DeliveryFailure causes) come from `SimulatedHlr.inject`.
    """

    ATTACHED = "attached"  # reachable: SRI-SM answers, MT-ForwardSM delivers
    ABSENT = "absent"  # detached / not reachable: absentSubscriberSM (6) with a diagnostic
    MEMORY_FULL = "memory_full"  # SRI-SM answers; MT-ForwardSM: sm-DeliveryFailure cause 0
    BUSY = "busy"  # subscriberBusyForMT-SMS (31)
    BARRED = "barred"  # callBarred (13)
    UNKNOWN = "unknown"  # unknownSubscriber (1)
    NOT_PROVISIONED = "not_provisioned_for_sms"  # teleserviceNotProvisioned (11)
    FACILITY_NOT_SUPPORTED = "facility_not_supported"  # facilityNotSupported (21), at SRI-SM
    SYSTEM_FAILURE = "system_failure"  # systemFailure (34) on every SRI-SM
    DATA_MISSING = "data_missing"  # dataMissing (35), at SRI-SM
    UNEXPECTED_DATA_VALUE = "unexpected_data_value"  # unexpectedDataValue (36), at SRI-SM
    UNIDENTIFIED = "unidentified"  # unidentifiedSubscriber (5), at MT-ForwardSM
    ILLEGAL_SUBSCRIBER = "illegal_subscriber"  # illegalSubscriber (9), at MT-ForwardSM
    ILLEGAL_EQUIPMENT = "illegal_equipment"  # illegalEquipment (12), at MT-ForwardSM
    NOT_SM_EQUIPPED = "not_sm_equipped"  # sm-DeliveryFailure cause 2, at MT-ForwardSM

    @property
    def is_reachable(self) -> bool:
        """The handset can be paged: an alert for a waiting subscriber may follow."""
        return self in _REACHABLE


_REACHABLE: Final = frozenset(
    {SubscriberState.ATTACHED, SubscriberState.BUSY, SubscriberState.MEMORY_FULL}
)
_STATE_BY_VALUE: Final = {state.value: state for state in SubscriberState}
# The one-octet code of each state as the table stores it (subscribers.py), and back.
STATES: Final = tuple(SubscriberState)
STATE_CODES: Final = {state: code for code, state in enumerate(STATES)}


def state_named(text: str) -> SubscriberState:
    """The state whose value is `text` ("attached"). Raises ValueError."""
    found = _STATE_BY_VALUE.get(text)
    if found is None:
        raise ValueError(
            f"unknown state {text!r}; expected one of: "
            + ", ".join(s.value for s in SubscriberState)
        )
    return found


class SubscriberNotFound(OpensmscError, LookupError):
    """`change` or `remove` of a number that is not in the table."""

    def __init__(self, msisdn: int) -> None:
        self.msisdn = msisdn
        super().__init__(f"+{msisdn} is not in the subscriber table")


class DuplicateSubscriber(OpensmscError, ValueError):
    """`add` of a number already in the table (use `change`, or `replace=True`)."""

    def __init__(self, msisdn: int) -> None:
        self.msisdn = msisdn
        super().__init__(f"+{msisdn} is already in the subscriber table")


_LATENCY_RE: Final = re.compile(
    r"(fixed):(\d+(?:\.\d+)?)|(uniform|normal):(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)"
)


@dataclass(frozen=True, slots=True)
class Latency:
    """A response-time distribution, in milliseconds. fixed: `a_ms`; uniform: between `a_ms`
    and `b_ms`; normal: mean `a_ms`, standard deviation `b_ms` (cut at 0)."""

    kind: Literal["fixed", "uniform", "normal"] = "fixed"
    a_ms: float = 0.0
    b_ms: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.a_ms) and math.isfinite(self.b_ms)):
            raise ValueError("latency values must be finite")
        if self.a_ms < 0 or self.b_ms < 0:
            raise ValueError("latency values must not be negative")
        if self.kind == "uniform" and self.b_ms < self.a_ms:
            raise ValueError("uniform latency: high below low")

    @classmethod
    def parse(cls, text: str) -> Latency:
        """ "fixed:20", "uniform:10:50", "normal:40:10" (ms). Raises ValueError."""
        match = _LATENCY_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(
                f"expected fixed:<ms>, uniform:<low>:<high> or normal:<mean>:<stddev>, got {text!r}"
            )
        if match[1]:
            return cls("fixed", float(match[2]))
        kind: Literal["uniform", "normal"] = "uniform" if match[3] == "uniform" else "normal"
        return cls(kind, float(match[4]), float(match[5]))

    def sample(self, rng: random.Random) -> float:
        """One response time in seconds, never negative."""
        if self.kind == "fixed":
            ms = self.a_ms
        elif self.kind == "uniform":
            ms = rng.uniform(self.a_ms, self.b_ms)
        else:
            ms = max(0.0, rng.gauss(self.a_ms, self.b_ms))
        return ms / 1000.0

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.a_ms:g}"
        return f"{self.kind}:{self.a_ms:g}:{self.b_ms:g}"


_DIGITS_RE: Final = re.compile(r"[0-9]{1,15}")


def check_digits(text: str, what: str, minimum: int) -> str:
    """`text` as 1 to 15 digits ("+" allowed in front), at least `minimum`. Raises ValueError."""
    compact = text.strip().lstrip("+")
    if _DIGITS_RE.fullmatch(compact) is None or len(compact) < minimum:
        raise ValueError(f"expected {what} of {minimum} to 15 digits, got {text!r}")
    return compact


def check_probability(value: float) -> float:
    """`value` when it is a probability (0 to 1). Raises ValueError."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"expected a probability from 0 to 1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PrefixDefault:
    """What a number starting with `prefix` (E.164 digits; "" matches every number) is, when it
    is not in the table; also the value of every column a table row leaves empty. The longest
    matching prefix wins."""

    prefix: str = ""
    state: SubscriberState = SubscriberState.ATTACHED
    home_network: str = DEFAULT_NETWORK
    msc_address: str = ""  # "": the country code followed by 9000000 (a placeholder GT)
    ported_to: str | None = None
    serving_network: str | None = None
    latency: Latency = Latency()
    failure_probability: float = 0.0
    absent_diagnostic: int = int(AbsentDiagnostic.IMSI_DETACHED)

    def __post_init__(self) -> None:
        if self.prefix and _DIGITS_RE.fullmatch(self.prefix) is None:
            raise ValueError(f"prefix: expected up to 15 digits, got {self.prefix!r}")
        parse_mcc_mnc(self.home_network)
        check_probability(self.failure_probability)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One subscriber as the HLR sees it. `msisdn` is the E.164 number as an int; `listed` is
    False for a record made from a prefix default."""

    msisdn: int
    imsi: str
    home_network: str  # MCC-MNC holding the number range (the donor network once ported)
    msc_address: str  # serving MSC/VLR global title, E.164 digits
    state: SubscriberState
    ported_to: str | None = None  # MCC-MNC of the recipient network
    serving_network: str | None = None  # MCC-MNC of the visited network when roaming
    latency: Latency = Latency()
    failure_probability: float = 0.0
    absent_diagnostic: int = int(AbsentDiagnostic.IMSI_DETACHED)
    listed: bool = True

    @property
    def e164(self) -> str:
        """ "+447700900123"."""
        return f"+{self.msisdn}"

    @property
    def subscription_network(self) -> str:
        """The network whose IMSI the subscriber holds: the recipient network when ported."""
        return self.ported_to or self.home_network

    @property
    def visited_network(self) -> str:
        """The network serving the subscriber now: the visited one when roaming."""
        return self.serving_network or self.subscription_network


def make_imsi(network: str, msisdn: int) -> str:
    """A stable made-up IMSI (E.212, 15 digits): the network's MCC-MNC, then the MSISDN's last
    digits as the MSIN, for subscribers whose IMSI nobody gave."""
    width = 15 - len(network)
    return network + str(msisdn)[-width:].rjust(width, "0")


def with_changes(
    base: Subscriber,
    *,
    imsi: str | None = None,
    home_network: str | None = None,
    msc_address: str | None = None,
    state: SubscriberState | str | None = None,
    ported_to: str | None = None,
    serving_network: str | None = None,
    latency: Latency | str | None = None,
    failure_probability: float | None = None,
    absent_diagnostic: int | None = None,
) -> Subscriber:
    """`base` with the fields given (None: unchanged), each checked. Raises ValueError."""
    changes: dict[str, object] = {}
    if imsi is not None:
        changes["imsi"] = check_digits(imsi, "an IMSI", 6)
    if home_network is not None:
        changes["home_network"] = parse_mcc_mnc(home_network)
    if msc_address is not None:
        changes["msc_address"] = check_digits(msc_address, "an MSC address", 1)
    if state is not None:
        changes["state"] = state_named(state) if isinstance(state, str) else state
    if ported_to is not None:
        changes["ported_to"] = parse_mcc_mnc(ported_to)
    if serving_network is not None:
        changes["serving_network"] = parse_mcc_mnc(serving_network)
    if latency is not None:
        changes["latency"] = Latency.parse(latency) if isinstance(latency, str) else latency
    if failure_probability is not None:
        changes["failure_probability"] = check_probability(float(failure_probability))
    if absent_diagnostic is not None:
        if not 0 <= absent_diagnostic <= 255:
            raise ValueError(f"absent_diagnostic: expected 0 to 255, got {absent_diagnostic}")
        changes["absent_diagnostic"] = absent_diagnostic
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]
