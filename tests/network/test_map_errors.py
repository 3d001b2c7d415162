"""MAP errors: codes, names, retry classes (DIGEST §6.2) and receipt fields."""

from __future__ import annotations

import pytest

from opensmsc.network import (
    AbsentDiagnostic,
    DeliveryFailureCause,
    MapError,
    MapErrorCode,
    UnknownMapError,
    parse_map_error,
)
from opensmsc.routing import ErrorClass, classify_map_error
from opensmsc.smpp import Tag
from opensmsc.smpp.tlv import NetworkErrorCode, Tlvs, encode_tlvs

T, S, R, P = ErrorClass.TEMPORARY, ErrorClass.SHORT, ErrorClass.RETRY_ONCE, ErrorClass.PERMANENT

# DIGEST §6.2: code, spec name, class (store.retry's reading of the "class" column).
TABLE = [
    (1, "unknownSubscriber", P),
    (5, "unidentifiedSubscriber", R),
    (6, "absentSubscriberSM", T),
    (9, "illegalSubscriber", P),
    (11, "teleserviceNotProvisioned", P),
    (12, "illegalEquipment", P),
    (13, "callBarred", P),
    (21, "facilityNotSupported", P),
    (27, "absentSubscriber", T),
    (31, "subscriberBusyForMT-SMS", S),
    (33, "messageWaitingListFull", T),
    (34, "systemFailure", S),
    (35, "dataMissing", R),
    (36, "unexpectedDataValue", R),
]
CAUSES = [
    (0, "memoryCapacityExceeded", T),
    (1, "equipmentProtocolError", P),
    (2, "equipmentNotSM-Equipped", P),
    (3, "unknownServiceCentre", P),
    (4, "sc-Congestion", S),
    (5, "invalidSME-Address", P),
    (6, "subscriberNotSC-Subscriber", P),
]


@pytest.mark.parametrize(("code", "name", "error_class"), TABLE)
def test_codes_names_and_classes(code: int, name: str, error_class: ErrorClass) -> None:
    error = MapError(code)
    assert error.code is MapErrorCode(code)
    assert error.name == name == MapErrorCode(code).spec_name
    assert error.error_class is error_class is classify_map_error(code)
    assert error.is_permanent is (error_class is P)
    assert error.err == f"{code:03d}"
    assert error.network_error_code == NetworkErrorCode(3, code)


@pytest.mark.parametrize(("cause", "name", "error_class"), CAUSES)
def test_delivery_failure_causes(cause: int, name: str, error_class: ErrorClass) -> None:
    error = MapError(32, cause=cause)
    assert error.cause is DeliveryFailureCause(cause)
    assert error.name == f"sm-DeliveryFailure ({name})"
    assert error.error_class is error_class
    assert error.err == "032"
    assert error.is_memory_full is (cause == 0)
    assert error.waits_for_alert is (cause == 0)


def test_network_error_code_is_gsm_type_then_the_code_on_two_octets() -> None:
    value = MapError(MapErrorCode.ABSENT_SUBSCRIBER_SM).network_error_code
    wire = encode_tlvs(Tlvs(((int(Tag.NETWORK_ERROR_CODE), value),)))
    assert wire == bytes.fromhex("0423 0003 03 0006")


def test_absent_errors_wait_for_an_alert() -> None:
    assert MapError(6, diagnostic=1).waits_for_alert
    assert MapError(27).waits_for_alert
    assert not MapError(31).waits_for_alert
    assert MapError(6, diagnostic=1).diagnostic is AbsentDiagnostic.IMSI_DETACHED
    assert "IMSI_DETACHED" in str(MapError(6, diagnostic=1))


def test_cause_and_diagnostic_belong_to_their_errors() -> None:
    with pytest.raises(ValueError, match="sm-DeliveryFailure"):
        MapError(13, cause=0)
    with pytest.raises(ValueError, match="absentSubscriberSM"):
        MapError(1, diagnostic=1)


def test_unknown_codes_are_kept_and_temporary() -> None:
    error = MapError(99)
    assert error.code == 99
    assert error.name == "mapError(99)"
    assert error.error_class is T
    assert error.err == "099"


def test_ints_and_enums_build_equal_errors() -> None:
    assert MapError(32, cause=4) == MapError(
        MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.SC_CONGESTION
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("callBarred", MapError(13)),
        ("CALLBARRED", MapError(13)),
        ("13", MapError(13)),
        ("subscriberBusyForMT-SMS", MapError(31)),
        ("sm-DeliveryFailure:memoryCapacityExceeded", MapError(32, cause=0)),
        ("32:4", MapError(32, cause=4)),
        ("absentSubscriberSM:1", MapError(6, diagnostic=1)),
    ],
)
def test_parse_map_error(text: str, expected: MapError) -> None:
    assert parse_map_error(text) == expected


@pytest.mark.parametrize("text", ["nope", "sm-DeliveryFailure:bogus", "callBarred:1", ""])
def test_parse_map_error_refuses(text: str) -> None:
    with pytest.raises(UnknownMapError):
        parse_map_error(text)
