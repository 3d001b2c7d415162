"""The simulated network end to end through the store-and-forward engine (issue 6, "Error
semantics end to end"): an ESME account submits with registered_delivery=1 to a number in each
state, and the message's final state, its number of attempts and the receipt (stat:, err:,
network_error_code 03 00 <code>) are checked; alerts release waiting messages in order with
moreMessagesToSend; portability, concatenation, port addressing, flash; MO from handsets to an
ESME (stored when none is bound) and person to person.

The engine runs on a real SQLite store with a fake clock (engine.StoreAndForward, as app.py
assembles it); time moves with `node.advance_to_next()`, never with sleep. The ESME is a fake
receiving session (tests/services/engine_harness.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from opensmsc.app import build_hlr
from opensmsc.config.model import NetworkConfig, PortedNumberConfig, PrefixDefaultConfig
from opensmsc.engine import EngineSettings, StoreAndForward
from opensmsc.network import (
    P2P_SYSTEM_ID,
    DeliveryFailureCause,
    EngineLink,
    MapError,
    MapErrorCode,
    Phase,
    SimulatedNetwork,
    SimulatedNetworkRoute,
    Submitted,
    SubscriberState,
)
from opensmsc.routing import AccountPolicies, AccountPolicy, Attempt
from opensmsc.smpp import (
    DeliverSm,
    EsmClass,
    MessageState,
    ReceiptInfo,
    SubmitSm,
    Tag,
    receipt_from_pdu,
)
from opensmsc.smpp.tlv import Tlvs, encode_tlvs
from opensmsc.sms import PortAddress, gsm7, split
from opensmsc.store import StoredMessage
from opensmsc.upstream import MoIngress
from tests.services.engine_harness import FakeClock, FakeRegistry, FakeSession, open_node

SC = "447700000999"
ESME = "esme1"
SHORT_CODE = "5000"
VALIDITY = timedelta(hours=1)
A = "447700900001"  # the destination handset of most tests
B = "447700900002"
PORTED = "447700900077"


class CountingRoute:
    """The network route, counting the attempts that reach the network per message."""

    def __init__(self, inner: SimulatedNetworkRoute) -> None:
        self.inner = inner
        self.attempts: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return self.inner.name

    async def attempt(self, record: StoredMessage) -> Attempt:
        self.attempts[record.message_id] += 1
        return await self.inner.attempt(record)


class Node:
    """The engine with the simulated network as its default route, as app.py wires them."""

    def __init__(
        self,
        engine: StoreAndForward,
        network: SimulatedNetwork,
        clock: FakeClock,
        registry: FakeRegistry,
        mo: MoIngress,
        route: CountingRoute,
    ) -> None:
        self.engine = engine
        self.network = network
        self.clock = clock
        self.registry = registry
        self.mo = mo
        self.session: FakeSession | None = None
        self.route = route

    @classmethod
    async def open(cls, folder: Path) -> Node:
        services = build_hlr(
            NetworkConfig(
                prefix_defaults=(PrefixDefaultConfig(prefix="44", home_network="23415"),),
                ported=(PortedNumberConfig(msisdn=f"+{PORTED}", recipient_network="23410"),),
            )
        )
        clock = FakeClock()
        registry = FakeRegistry()
        engine = await open_node(
            folder,
            receivers=registry,
            policies=AccountPolicies(default=AccountPolicy(default_validity=VALIDITY)),
            settings=EngineSettings(default_route="network"),
            clock=clock,
            outbind=registry,
        )
        mo = MoIngress(
            engine.store,
            prefixes=[(SHORT_CODE, ESME)],
            sessions=lambda: [],
            new_id=engine.ids.next,
            wake=engine.scheduler.wake,
            clock=clock,
        )

        async def submit_mt(pdu: SubmitSm) -> Submitted:
            return await node.submit_pdu(pdu, system_id=P2P_SYSTEM_ID)

        network = SimulatedNetwork(
            services.hlr,
            sc_address=SC,
            engine=EngineLink(
                waiting_for=engine.store.waiting_for,
                release=engine.scheduler.alert_now,
                account_for=mo.account_for,
                deliver_to_account=mo.on_mo,
                submit_mt=submit_mt,
            ),
        )
        route = CountingRoute(network.route)
        engine.router.add(route)
        node = cls(engine, network, clock, registry, mo, route)
        return node

    def bind(self) -> FakeSession:
        self.session = self.registry.bind(FakeSession(ESME))
        self.engine.deliveries.wake(ESME)
        return self.session

    async def submit_pdu(self, pdu: SubmitSm, *, system_id: str = ESME) -> Submitted:
        answer: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        self.engine.acceptor.submit(
            system_id, pdu, lambda mid, status: answer.set_result((mid, status))
        )
        return await asyncio.wait_for(answer, 5)

    async def submit(self, destination: str = A, text: str = "hello", **fields: Any) -> str:
        fields.setdefault("short_message", gsm7.encode(text))
        fields.setdefault("registered_delivery", 1)
        pdu = SubmitSm(
            source_addr="1234",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=destination,
            **fields,
        )
        message_id, status = await self.submit_pdu(pdu)
        assert status == 0 and message_id is not None, f"refused 0x{status:08X}"
        await self.settle()
        return message_id

    async def settle(self) -> None:
        for _ in range(10):
            await asyncio.sleep(0.002)
            await self.network.route.drain()
            await self.engine.scheduler.drain()

    async def get(self, message_id: str) -> StoredMessage:
        record = await self.engine.store.get(message_id)
        assert record is not None
        return record

    async def advance_to_next(self) -> bool:
        """Move the clock to the next open message's next attempt and run what is due;
        False when nothing is open."""
        due = await self.engine.store.due(self.clock.now + timedelta(days=365), 1)
        if not due:
            return False
        at = due[0].next_attempt_at
        assert at is not None
        self.clock.now = max(self.clock.now, at)
        await self.engine.scheduler.run_due()
        await self.settle()
        return True

    async def run_until_final(self, message_id: str, *, limit: int = 100) -> StoredMessage:
        for _ in range(limit):
            record = await self.get(message_id)
            if record.is_final:
                return record
            await self.advance_to_next()
        raise AssertionError(f"{message_id} still open after {limit} steps")

    def receipt_for(self, message_id: str) -> tuple[ReceiptInfo, DeliverSm]:
        assert self.session is not None
        for pdu in self.session.received:
            info = receipt_from_pdu(pdu)
            if info is not None and info.message_id == message_id:
                return info, pdu
        raise AssertionError(f"no receipt for {message_id}")

    async def close(self) -> None:
        await self.network.route.drain()
        await self.engine.close()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    opened = await Node.open(tmp_path)
    opened.bind()
    yield opened
    await opened.close()


def nec_wire(pdu: DeliverSm) -> bytes:
    value = pdu.tlvs.get(Tag.NETWORK_ERROR_CODE)
    assert value is not None
    return encode_tlvs(Tlvs(((Tag.NETWORK_ERROR_CODE, value),)))[4:]


# ---- every MAP error of issue 6, end to end ------------------------------------------------------

# (state or injected error, MAP code, final state, stat, attempts). With a one-hour validity:
# permanent errors fail at the first attempt; "retry once" errors at the second; the SHORT
# schedule (30 s, 1, 2, 5, 15, 30 min) tries 7 times and the long one (1, 5, 15, 30 min) 5 times
# before the next retry would fall after validity: EXPIRED then.
PERMANENT = (MessageState.UNDELIVERABLE, "UNDELIV")
EXPIRED = (MessageState.EXPIRED, "EXPIRED")
CASES: list[tuple[str, SubscriberState | MapError, int, tuple[MessageState, str], int]] = [
    ("unknownSubscriber", SubscriberState.UNKNOWN, 1, PERMANENT, 1),
    ("absentSubscriberSM", SubscriberState.ABSENT, 6, EXPIRED, 5),
    ("teleserviceNotProvisioned", SubscriberState.NOT_PROVISIONED, 11, PERMANENT, 1),
    ("callBarred", SubscriberState.BARRED, 13, PERMANENT, 1),
    ("facilityNotSupported", SubscriberState.FACILITY_NOT_SUPPORTED, 21, PERMANENT, 1),
    ("subscriberBusyForMT-SMS", SubscriberState.BUSY, 31, EXPIRED, 7),
    ("sm-DeliveryFailure memoryCapacityExceeded", SubscriberState.MEMORY_FULL, 32, EXPIRED, 5),
    (
        "sm-DeliveryFailure equipmentNotSM-Equipped",
        SubscriberState.NOT_SM_EQUIPPED,
        32,
        PERMANENT,
        1,
    ),
    ("systemFailure", SubscriberState.SYSTEM_FAILURE, 34, EXPIRED, 7),
    ("dataMissing", SubscriberState.DATA_MISSING, 35, PERMANENT, 2),
    ("unexpectedDataValue", SubscriberState.UNEXPECTED_DATA_VALUE, 36, PERMANENT, 2),
    ("unidentifiedSubscriber", SubscriberState.UNIDENTIFIED, 5, PERMANENT, 2),
    ("illegalSubscriber", SubscriberState.ILLEGAL_SUBSCRIBER, 9, PERMANENT, 1),
    ("illegalEquipment", SubscriberState.ILLEGAL_EQUIPMENT, 12, PERMANENT, 1),
    ("absentSubscriber", MapError(MapErrorCode.ABSENT_SUBSCRIBER), 27, EXPIRED, 5),
    ("messageWaitingListFull", MapError(MapErrorCode.MESSAGE_WAITING_LIST_FULL), 33, EXPIRED, 5),
    (
        "sm-DeliveryFailure sc-Congestion",
        MapError(32, cause=DeliveryFailureCause.SC_CONGESTION),
        32,
        EXPIRED,
        7,
    ),
    *[
        (f"sm-DeliveryFailure {cause.spec_name}", MapError(32, cause=cause), 32, PERMANENT, 1)
        for cause in (
            DeliveryFailureCause.EQUIPMENT_PROTOCOL_ERROR,
            DeliveryFailureCause.UNKNOWN_SERVICE_CENTRE,
            DeliveryFailureCause.INVALID_SME_ADDRESS,
            DeliveryFailureCause.SUBSCRIBER_NOT_SC_SUBSCRIBER,
        )
    ],
]


@pytest.mark.parametrize(
    ("condition", "code", "final", "attempts"),
    [pytest.param(c, code, f, n, id=name) for name, c, code, f, n in CASES],
)
async def test_map_error_end_to_end(
    node: Node,
    condition: SubscriberState | MapError,
    code: int,
    final: tuple[MessageState, str],
    attempts: int,
) -> None:
    if isinstance(condition, SubscriberState):
        node.network.hlr.subscribers.add(A, state=condition)
    else:
        # Every MT-ForwardSM to A answers this error (many more than the schedule tries).
        node.network.hlr.inject(A, condition, phase=Phase.MT, count=50)
    message_id = await node.submit(A, "status check")
    record = await node.run_until_final(message_id)
    state, stat = final
    assert record.state is state
    # Attempts that reached the network (SRI-SM): the engine's own count also includes the
    # claim at the end of validity that only expires the message.
    assert node.route.attempts[message_id] == attempts
    assert record.last_error == code
    info, pdu = node.receipt_for(message_id)
    assert info.receipt is not None
    assert info.receipt.stat == stat
    assert info.err == f"{code:03d}"
    assert nec_wire(pdu) == bytes((3, 0, code))
    assert node.network.handset(A).inbox == ()


async def test_delivered_receipt(node: Node) -> None:
    message_id = await node.submit(A, "hello there")
    record = await node.get(message_id)
    assert record.state is MessageState.DELIVERED and record.attempts == 1
    info, pdu = node.receipt_for(message_id)
    assert info.receipt is not None and info.receipt.stat == "DELIVRD" and info.err == "000"
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) is None
    assert node.network.handset(A).inbox[0].text == "hello there"


async def test_absent_then_attached_alerts_and_delivers_every_waiting_message_in_order(
    node: Node,
) -> None:
    node.network.hlr.subscribers.add(A, state=SubscriberState.ABSENT)
    ids = [await node.submit(A, f"message {n}") for n in range(1, 5)]
    for message_id in ids:
        record = await node.get(message_id)
        assert record.state is MessageState.ENROUTE and record.last_error == 6
    waiting = node.network.hlr.message_waiting(A)
    assert waiting is not None and waiting.mnrf and waiting.service_centres == (SC,)
    node.network.route.deliveries.clear()

    node.network.hlr.set_state(A, SubscriberState.ATTACHED)  # alertServiceCentre
    await node.settle()
    await node.engine.scheduler.run_due()  # released: due now, no clock change
    await node.settle()

    for message_id in ids:
        record = await node.get(message_id)
        assert record.state is MessageState.DELIVERED
        assert record.attempts == 2
    assert [m.text for m in node.network.handset(A).inbox] == [f"message {n}" for n in range(1, 5)]
    assert [d.more_messages_to_send for d in node.network.route.deliveries] == [
        True,
        True,
        True,
        False,
    ]
    assert [d.message_id for d in node.network.route.deliveries] == ids
    assert node.network.hlr.message_waiting(A) is None
    assert node.network.route.alerts == 1


async def test_memory_full_then_free_memory_alerts_and_delivers(node: Node) -> None:
    handset = node.network.handset(A)
    handset.capacity = 1
    first = await node.submit(A, "fills the memory")
    second = await node.submit(A, "waits for memory")
    assert (await node.get(first)).state is MessageState.DELIVERED
    record = await node.get(second)
    assert record.state is MessageState.ENROUTE and record.last_error == 32
    waiting = node.network.hlr.message_waiting(A)
    assert waiting is not None and waiting.mcef

    handset.free_memory()  # readyForSM → alertServiceCentre
    await node.settle()
    await node.engine.scheduler.run_due()
    await node.settle()
    assert (await node.get(second)).state is MessageState.DELIVERED
    assert [m.text for m in handset.inbox] == ["waits for memory"]
    info, _ = node.receipt_for(second)
    assert info.receipt is not None and info.receipt.stat == "DELIVRD"


async def test_ported_number_is_delivered_through_its_recipient_network(node: Node) -> None:
    message_id = await node.submit(PORTED, "to a ported number")
    assert (await node.get(message_id)).state is MessageState.DELIVERED
    (delivery,) = node.network.route.deliveries
    assert delivery.is_ported and delivery.network == "23410"
    assert node.network.handset(PORTED).inbox[0].network == "23410"
    # ... and a number that is not ported stays with the home network
    await node.submit(A, "home")
    assert node.network.route.deliveries[-1].network == "23415"


async def test_concatenated_mt_is_reassembled(node: Node) -> None:
    text = "A long message that needs more than one SMS. " * 5
    segmented = split(text, reference=42)
    assert len(segmented.parts) == 2
    ids = [
        await node.submit(A, short_message=part.short_message, esm_class=EsmClass.UDHI)
        for part in segmented.parts
    ]
    for message_id in ids:
        assert (await node.get(message_id)).state is MessageState.DELIVERED
    (message,) = node.network.handset(A).inbox
    assert message.text == text and message.parts == 2


async def test_long_message_payload_is_segmented_by_the_network(node: Node) -> None:
    text = "payload " * 40
    message_id = await node.submit(
        A, short_message=b"", tlvs=Tlvs(((Tag.MESSAGE_PAYLOAD, gsm7.encode(text)),))
    )
    assert (await node.get(message_id)).state is MessageState.DELIVERED
    assert node.network.handset(A).inbox[0].text == text


async def test_port_addressed_mt_goes_to_the_port_application(node: Node) -> None:
    got: list[bytes] = []
    node.network.handsets.register_port(3590, lambda message: got.append(message.payload))
    payload = b"WV-CSP " * 30
    segmented = split(payload, reference=7, ports=PortAddress(3590, 3590))
    for part in segmented.parts:
        await node.submit(
            A, short_message=part.short_message, esm_class=EsmClass.UDHI, data_coding=4
        )
    assert got == [payload]
    assert node.network.handset(A).inbox == ()


async def test_flash_message_is_shown_as_such(node: Node) -> None:
    message_id = await node.submit(A, "flash!", data_coding=0x10)
    assert (await node.get(message_id)).state is MessageState.DELIVERED
    handset = node.network.handset(A)
    assert handset.inbox == ()
    assert handset.flash[0].is_flash and handset.flash[0].text == "flash!"


# ---- MO ------------------------------------------------------------------------------------------


async def test_mo_from_a_handset_reaches_the_esme(node: Node) -> None:
    sent = await node.network.send_mo(B, SHORT_CODE, "STOP")
    assert sent.is_accepted
    await node.engine.scheduler.run_due()
    await node.settle()
    assert node.session is not None
    (pdu,) = [p for p in node.session.received if receipt_from_pdu(p) is None]
    assert pdu.source_addr == B and pdu.destination_addr == SHORT_CODE
    assert gsm7.decode(pdu.short_message) == "STOP"


async def test_mo_is_stored_while_no_esme_is_bound(tmp_path: Path) -> None:
    node = await Node.open(tmp_path)
    try:
        sent = await node.network.send_mo(B, SHORT_CODE, "a long MO " * 20)
        assert sent.is_accepted and sent.parts == 2
        await node.engine.scheduler.run_due()
        await node.settle()
        session = node.bind()  # the account binds later: the stored MO goes out
        for _ in range(5):
            await node.engine.scheduler.run_due()
            await node.settle()
        parts = [p for p in session.received if receipt_from_pdu(p) is None]
        assert len(parts) == 2 and all(p.esm_class & EsmClass.UDHI for p in parts)
    finally:
        await node.close()


async def test_port_addressed_mo_reaches_the_esme_with_its_udh(node: Node) -> None:
    sent = await node.network.send_mo(B, SHORT_CODE, b"\x01\x02", port=3590, originator_port=3590)
    assert sent.is_accepted
    await node.engine.scheduler.run_due()
    await node.settle()
    assert node.session is not None
    (pdu,) = [p for p in node.session.received if receipt_from_pdu(p) is None]
    assert pdu.esm_class & EsmClass.UDHI
    assert pdu.short_message.startswith(bytes.fromhex("0605040e060e06"))


async def test_person_to_person(node: Node) -> None:
    sent = await node.network.send_mo(B, f"+{A}", "hi from B, " + "é" * 200)
    assert sent.is_accepted and sent.parts == 2
    await node.engine.scheduler.run_due()
    await node.settle()
    (message,) = node.network.handset(A).inbox
    assert message.originator == B
    assert message.text == "hi from B, " + "é" * 200


async def test_mo_to_nowhere_is_refused(node: Node) -> None:
    sent = await node.network.send_mo(B, "999", "hello?")
    assert not sent.is_accepted
    assert sent.error == MapError(32, cause=DeliveryFailureCause.INVALID_SME_ADDRESS)
