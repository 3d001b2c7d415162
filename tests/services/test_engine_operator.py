"""The operator's cancel / retry / expire (engine/operator.py) on the engine as the node wires
it (real SqliteStore, Lifecycle, Scheduler, Deliveries): each through the lifecycle, with one
final state and the receipt asked for, and the refusals that keep a message from being
delivered twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from opensmsc.engine import ActionRefused, OperatorActions, ReceiptRequest, Refusal, Submission
from opensmsc.routing.routes import Accepted, Delivered, TemporaryFailure
from opensmsc.smpp import MessageState, parse_receipt
from opensmsc.smpp.times import format_relative
from opensmsc.store import Address, Direction
from tests.services.conftest import EngineFactory
from tests.services.engine_harness import Engine, FakeSession, ScriptedRoute

LATER = format_relative(timedelta(hours=1))
DEST = "31600000001"


def operator_of(engine: Engine) -> OperatorActions:
    return OperatorActions(
        engine.store,
        engine.lifecycle,
        clock=engine.clock,
        in_flight=engine.scheduler.in_flight,
        wake=engine.scheduler.wake,
    )


async def scripted(engine_factory: EngineFactory) -> tuple[Engine, ScriptedRoute, OperatorActions]:
    route = ScriptedRoute("loopback")
    engine = await engine_factory(routes={"loopback": route})
    return engine, route, operator_of(engine)


def receipt_states(session: FakeSession) -> list[str]:
    return [parse_receipt(pdu.short_message).stat for pdu in session.received]


async def test_retry_attempts_a_waiting_message_now(engine_factory: EngineFactory) -> None:
    engine, route, operator = await scripted(engine_factory)
    route.script[DEST] = [TemporaryFailure(27), Delivered()]
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    waiting = await engine.state(message_id)
    assert waiting.state is MessageState.ENROUTE and waiting.attempts == 1
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > engine.clock()
    assert await engine.run() == 0  # not due for a minute

    retried = await operator.retry(message_id)
    assert retried is not None and retried.next_attempt_at == engine.clock()
    assert await engine.run() == 1
    done = await engine.state(message_id)
    assert (done.state, done.attempts) == (MessageState.DELIVERED, 2)
    # The trail says whose hand released it.
    released = [e for e in await engine.store.trail(message_id) if e.kind == "released"]
    assert [e.detail["by"] for e in released] == ["operator retry"]

    with pytest.raises(ActionRefused) as refused:
        await operator.retry(message_id)
    assert refused.value.refusal is Refusal.FINAL
    assert refused.value.record.state is MessageState.DELIVERED


async def test_cancel_and_expire_end_once_with_their_receipt(engine_factory: EngineFactory) -> None:
    engine, route, operator = await scripted(engine_factory)
    session = engine.registry.bind(FakeSession("esme1"))
    route.script[DEST] = [TemporaryFailure(27)]
    cancelled = await engine.submit_ok(registered_delivery=1)
    expired = await engine.submit_ok(registered_delivery=1)
    await engine.run()

    record = await operator.cancel(cancelled)
    assert record is not None and record.state is MessageState.DELETED
    record = await operator.expire(expired)
    assert record is not None and record.state is MessageState.EXPIRED
    assert record.receipt_id is not None
    await engine.settle()
    assert sorted(receipt_states(session)) == ["DELETED", "EXPIRED"]
    for message_id, action in ((cancelled, "cancel"), (expired, "expire")):
        finals = [e for e in await engine.store.trail(message_id) if e.kind == "final"]
        assert [e.detail.get("by") for e in finals] == [f"operator {action}"]

    # Every second action is refused, and nothing more is stored or sent.
    for action in (operator.cancel, operator.expire, operator.retry):
        for message_id in (cancelled, expired):
            with pytest.raises(ActionRefused) as refused:
                await action(message_id)
            assert refused.value.refusal is Refusal.FINAL
    engine.clock.advance(hours=5)
    await engine.run()
    await engine.settle()
    assert len(session.received) == 2
    assert (await engine.state(cancelled)).state is MessageState.DELETED


async def test_a_message_an_upstream_holds_is_expired_not_cancelled_or_retried(
    engine_factory: EngineFactory,
) -> None:
    engine, route, operator = await scripted(engine_factory)
    session = engine.registry.bind(FakeSession("esme1"))
    route.script[DEST] = [Accepted("UP-7")]
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    assert (await engine.state(message_id)).upstream_message_id == "UP-7"

    for action in (operator.cancel, operator.retry):
        with pytest.raises(ActionRefused) as refused:
            await action(message_id)
        assert refused.value.refusal is Refusal.UPSTREAM
    record = await operator.expire(message_id)
    assert record is not None and record.state is MessageState.EXPIRED
    # The upstream's late receipt finds it final: the store refuses a second final state.
    late = await engine.lifecycle.finish(record, MessageState.DELIVERED)
    assert late is None
    await engine.settle()
    assert receipt_states(session) == ["EXPIRED"]
    assert len(route.attempted) == 1


async def test_an_unknown_outcome_is_expired_not_retried(engine_factory: EngineFactory) -> None:
    # UNKNOWN comes from an upstream's receipt: that upstream had it, and may still deliver it.
    engine, route, operator = await scripted(engine_factory)
    route.script[DEST] = [Accepted("UP-8"), Delivered()]
    message_id = await engine.submit_ok()
    await engine.run()
    later = engine.clock() + timedelta(hours=1)
    await engine.store.transition(
        message_id, MessageState.UNKNOWN, at=engine.clock(), next_attempt_at=later
    )
    with pytest.raises(ActionRefused) as refused:
        await operator.retry(message_id)
    assert refused.value.refusal is Refusal.UPSTREAM
    record = await operator.expire(message_id)
    assert record is not None and record.state is MessageState.EXPIRED
    assert len(route.attempted) == 1


async def test_scheduled_is_not_retried_but_may_be_cancelled(engine_factory: EngineFactory) -> None:
    engine, route, operator = await scripted(engine_factory)
    message_id = await engine.submit_ok(schedule_delivery_time=LATER)
    with pytest.raises(ActionRefused) as refused:
        await operator.retry(message_id)
    assert refused.value.refusal is Refusal.SCHEDULED
    record = await operator.cancel(message_id)
    assert record is not None and record.state is MessageState.DELETED
    engine.clock.advance(hours=2)
    await engine.run()
    assert route.attempted == []


async def test_an_attempt_under_way_refuses_every_action(engine_factory: EngineFactory) -> None:
    engine, route, operator = await scripted(engine_factory)
    route.script[DEST] = [TemporaryFailure(27)]
    message_id = await engine.submit_ok()
    await engine.run()
    route.script[DEST] = [Delivered()]
    route.gate = asyncio.Event()
    await operator.retry(message_id)
    await engine.scheduler._claim()  # the attempt starts and waits at the gate
    assert engine.scheduler.in_flight(message_id)
    for action in (operator.cancel, operator.retry, operator.expire):
        with pytest.raises(ActionRefused) as refused:
            await action(message_id)
        assert refused.value.refusal is Refusal.IN_FLIGHT
    route.gate.set()
    await engine.settle()
    assert (await engine.state(message_id)).state is MessageState.DELIVERED


async def test_only_mt_messages_are_found(engine_factory: EngineFactory) -> None:
    engine, _, operator = await scripted(engine_factory)
    engine.registry.bind(FakeSession("esme1", hold=True))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    record = await engine.state(message_id)
    assert record.receipt_id is not None
    receipt = await engine.store.get(record.receipt_id)
    assert receipt is not None and receipt.direction is Direction.RECEIPT
    for action in (operator.message, operator.cancel, operator.retry, operator.expire):
        assert await action(record.receipt_id) is None
        assert await action("no-such-id") is None


async def test_a_part_takes_the_other_parts_of_its_long_message(
    engine_factory: EngineFactory,
) -> None:
    engine, route, operator = await scripted(engine_factory)
    session = engine.registry.bind(FakeSession("esme1"))
    route.script[DEST] = [TemporaryFailure(27)]
    submission = Submission(
        source=Address(5, 0, "Shop"),
        destination=Address(1, 1, DEST),
        text="three parts " * 30,
        receipt=ReceiptRequest.FINAL,
    )
    prepared = engine.acceptor.prepare("esme1", submission)
    await engine.acceptor.store(prepared.records)
    await engine.run()
    first, second, third = prepared.message_ids
    assert {(await engine.state(m)).attempts for m in prepared.message_ids} == {1}

    retried = await operator.retry(first)  # the whole message: every part due now
    assert retried is not None
    assert {(await engine.state(m)).next_attempt_at for m in prepared.message_ids} == {
        engine.clock()
    }
    route.gate = asyncio.Event()  # the third part's attempt stays under way
    try:
        engine.scheduler.take([await engine.state(third)])
        assert engine.scheduler.in_flight(third)
        cancelled = await operator.cancel(second)
        assert cancelled is not None and cancelled.state is MessageState.DELETED
        states = [(await engine.state(m)).state for m in (first, second, third)]
        assert states == [MessageState.DELETED, MessageState.DELETED, MessageState.ENROUTE]
    finally:
        route.gate.set()
    await engine.settle()
    assert receipt_states(session) == ["DELETED", "DELETED"]  # a receipt per part
    assert (await engine.state(third)).attempts == 2  # its attempt went on, and failed again
