"""GSM MAP errors of the short message service (3GPP TS 29.002 §17.6.6; DIGEST §6.2) as typed
values: their codes, the sm-DeliveryFailure causes, the absent-subscriber diagnostics, their
retry class, and what a delivery receipt says about them.

What this is for: the simulated HLR and MSC answer with a `MapError`; the network route turns
it into an engine Attempt (`error=err.code`, `error_class=err.error_class`); receipts report
`err:` (`err.err`, three digits) and network_error_code (`err.network_error_code`, `03 00 <code>`).

What it is not: the retry schedule. The classes and their schedules live in `store.retry`
(`classify_map_error`, `DEFAULT_POLICIES`); this module only names the errors and asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.routing import ErrorClass, classify_map_error
from opensmsc.smpp import NetworkErrorCode

__all__ = [
    "GSM_NETWORK_TYPE",
    "AbsentDiagnostic",
    "DeliveryFailureCause",
    "MapError",
    "MapErrorCode",
    "UnknownMapError",
    "parse_map_error",
]

GSM_NETWORK_TYPE: Final = 3  # network_error_code network_type (SMPP 3.4 §5.3.2.31): GSM


class MapErrorCode(IntEnum):
    """MAP local error codes used on the SMS paths (TS 29.002 §17.6.6; JSS7 MAPErrorCode)."""

    UNKNOWN_SUBSCRIBER = 1
    UNIDENTIFIED_SUBSCRIBER = 5
    ABSENT_SUBSCRIBER_SM = 6
    ILLEGAL_SUBSCRIBER = 9
    TELESERVICE_NOT_PROVISIONED = 11
    ILLEGAL_EQUIPMENT = 12
    CALL_BARRED = 13
    FACILITY_NOT_SUPPORTED = 21
    ABSENT_SUBSCRIBER = 27
    SUBSCRIBER_BUSY_FOR_MT_SMS = 31
    SM_DELIVERY_FAILURE = 32
    MESSAGE_WAITING_LIST_FULL = 33
    SYSTEM_FAILURE = 34
    DATA_MISSING = 35
    UNEXPECTED_DATA_VALUE = 36

    @property
    def spec_name(self) -> str:
        """The ASN.1 name in TS 29.002, e.g. "absentSubscriberSM"."""
        return _SPEC_NAMES[self]


_SPEC_NAMES: Final[dict[int, str]] = {
    MapErrorCode.UNKNOWN_SUBSCRIBER: "unknownSubscriber",
    MapErrorCode.UNIDENTIFIED_SUBSCRIBER: "unidentifiedSubscriber",
    MapErrorCode.ABSENT_SUBSCRIBER_SM: "absentSubscriberSM",
    MapErrorCode.ILLEGAL_SUBSCRIBER: "illegalSubscriber",
    MapErrorCode.TELESERVICE_NOT_PROVISIONED: "teleserviceNotProvisioned",
    MapErrorCode.ILLEGAL_EQUIPMENT: "illegalEquipment",
    MapErrorCode.CALL_BARRED: "callBarred",
    MapErrorCode.FACILITY_NOT_SUPPORTED: "facilityNotSupported",
    MapErrorCode.ABSENT_SUBSCRIBER: "absentSubscriber",
    MapErrorCode.SUBSCRIBER_BUSY_FOR_MT_SMS: "subscriberBusyForMT-SMS",
    MapErrorCode.SM_DELIVERY_FAILURE: "sm-DeliveryFailure",
    MapErrorCode.MESSAGE_WAITING_LIST_FULL: "messageWaitingListFull",
    MapErrorCode.SYSTEM_FAILURE: "systemFailure",
    MapErrorCode.DATA_MISSING: "dataMissing",
    MapErrorCode.UNEXPECTED_DATA_VALUE: "unexpectedDataValue",
}


class DeliveryFailureCause(IntEnum):
    """SM-EnumeratedDeliveryFailureCause, the cause of sm-DeliveryFailure (TS 29.002 §7.6.1.4;
    the same values as Diameter SM-Enumerated-Delivery-Failure-Cause, AVP 3304)."""

    MEMORY_CAPACITY_EXCEEDED = 0
    EQUIPMENT_PROTOCOL_ERROR = 1
    EQUIPMENT_NOT_SM_EQUIPPED = 2
    UNKNOWN_SERVICE_CENTRE = 3
    SC_CONGESTION = 4
    INVALID_SME_ADDRESS = 5
    SUBSCRIBER_NOT_SC_SUBSCRIBER = 6

    @property
    def spec_name(self) -> str:
        """The ASN.1 name, e.g. "memoryCapacityExceeded"."""
        return _CAUSE_NAMES[self]


_CAUSE_NAMES: Final[dict[int, str]] = {
    DeliveryFailureCause.MEMORY_CAPACITY_EXCEEDED: "memoryCapacityExceeded",
    DeliveryFailureCause.EQUIPMENT_PROTOCOL_ERROR: "equipmentProtocolError",
    DeliveryFailureCause.EQUIPMENT_NOT_SM_EQUIPPED: "equipmentNotSM-Equipped",
    DeliveryFailureCause.UNKNOWN_SERVICE_CENTRE: "unknownServiceCentre",
    DeliveryFailureCause.SC_CONGESTION: "sc-Congestion",
    DeliveryFailureCause.INVALID_SME_ADDRESS: "invalidSME-Address",
    DeliveryFailureCause.SUBSCRIBER_NOT_SC_SUBSCRIBER: "subscriberNotSC-Subscriber",
}


class AbsentDiagnostic(IntEnum):
    """absentSubscriberDiagnosticSM (TS 23.040 §3.3.2; DIGEST §6.2 marks the list unverified).
    Logged and reported; it never changes what the SMSC does."""

    NO_PAGING_RESPONSE_MSC = 0
    IMSI_DETACHED = 1
    ROAMING_RESTRICTION = 2
    DEREGISTERED_NON_GPRS = 3
    PURGED_NON_GPRS = 4
    NO_PAGING_RESPONSE_SGSN = 5
    GPRS_DETACHED = 6
    DEREGISTERED_GPRS = 7
    PURGED_GPRS = 8
    UNIDENTIFIED_SUBSCRIBER_MSC = 9
    UNIDENTIFIED_SUBSCRIBER_SGSN = 10


class UnknownMapError(OpensmscError, ValueError):
    """A MAP error name that `parse_map_error` does not know (CLI or config input)."""


@dataclass(frozen=True, slots=True)
class MapError:
    """One MAP error answer. `cause` is set for sm-DeliveryFailure (32) only, `diagnostic` for
    absentSubscriberSM (6) only (optional there). Codes outside MapErrorCode are kept as ints, as
    a real stack may return them; they classify as TEMPORARY (store.retry)."""

    code: int
    cause: int | None = None
    diagnostic: int | None = None

    def __post_init__(self) -> None:
        # Normalise to the enums so repr and equality read the same whoever built the value.
        if self.code in _SPEC_NAMES:
            object.__setattr__(self, "code", MapErrorCode(self.code))
        if self.cause is not None:
            if self.code != MapErrorCode.SM_DELIVERY_FAILURE:
                raise ValueError("a cause belongs to sm-DeliveryFailure (32) only")
            if self.cause in _CAUSE_NAMES:
                object.__setattr__(self, "cause", DeliveryFailureCause(self.cause))
        if self.diagnostic is not None:
            if self.code != MapErrorCode.ABSENT_SUBSCRIBER_SM:
                raise ValueError("a diagnostic belongs to absentSubscriberSM (6) only")
            if self.diagnostic in AbsentDiagnostic._value2member_map_:
                object.__setattr__(self, "diagnostic", AbsentDiagnostic(self.diagnostic))

    @property
    def name(self) -> str:
        """The spec name, with the cause for sm-DeliveryFailure: "sm-DeliveryFailure
        (memoryCapacityExceeded)"; "mapError(99)" for a code we do not know."""
        base = _SPEC_NAMES.get(self.code, f"mapError({self.code})")
        if self.cause is not None:
            cause = _CAUSE_NAMES.get(self.cause, str(self.cause))
            return f"{base} ({cause})"
        return base

    @property
    def error_class(self) -> ErrorClass:
        """The retry class (DIGEST §6.2), from store.retry.classify_map_error."""
        return classify_map_error(int(self.code), None if self.cause is None else int(self.cause))

    @property
    def is_permanent(self) -> bool:
        """True when the message fails at once (UNDELIVERABLE, no retry)."""
        return self.error_class is ErrorClass.PERMANENT

    @property
    def is_absent(self) -> bool:
        """absentSubscriberSM or absentSubscriber: ReportSM-DeliveryStatus sets MNRF."""
        return self.code in (MapErrorCode.ABSENT_SUBSCRIBER_SM, MapErrorCode.ABSENT_SUBSCRIBER)

    @property
    def is_memory_full(self) -> bool:
        """sm-DeliveryFailure (memoryCapacityExceeded): ReportSM-DeliveryStatus sets MCEF."""
        return (
            self.code == MapErrorCode.SM_DELIVERY_FAILURE
            and self.cause == DeliveryFailureCause.MEMORY_CAPACITY_EXCEEDED
        )

    @property
    def waits_for_alert(self) -> bool:
        """The subscriber is unreachable for now and the HLR will send alertServiceCentre when
        that ends (DIGEST §6.2): absent, or memory full."""
        return self.is_absent or self.is_memory_full

    @property
    def err(self) -> str:
        """The receipt's `err:` field: the MAP code in three digits (DIGEST §6.2), "006"."""
        return f"{int(self.code) % 1000:03d}"

    @property
    def network_error_code(self) -> NetworkErrorCode:
        """The network_error_code TLV value: GSM (3), the MAP code; on the wire `03 00 <code>`."""
        return NetworkErrorCode(GSM_NETWORK_TYPE, int(self.code) & 0xFFFF)

    def __str__(self) -> str:
        text = f"{self.name} ({int(self.code)})"
        if self.diagnostic is not None:
            diagnostic = (
                self.diagnostic.name
                if isinstance(self.diagnostic, AbsentDiagnostic)
                else str(self.diagnostic)
            )
            text += f" diagnostic={diagnostic}"
        return text


