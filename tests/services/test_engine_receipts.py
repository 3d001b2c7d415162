"""Receipts: every registered_delivery mode, intermediate notifications, long messages per part
and whole, waiting for a receiver, expiring, RX_T_APPN retried, refusals; MO to an account."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import timedelta
from typing import Any

import pytest

from opensmsc.routing.policy import AccountPolicy
from opensmsc.routing.routes import Accepted, Delivered, PermanentFailure, TemporaryFailure
from opensmsc.smpp.constants import MessageState, Tag
from opensmsc.smpp.pdu import DeliverSm, QuerySm
from opensmsc.smpp.receipt import parse_receipt
from opensmsc.smpp.tlv import NetworkErrorCode
from opensmsc.sms import gsm7
from opensmsc.store import Address, Direction, StoredMessage
from tests.services.conftest import EngineFactory
from tests.services.engine_harness import T0, Engine, FakeSession, S, ScriptedRoute


async def scripted(engine_factory: EngineFactory, **kwargs: object) -> tuple[Engine, ScriptedRoute]:
    route = ScriptedRoute("loopback")
    engine = await engine_factory(routes={"loopback": route}, **kwargs)
    return engine, route


def receipt_of(pdu: DeliverSm) -> tuple[str, int, str, int, int]:
    """(receipted id, message_state TLV, stat, sub, dlvrd) of a receipt deliver_sm."""
    text = parse_receipt(pdu.short_message)
    assert text is not None
    receipted = pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
    state = pdu.tlvs.get(Tag.MESSAGE_STATE)
    assert isinstance(receipted, str) and isinstance(state, int)
    assert text.id == receipted
    return receipted, state, text.stat, text.sub or 0, text.dlvrd or 0


@pytest.mark.parametrize(
    ("registered_delivery", "delivered", "wanted"),
    [
        (0, True, False),
        (0, False, False),
        (1, True, True),
        (1, False, True),
        (2, True, False),
        (2, False, True),
        (3, True, True),  # SMPP 5.0: success only
        (3, False, False),
    ],
)
async def test_receipt_per_registered_delivery_mode(
    engine_factory: EngineFactory, registered_delivery: int, delivered: bool, wanted: bool
) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [Delivered() if delivered else PermanentFailure(11)]
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=registered_delivery)
    await engine.run()
    if not wanted:
        assert session.received == []
        return
    (pdu,) = session.received
    assert pdu.esm_class == 0x04
    assert (pdu.source_addr, pdu.destination_addr) == ("31600000001", "1234")
    receipted, state, stat, sub, dlvrd = receipt_of(pdu)
    assert receipted == message_id
    if delivered:
        assert (state, stat, sub, dlvrd) == (MessageState.DELIVERED, "DELIVRD", 1, 1)
        assert Tag.NETWORK_ERROR_CODE not in pdu.tlvs
    else:
        assert (state, stat, sub, dlvrd) == (MessageState.UNDELIVERABLE, "UNDELIV", 1, 0)
        assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) == NetworkErrorCode(3, 11)
        assert parse_receipt(pdu.short_message).err == "011"  # type: ignore[union-attr]
    await engine.settle()
    assert engine.deliveries.acknowledged == 1
    assert await engine.store.pending_receipts("esme1", 10) == []


async def test_intermediate_notification_when_a_message_goes_into_retry(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(27), TemporaryFailure(27), Delivered()]
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=0x11)
    await engine.run()
    (notification,) = session.received
    assert notification.esm_class == 0x20
    receipted, state, stat, _, _ = receipt_of(notification)
    assert (receipted, state, stat) == (message_id, MessageState.ENROUTE, "ENROUTE")
    engine.clock.advance(minutes=1)
    await engine.run()
    assert len(session.received) == 1  # one notification, on the first failure only
    engine.clock.advance(minutes=5)
    await engine.run()
    final = session.received[-1]
    assert final.esm_class == 0x04
    assert receipt_of(final)[1] == MessageState.DELIVERED


async def test_no_intermediate_notification_without_the_bit(engine_factory: EngineFactory) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(27)]
    session = engine.registry.bind(FakeSession("esme1"))
    await engine.submit_ok(registered_delivery=0x01)
    await engine.run()
    assert session.received == []


def part(seq: int, total: int = 3, reference: int = 7) -> bytes:
    return bytes((5, 0, 3, reference, total, seq)) + f"part {seq} text".encode()


async def test_long_message_receipts_per_part_by_default(engine: Engine) -> None:
    session = engine.registry.bind(FakeSession("esme1"))
    ids = [
        await engine.submit_ok(registered_delivery=1, esm_class=0x40, short_message=part(n))
        for n in (1, 2, 3)
    ]
    records = [await engine.state(i) for i in ids]
    assert len({r.concat.group_id for r in records if r.concat}) == 1
    assert [r.concat.seq for r in records if r.concat] == [1, 2, 3]
    await engine.run()
    got = sorted(receipt_of(pdu) for pdu in session.received)
    assert got == sorted((i, MessageState.DELIVERED, "DELIVRD", 1, 1) for i in ids)
    texts = sorted(parse_receipt(p.short_message).text for p in session.received)  # type: ignore[union-attr]
    assert texts == ["part 1 text", "part 2 text", "part 3 text"]


async def test_long_message_whole_receipt_when_all_parts_are_final(
    engine_factory: EngineFactory,
) -> None:
    route = ScriptedRoute("loopback")
    engine = await engine_factory(
        routes={"loopback": route}, account=AccountPolicy(whole_message_receipts=True)
    )
    session = engine.registry.bind(FakeSession("esme1"))
    first = await engine.submit_ok(registered_delivery=1, esm_class=0x40, short_message=part(1))
    await engine.run()
    assert session.received == []  # part 1 is delivered, the message is not complete
    # Parts arrive out of order; part 3 fails for good: the whole message is UNDELIVERABLE.
    third = await engine.submit_ok(
        registered_delivery=1, esm_class=0x40, short_message=part(3), destination_addr="3169"
    )
    assert third != first
    await engine.run()
    # Attempted in the order they arrived: part 3 fails, part 2 is delivered.
    route.script["31600000001"] = [PermanentFailure(11), Delivered()]
    for seq in (3, 2):
        await engine.submit_ok(registered_delivery=1, esm_class=0x40, short_message=part(seq))
    await engine.run()
    # The part to another destination was its own (incomplete) message: no receipt for it.
    ((receipted, state, stat, sub, dlvrd),) = [receipt_of(p) for p in session.received]
    assert (receipted, state, stat) == (first, MessageState.UNDELIVERABLE, "UNDELIV")
    assert (sub, dlvrd) == (3, 2)
    (pdu,) = session.received
    assert parse_receipt(pdu.short_message).text == "part 1 text"  # type: ignore[union-attr]
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) == NetworkErrorCode(3, 11)


async def test_whole_receipt_of_concurrent_parts_is_made_once(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(account=AccountPolicy(whole_message_receipts=True))
    session = engine.registry.bind(FakeSession("esme1", window=50))
    for seq in range(1, 6):
        await engine.submit_ok(
            registered_delivery=1,
            data_coding=0,
            short_message=b"",
            tlvs=DeliverSm()
            .tlvs.with_(Tag.SAR_MSG_REF_NUM, 300)
            .with_(Tag.SAR_TOTAL_SEGMENTS, 5)
            .with_(Tag.SAR_SEGMENT_SEQNUM, seq)
            .with_(Tag.MESSAGE_PAYLOAD, b"sar part"),
        )
    await engine.run()  # all five attempts run at once
    ((_, state, _, sub, dlvrd),) = [receipt_of(p) for p in session.received]
    assert (state, sub, dlvrd) == (MessageState.DELIVERED, 5, 5)


async def test_receipt_waits_for_a_receiver_and_an_outbind_is_asked_for(engine: Engine) -> None:
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    (waiting,) = await engine.store.pending_receipts("esme1", 10)
    assert waiting.receipted_message_id == message_id
    assert "esme1" in engine.registry.outbinds
    session = engine.registry.bind(FakeSession("esme1"))
    engine.deliveries.wake("esme1")  # what EsmeSession does when it binds
    await engine.settle()
    (pdu,) = session.received
    assert receipt_of(pdu)[0] == message_id
    assert await engine.store.pending_receipts("esme1", 10) == []


async def test_receipts_go_out_in_order_within_the_window(engine: Engine) -> None:
    ids = [await engine.submit_ok(registered_delivery=1) for _ in range(30)]
    await engine.run()
    session = engine.registry.bind(FakeSession("esme1", window=4))
    engine.deliveries.wake("esme1")
    await engine.settle()
    assert [receipt_of(p)[0] for p in session.received] == ids
    assert await engine.store.pending_receipts("esme1", 50) == []


async def test_acknowledged_receipts_hold_the_window_until_the_ack_is_recorded(
    engine: Engine,
) -> None:
    # A slow disk: the store's acknowledgements lag behind the ESME's answers. A crash now
    # re-delivers every receipt not recorded as acknowledged, so Deliveries keeps those within
    # the window (10 here), however wide the session's own window is.
    ids = [await engine.submit_ok(registered_delivery=1) for _ in range(30)]
    await engine.run()
    gate = asyncio.Event()
    real_apply = engine.store.apply

    async def slow_apply(changes: Any) -> Any:
        await gate.wait()
        return await real_apply(changes)

    engine.store.apply = slow_apply  # type: ignore[method-assign]
    session = engine.registry.bind(FakeSession("esme1", window=100))
    engine.deliveries.wake("esme1")
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(session.received) == 10
    assert session.outstanding == 0  # all answered ESME_ROK; their acks are not committed
    gate.set()
    await engine.settle()
    assert [receipt_of(p)[0] for p in session.received] == ids
    assert await engine.store.pending_receipts("esme1", 50) == []


async def test_unclaimed_receipt_expires_after_its_own_validity(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(account=AccountPolicy(default_validity=timedelta(hours=1)))
    await engine.submit_ok(registered_delivery=1)
    await engine.run()
    (receipt,) = await engine.store.pending_receipts("esme1", 10)
    assert receipt.expires_at == T0 + timedelta(hours=1)
    engine.clock.advance(hours=1)
    assert await engine.deliveries.expire_receipts(["esme1"]) == 1
    assert (await engine.state(receipt.message_id)).state is MessageState.EXPIRED
    session = engine.registry.bind(FakeSession("esme1"))
    engine.deliveries.wake("esme1")
    await engine.settle()
    assert session.received == []


async def test_expired_receipt_is_not_sent_when_a_receiver_binds(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(account=AccountPolicy(default_validity=timedelta(hours=1)))
    await engine.submit_ok(registered_delivery=1)
    await engine.run()
    (receipt,) = await engine.store.pending_receipts("esme1", 10)
    engine.clock.advance(hours=2)
    session = engine.registry.bind(FakeSession("esme1"))
    engine.deliveries.wake("esme1")
    await engine.settle()
    assert session.received == []
    assert (await engine.state(receipt.message_id)).state is MessageState.EXPIRED


async def test_rx_t_appn_and_lost_answers_are_retried_with_the_same_content(
    engine: Engine,
) -> None:
    session = engine.registry.bind(FakeSession("esme1", answers=deque([S.ESME_RX_T_APPN, None])))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    for _ in range(50):
        if engine.deliveries.acknowledged:
            break
        await asyncio.sleep(0.01)
    assert len(session.received) == 3
    first, second, third = session.received
    assert first == second == third  # at-least-once: identical text, TLVs and ids
    assert receipt_of(third)[0] == message_id
    assert await engine.store.pending_receipts("esme1", 10) == []


async def test_rx_p_appn_ends_the_receipt_undeliverable(engine: Engine) -> None:

    session = engine.registry.bind(FakeSession("esme1", answers=deque([S.ESME_RX_P_APPN])))
    await engine.submit_ok(registered_delivery=1)
    await engine.run()
    assert len(session.received) == 1
    assert await engine.store.pending_receipts("esme1", 10) == []
    assert engine.deliveries.acknowledged == 0


async def test_receipt_in_flight_on_a_lost_session_goes_to_the_next_receiver(
    engine: Engine,
) -> None:
    first = engine.registry.bind(FakeSession("esme1", hold=True))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    assert len(first.received) == 1
    engine.registry.unbind(first)
    second = engine.registry.bind(FakeSession("esme1"))
    first.answer_held(None)  # the session closed without answering
    await engine.settle()
    (pdu,) = second.received
    assert receipt_of(pdu)[0] == message_id
    assert pdu == first.received[0]


async def test_receipts_stay_with_their_account(engine: Engine) -> None:
    other = engine.registry.bind(FakeSession("esme2"))
    await engine.submit_ok("esme1", registered_delivery=1)
    await engine.run()
    assert other.received == []
    assert len(await engine.store.pending_receipts("esme1", 10)) == 1


def mo(message_id: str, system_id: str = "esme1") -> StoredMessage:
    return StoredMessage(
        message_id=message_id,
        system_id=system_id,
        direction=Direction.MO,
        source=Address(1, 1, "31699999999"),
        destination=Address(0, 0, "1234"),
        short_message=b"reply",
        submitted_at=T0,
        due_at=T0,
        expires_at=T0 + timedelta(days=1),
    )


async def test_mo_goes_to_a_receiver_of_its_account(engine: Engine) -> None:
    session = engine.registry.bind(FakeSession("esme1"))
    await engine.store.submit_many([mo("mo-1")])
    await engine.run()
    (pdu,) = session.received
    assert (pdu.source_addr, pdu.destination_addr, pdu.short_message) == (
        "31699999999",
        "1234",
        b"reply",
    )
    assert pdu.esm_class == 0
    assert (await engine.state("mo-1")).state is MessageState.DELIVERED


async def test_mo_waits_for_a_bind_and_is_released_at_once(engine: Engine) -> None:
    await engine.store.submit_many([mo("mo-1"), mo("mo-2")])
    await engine.run()
    record = await engine.state("mo-1")
    assert record.state is MessageState.ENROUTE
    assert record.last_error == S.ESME_RX_T_APPN
    assert "esme1" in engine.registry.outbinds
    session = engine.registry.bind(FakeSession("esme1"))
    engine.deliveries.wake("esme1")
    await engine.scheduler.drain()
    await engine.run()  # released: due now, well before the retry time
    assert [p.short_message for p in session.received] == [b"reply", b"reply"]
    assert (await engine.state("mo-2")).state is MessageState.DELIVERED


async def test_mo_refused_for_good_is_undeliverable(engine: Engine) -> None:

    engine.registry.bind(FakeSession("esme1", answers=deque([S.ESME_RX_R_APPN])))
    await engine.store.submit_many([mo("mo-1")])
    await engine.run()
    assert (await engine.state("mo-1")).state is MessageState.UNDELIVERABLE


# ---- the error a final state reports (issue 10, item 1) -----------------------------------------


async def test_delivered_after_a_failure_reports_no_error(engine_factory: EngineFactory) -> None:
    # Billing reads err != 000 as a failure: a DELIVRD receipt says err:000, carries no
    # network_error_code, and query_sm answers error_code 0. The failed attempt's error stays
    # on the record (last_error): the history keeps it.
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(6), Delivered()]
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    engine.clock.advance(minutes=1)
    await engine.run()
    (pdu,) = session.received
    text = parse_receipt(pdu.short_message)
    assert text is not None and (text.stat, text.err) == ("DELIVRD", "000")
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) is None
    query = await engine.operations.query("esme1", QuerySm(message_id=message_id))
    assert (query.message_state, query.error_code) == (MessageState.DELIVERED, 0)
    record = await engine.state(message_id)
    assert (record.state, record.attempts, record.last_error) == (MessageState.DELIVERED, 2, 6)


async def test_expired_awaiting_an_upstream_receipt_reports_no_earlier_error(
    engine_factory: EngineFactory,
) -> None:
    # The last attempt succeeded (an upstream took the message); it then expired waiting for
    # the upstream's receipt. The error of the attempt before is not this outcome's error.
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(6), Accepted("U1")]
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=1, validity_period="000000010000000R")
    await engine.run()
    engine.clock.advance(minutes=1)
    await engine.run()
    assert (await engine.state(message_id)).upstream_message_id == "U1"
    engine.clock.advance(hours=2)
    await engine.run()
    (pdu,) = session.received
    text = parse_receipt(pdu.short_message)
    assert text is not None and (text.stat, text.err) == ("EXPIRED", "000")
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) is None
    query = await engine.operations.query("esme1", QuerySm(message_id=message_id))
    assert (query.message_state, query.error_code) == (MessageState.EXPIRED, 0)


async def test_accepted_reports_no_earlier_error(engine_factory: EngineFactory) -> None:
    # ACCEPTED (an upstream's receipt: read on the subscriber's behalf) is no failure either.
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(6)]
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    record = await engine.state(message_id)
    assert record.last_error == 6
    await engine.lifecycle.finish(record, MessageState.ACCEPTED)
    await engine.settle()
    (pdu,) = session.received
    text = parse_receipt(pdu.short_message)
    assert text is not None and (text.stat, text.err) == ("ACCEPTD", "000")
    query = await engine.operations.query("esme1", QuerySm(message_id=message_id))
    assert (query.message_state, query.error_code) == (MessageState.ACCEPTED, 0)


async def test_whole_receipt_reports_the_error_of_the_failed_part(
    engine_factory: EngineFactory,
) -> None:
    # Part 2 fails for good (11); part 1 failed once (6), then is delivered last. The message
    # is UNDELIVERABLE because of part 2: err:011, not part 1's earlier 006.
    route = ScriptedRoute("loopback")
    engine = await engine_factory(
        routes={"loopback": route}, account=AccountPolicy(whole_message_receipts=True)
    )
    session = engine.registry.bind(FakeSession("esme1"))
    route.script["31600000001"] = [TemporaryFailure(6)]
    first = await engine.submit_ok(registered_delivery=1, esm_class=0x40, short_message=part(1, 2))
    await engine.run()
    route.script["31600000001"] = [PermanentFailure(11)]
    await engine.submit_ok(registered_delivery=1, esm_class=0x40, short_message=part(2, 2))
    await engine.run()
    route.script["31600000001"] = [Delivered()]
    engine.clock.advance(minutes=1)
    await engine.run()
    (pdu,) = session.received
    receipted, state, stat, sub, dlvrd = receipt_of(pdu)
    assert (receipted, state, stat, sub, dlvrd) == (
        first,
        MessageState.UNDELIVERABLE,
        "UNDELIV",
        2,
        1,
    )
    assert parse_receipt(pdu.short_message).err == "011"  # type: ignore[union-attr]
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) == NetworkErrorCode(3, 11)


# ---- the receipt's text (issue 10, item 5) -------------------------------------------------------


@pytest.mark.parametrize(
    ("data_coding", "short_message"),
    [
        (0, gsm7.encode("Señor, café ä €")),  # the GSM 7-bit default alphabet
        (8, "Señor, café ä €".encode("utf-16-be")),  # UCS-2
        (3, "Señor, café ä".encode("latin-1") + b" \x80"),  # Latin-1 has no €: shown as is
    ],
    ids=["gsm7", "ucs2", "latin1"],
)
async def test_receipt_text_keeps_the_characters_the_gsm_alphabet_has(
    engine: Engine, data_coding: int, short_message: bytes
) -> None:
    # The receipt travels with data_coding 0 (the GSM 7-bit default alphabet): é, ñ, ä and €
    # are in it and must not become "?".
    session = engine.registry.bind(FakeSession("esme1"))
    await engine.submit_ok(
        registered_delivery=1, data_coding=data_coding, short_message=short_message
    )
    await engine.run()
    (pdu,) = session.received
    assert pdu.data_coding == 0
    text = parse_receipt(gsm7.decode(pdu.short_message))
    assert text is not None
    assert text.text.startswith("Señor, café ä")
    if data_coding != 3:
        assert text.text == "Señor, café ä €"
