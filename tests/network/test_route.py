"""SimulatedNetworkRoute: SRI-SM + MT-ForwardSM mapped to engine Attempts, MWD reports,
portability, bursts after an alert, and the SMS-DELIVER built from a stored record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opensmsc.network import (
    DeliveryFailureCause,
    HlrMode,
    Latency,
    MapError,
    MapErrorCode,
    Phase,
    PrefixDefault,
    SimulatedHlr,
    SimulatedNetwork,
    SubscriberState,
    SubscriberTable,
)
from opensmsc.routing import (
    Delivered,
    ErrorClass,
    NumberPortability,
    PermanentFailure,
    PortabilityTable,
    TemporaryFailure,
)
from opensmsc.smpp import EsmClass, Tag, Tlvs
from opensmsc.sms import PortAddress, gsm7, split
from opensmsc.store import Address, StoredMessage

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SC = "447700000999"
MSISDN = 447700900001
HOME = "23415"


def network(**kwargs: Any) -> SimulatedNetwork:
    table = SubscriberTable(defaults=[PrefixDefault(prefix="44", home_network=HOME)])
    portability = NumberPortability(PortabilityTable())
    hlr = SimulatedHlr(table, portability=portability, **kwargs)
    return SimulatedNetwork(hlr, sc_address=SC)


_ids = iter(range(1, 1_000_000))


def record(
    destination: str = str(MSISDN),
    *,
    text: str = "hello",
    short_message: bytes | None = None,
    tlvs: Sequence[tuple[int, Any]] = (),
    esm_class: int = 0,
    data_coding: int = 0,
    minutes: int = 0,
) -> StoredMessage:
    at = T0 + timedelta(minutes=minutes)
    return StoredMessage(
        message_id=f"m{next(_ids):06d}",
        system_id="esme1",
        source=Address(1, 1, "1234"),
        destination=Address(1, 1, destination),
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=gsm7.encode(text) if short_message is None else short_message,
        tlvs=StoredMessage.encode_tlvs(Tlvs(tuple(tlvs))),
        submitted_at=at,
        due_at=at,
        expires_at=at + timedelta(days=2),
    )


async def test_attached_subscriber_gets_the_message() -> None:
    net = network()
    outcome = await net.route.attempt(record(text="hi there"))
    assert outcome == Delivered()
    assert net.handset(MSISDN).inbox[0].text == "hi there"
    (delivery,) = net.route.deliveries
    assert delivery.network == HOME and not delivery.is_ported
    assert net.route.name == "network"


async def test_ported_number_is_delivered_through_its_recipient_network() -> None:
    net = network()
    assert net.hlr.portability is not None
    net.hlr.portability.table.put(MSISDN, "23410")
    assert await net.route.attempt(record()) == Delivered()
    (delivery,) = net.route.deliveries
    assert delivery.is_ported and delivery.network == "23410"
    assert net.handset(MSISDN).inbox[0].network == "23410"


STATE_ERRORS = [
    (SubscriberState.UNKNOWN, 1, None),
    (SubscriberState.BARRED, 13, None),
    (SubscriberState.NOT_PROVISIONED, 11, None),
    (SubscriberState.FACILITY_NOT_SUPPORTED, 21, None),
    (SubscriberState.ILLEGAL_SUBSCRIBER, 9, None),
    (SubscriberState.ILLEGAL_EQUIPMENT, 12, None),
    (SubscriberState.NOT_SM_EQUIPPED, 32, None),
    (SubscriberState.ABSENT, 6, ErrorClass.TEMPORARY),
    (SubscriberState.MEMORY_FULL, 32, ErrorClass.TEMPORARY),
    (SubscriberState.BUSY, 31, ErrorClass.SHORT),
    (SubscriberState.SYSTEM_FAILURE, 34, ErrorClass.SHORT),
    (SubscriberState.DATA_MISSING, 35, ErrorClass.RETRY_ONCE),
    (SubscriberState.UNEXPECTED_DATA_VALUE, 36, ErrorClass.RETRY_ONCE),
    (SubscriberState.UNIDENTIFIED, 5, ErrorClass.RETRY_ONCE),
]


@pytest.mark.parametrize(("state", "code", "error_class"), STATE_ERRORS)
async def test_each_state_maps_to_its_attempt(
    state: SubscriberState, code: int, error_class: ErrorClass | None
) -> None:
    net = network()
    net.hlr.subscribers.add(MSISDN, state=state)
    outcome = await net.route.attempt(record())
    if error_class is None:
        assert isinstance(outcome, PermanentFailure)
        assert outcome.error == code
    else:
        # The subscriber's state, not the route's: no failover, nothing against the route.
        assert outcome == TemporaryFailure(
            code, error_class=error_class, detail=outcome.detail, route_fault=False
        )
    assert net.handset(MSISDN).inbox == ()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MapError(MapErrorCode.ABSENT_SUBSCRIBER), ErrorClass.TEMPORARY),
        (MapError(MapErrorCode.MESSAGE_WAITING_LIST_FULL), ErrorClass.TEMPORARY),
        (MapError(32, cause=DeliveryFailureCause.SC_CONGESTION), ErrorClass.SHORT),
        (MapError(32, cause=DeliveryFailureCause.UNKNOWN_SERVICE_CENTRE), None),
        (MapError(32, cause=DeliveryFailureCause.INVALID_SME_ADDRESS), None),
        (MapError(32, cause=DeliveryFailureCause.SUBSCRIBER_NOT_SC_SUBSCRIBER), None),
        (MapError(32, cause=DeliveryFailureCause.EQUIPMENT_PROTOCOL_ERROR), None),
    ],
)
async def test_injected_errors_map_by_class(error: MapError, expected: ErrorClass | None) -> None:
    net = network()
    net.hlr.inject(MSISDN, error, phase=Phase.MT)
    outcome = await net.route.attempt(record())
    if expected is None:
        assert isinstance(outcome, PermanentFailure) and outcome.error == int(error.code)
    else:
        assert isinstance(outcome, TemporaryFailure)
        assert (outcome.error, outcome.error_class) == (int(error.code), expected)


async def test_absent_sets_mnrf_then_success_after_alert_is_clean() -> None:
    net = network()
    net.hlr.subscribers.add(MSISDN, state=SubscriberState.ABSENT)
    await net.route.attempt(record())
    waiting = net.hlr.message_waiting(MSISDN)
    assert waiting is not None and waiting.mnrf and waiting.service_centres == (SC,)


async def test_memory_full_sets_mcef_and_success_clears_mwd() -> None:
    net = network()
    net.handsets.capacity = 1
    assert await net.route.attempt(record(text="one")) == Delivered()
    outcome = await net.route.attempt(record(text="two"))
    assert isinstance(outcome, TemporaryFailure) and outcome.error == 32
    waiting = net.hlr.message_waiting(MSISDN)
    assert waiting is not None and waiting.mcef
    net.handset(MSISDN).capacity = 5  # room again, without a readyForSM
    assert await net.route.attempt(record(text="two")) == Delivered()
    assert net.hlr.message_waiting(MSISDN) is None  # successfulTransfer cleared it


async def test_not_a_number_is_permanent_unknown_subscriber() -> None:
    outcome = await network().route.attempt(record("ACME"))
    assert isinstance(outcome, PermanentFailure) and outcome.error == 1


class FakeEngine:
    """store.waiting_for and Scheduler.alert_now over a list of records."""

    def __init__(self, records: list[StoredMessage]) -> None:
        self.records = records
        self.released: list[str] = []

    async def waiting_for(self, address: str) -> list[StoredMessage]:
        return [r for r in self.records if r.destination.addr == address]

    async def release(self, address: str) -> int:
        self.released.append(address)
        return len([r for r in self.records if r.destination.addr == address])


async def test_alert_releases_a_burst_with_more_messages_to_send_on_all_but_the_last() -> None:
    net = network()
    net.hlr.subscribers.add(MSISDN, state=SubscriberState.ABSENT)
    records = [
        record(f"+{MSISDN}", text="first", minutes=1),
        record(str(MSISDN), text="second", minutes=2),
        record(f"+{MSISDN}", text="third", minutes=3),
    ]
    engine = FakeEngine(records)
    net.route.set_alert_handlers(engine.waiting_for, engine.release)
    for r in records:
        outcome = await net.route.attempt(r)
        assert isinstance(outcome, TemporaryFailure) and outcome.error == 6
    alerts: list[str] = []
    net.hlr.add_alert_listener(alerts.append)
    net.hlr.set_state(MSISDN, SubscriberState.ATTACHED)
    assert alerts == [str(MSISDN)]
    await net.route.drain()  # the HLR's listener runs the alert as a task
    assert net.route.alerts == 1
    assert sorted(engine.released) == sorted({f"+{MSISDN}", str(MSISDN)})
    net.route.deliveries.clear()
    for r in records:  # the Scheduler runs the released messages in submission order
        assert await net.route.attempt(r) == Delivered()
    assert [d.more_messages_to_send for d in net.route.deliveries] == [True, True, False]
    assert [m.text for m in net.handset(MSISDN).inbox] == ["first", "second", "third"]


async def test_alert_after_a_restart_finds_messages_under_either_spelling() -> None:
    # A restarted node has seen no failed attempt yet: the route knows no spellings.
    records = [record(f"+{MSISDN}", text="plus", minutes=1), record(str(MSISDN), minutes=2)]
    engine = FakeEngine(records)
    restarted = network()
    restarted.route.set_alert_handlers(engine.waiting_for, engine.release)
    await restarted.route.on_alert(MSISDN)
    assert sorted(engine.released) == sorted({f"+{MSISDN}", str(MSISDN)})


async def test_alert_without_an_engine_is_ignored() -> None:
    assert await network().route.on_alert(MSISDN) == 0


async def test_long_message_payload_is_segmented_and_reassembled() -> None:
    net = network()
    text = "long " * 80
    outcome = await net.route.attempt(
        record(short_message=b"", tlvs=[(Tag.MESSAGE_PAYLOAD, gsm7.encode(text))])
    )
    assert outcome == Delivered()
    (message,) = net.handset(MSISDN).inbox
    assert message.text == text and message.parts == 3
    assert [d.more_messages_to_send for d in net.route.deliveries] == [True, True, False]


async def test_sar_parts_become_concatenated_sms() -> None:
    net = network()
    for seq, chunk in ((1, "abc"), (2, "def")):
        tlvs = [
            (Tag.SAR_MSG_REF_NUM, 300),
            (Tag.SAR_TOTAL_SEGMENTS, 2),
            (Tag.SAR_SEGMENT_SEQNUM, seq),
        ]
        assert await net.route.attempt(record(text=chunk, tlvs=tlvs)) == Delivered()
    assert [m.text for m in net.handset(MSISDN).inbox] == ["abcdef"]


async def test_udh_concatenated_parts_and_port_addressing() -> None:
    net = network()
    got: list[bytes] = []
    net.handsets.register_port(3590, lambda message: got.append(message.payload))
    payload = bytes(range(256)) * 2
    segmented = split(payload, reference=9, ports=PortAddress(3590, 3590))
    for part in segmented.parts:
        outcome = await net.route.attempt(
            record(short_message=part.short_message, esm_class=EsmClass.UDHI, data_coding=4)
        )
        assert outcome == Delivered()
    assert got == [payload]
    assert net.handset(MSISDN).inbox == ()


async def test_dest_addr_subunit_display_makes_a_flash_message() -> None:
    net = network()
    assert await net.route.attempt(record(tlvs=[(Tag.DEST_ADDR_SUBUNIT, 1)])) == Delivered()
    handset = net.handset(MSISDN)
    assert handset.inbox == ()
    assert handset.flash[0].is_flash and handset.flash[0].text == "hello"


async def test_class_0_data_coding_is_shown_as_flash() -> None:
    net = network()
    assert await net.route.attempt(record(data_coding=0x10)) == Delivered()
    assert net.handset(MSISDN).flash[0].is_flash


async def test_realistic_latency_is_awaited() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    table = SubscriberTable()
    table.add(MSISDN, latency=Latency("fixed", 100.0))
    hlr = SimulatedHlr(table, mode=HlrMode.REALISTIC, seed=3)
    net = SimulatedNetwork(hlr, sleep=sleep)
    assert await net.route.attempt(record()) == Delivered()
    assert slept == [0.1, 0.1]  # SRI-SM, then MT-ForwardSM