_BY_NAME: Final = {name.lower(): code for code, name in _SPEC_NAMES.items()}
_CAUSE_BY_NAME: Final = {name.lower(): cause for cause, name in _CAUSE_NAMES.items()}


def parse_map_error(text: str) -> MapError:
    """A MAP error from text, as an operator types it: a spec name ("callBarred",
    "subscriberBusyForMT-SMS"), a code ("13"), or sm-DeliveryFailure with its cause after a colon
    ("sm-DeliveryFailure:memoryCapacityExceeded", "32:4"); absentSubscriberSM may carry its
    diagnostic the same way ("absentSubscriberSM:1"). Case-insensitive. Raises UnknownMapError."""
    head, _, tail = text.strip().partition(":")
    key = head.strip().lower()
    code = int(key) if key.isdigit() else _BY_NAME.get(key)
    if code is None:
        known = ", ".join(sorted(_SPEC_NAMES.values()))
        raise UnknownMapError(f"unknown MAP error {text!r}; expected a code or one of: {known}")
    tail = tail.strip()
    if not tail:
        return MapError(code)
    try:
        if code == MapErrorCode.SM_DELIVERY_FAILURE:
            cause = int(tail) if tail.isdigit() else _CAUSE_BY_NAME.get(tail.lower())
            if cause is None:
                known = ", ".join(_CAUSE_NAMES.values())
                raise UnknownMapError(
                    f"unknown sm-DeliveryFailure cause {tail!r}; expected 0..6 or one of: {known}"
                )
            return MapError(code, cause=cause)
        if code == MapErrorCode.ABSENT_SUBSCRIBER_SM and tail.isdigit():
            return MapError(code, diagnostic=int(tail))
    except ValueError as exc:
        if isinstance(exc, UnknownMapError):
            raise
        raise UnknownMapError(f"MAP error {text!r}: {exc}") from exc
    raise UnknownMapError(
        f"MAP error {text!r}: only sm-DeliveryFailure and absentSubscriberSM "
        "take a ':' suffix (a cause or a diagnostic)"
    )
