"""The lifecycle through every path: delivered, retried on schedule, undeliverable, expired,
cancelled, replaced; priority before bulk; alerts; a restart resumes claimed messages; final
messages purged after the retention."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from opensmsc.engine import Housekeeper
from opensmsc.errors import StoreUnavailable
from opensmsc.routing.policy import AccountPolicies, AccountPolicy
from opensmsc.routing.retry import ErrorClass
from opensmsc.routing.routes import (
    Accepted,
    Attempt,
    Delivered,
    LoopbackRoute,
    PermanentFailure,
    Router,
    TemporaryFailure,
)
from opensmsc.smpp.constants import MessageState, Tag
from opensmsc.smpp.pdu import CancelSm, QuerySm, ReplaceSm
from opensmsc.smpp.times import format_relative
from opensmsc.store import Change, SqliteStore, StoredMessage, StoreError
from tests.services.conftest import EngineFactory
from tests.services.engine_harness import T0, Engine, FakeClock, FakeSession, S, ScriptedRoute

MIN = timedelta(minutes=1)
LATER = format_relative(timedelta(hours=1))


async def scripted(engine_factory: EngineFactory, **kwargs: object) -> tuple[Engine, ScriptedRoute]:
    route = ScriptedRoute("loopback")
    engine = await engine_factory(routes={"loopback": route}, **kwargs)
    return engine, route


async def test_loopback_delivers_a_due_message(engine: Engine) -> None:
    message_id = await engine.submit_ok()
    assert await engine.run() == 1
    record = await engine.state(message_id)
    assert record.state is MessageState.DELIVERED
    assert record.done_at == T0
    assert record.route == "loopback"
    assert record.attempts == 1


async def test_temporary_failures_are_retried_on_the_default_schedule(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(27)]
    message_id = await engine.submit_ok()
    expected = [1, 5, 15, 30, 60, 120, 240, 240, 240]
    for delay in expected:
        await engine.run()
        record = await engine.state(message_id)
        assert record.state is MessageState.ENROUTE
        assert record.last_error == 27
        assert record.next_attempt_at == engine.clock.now + delay * MIN
        engine.clock.advance(minutes=delay - 0.5)
        assert await engine.run() == 0  # not due before its time
        engine.clock.advance(minutes=0.5)
    assert len(route.attempted) == len(expected)


async def test_a_retry_succeeds_later(engine_factory: EngineFactory) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(27), TemporaryFailure(6), Delivered()]
    message_id = await engine.submit_ok()
    await engine.run()
    engine.clock.advance(minutes=1)
    await engine.run()
    engine.clock.advance(minutes=5)
    await engine.run()
    record = await engine.state(message_id)
    assert record.state is MessageState.DELIVERED
    assert record.attempts == 3
    assert record.last_error == 6


async def test_permanent_failure_makes_it_undeliverable(engine_factory: EngineFactory) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [PermanentFailure(1)]
    message_id = await engine.submit_ok()
    await engine.run()
    record = await engine.state(message_id)
    assert (record.state, record.last_error) == (MessageState.UNDELIVERABLE, 1)
    query = await engine.operations.query("esme1", QuerySm(message_id=message_id))
    assert (query.message_state, query.error_code) == (MessageState.UNDELIVERABLE, 1)
    assert query.final_date


async def test_retry_once_class_gives_up_after_the_second_attempt(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(5, ErrorClass.RETRY_ONCE)]
    message_id = await engine.submit_ok()
    await engine.run()
    engine.clock.advance(minutes=1)
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.UNDELIVERABLE


async def test_validity_ends_retries_with_expired(engine_factory: EngineFactory) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(27)]
    message_id = await engine.submit_ok(validity_period=format_relative(timedelta(minutes=10)))
    await engine.run()  # fails at 0: next at +1
    engine.clock.advance(minutes=1)
    await engine.run()  # fails at 1: next at +6
    engine.clock.advance(minutes=5)
    await engine.run()  # fails at 6: +15 would pass validity: wait until 10, then expire
    record = await engine.state(message_id)
    assert record.state is MessageState.ENROUTE
    assert record.next_attempt_at == T0 + 10 * MIN
    engine.clock.advance(minutes=4)
    await engine.run()
    record = await engine.state(message_id)
    assert record.state is MessageState.EXPIRED
    assert len(route.attempted) == 3  # no attempt after validity


async def test_scheduled_message_past_validity_expires_without_an_attempt(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory)
    message_id = await engine.submit_ok(
        schedule_delivery_time=format_relative(timedelta(minutes=5)),
        validity_period=format_relative(timedelta(minutes=6)),
    )
    engine.clock.advance(minutes=7)
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.EXPIRED
    assert route.attempted == []


async def test_accepted_upstream_waits_for_the_receipt_then_expires(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [Accepted("UP-1")]
    message_id = await engine.submit_ok(validity_period=format_relative(timedelta(hours=1)))
    await engine.run()
    record = await engine.state(message_id)
    assert (record.state, record.upstream_message_id) == (MessageState.ENROUTE, "UP-1")
    assert record.next_attempt_at == record.expires_at
    # An alert does not resend what an upstream holds.
    assert await engine.scheduler.alert_now("31600000001") == 0
    engine.clock.advance(hours=1)
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.EXPIRED
    assert len(route.attempted) == 1


async def test_cancel_by_id_and_by_addresses(engine: Engine) -> None:
    by_id = await engine.submit_ok(schedule_delivery_time=LATER)
    status = await engine.operations.cancel("esme1", CancelSm(message_id=by_id, source_addr="1234"))
    assert status == S.ESME_ROK
    assert (await engine.state(by_id)).state is MessageState.DELETED
    assert await engine.operations.cancel("esme1", CancelSm(message_id=by_id)) == (
        S.ESME_RCANCELFAIL
    )
    a = await engine.submit_ok(schedule_delivery_time=LATER, destination_addr="3170")
    b = await engine.submit_ok(schedule_delivery_time=LATER, destination_addr="3170")
    kept = await engine.submit_ok(schedule_delivery_time=LATER, destination_addr="3171")
    status = await engine.operations.cancel(
        "esme1", CancelSm(source_addr="1234", destination_addr="3170")
    )
    assert status == S.ESME_ROK
    assert [(await engine.state(m)).state for m in (a, b, kept)] == [
        MessageState.DELETED,
        MessageState.DELETED,
        MessageState.SCHEDULED,
    ]
    nothing = CancelSm(source_addr="1234", destination_addr="3170")
    assert await engine.operations.cancel("esme1", nothing) == S.ESME_RCANCELFAIL


async def test_another_account_cannot_see_cancel_or_replace(engine: Engine) -> None:
    message_id = await engine.submit_ok(schedule_delivery_time=LATER)
    query = await engine.operations.query("other", QuerySm(message_id=message_id))
    assert query.command_status == S.ESME_RQUERYFAIL
    assert await engine.operations.cancel("other", CancelSm(message_id=message_id)) == (
        S.ESME_RCANCELFAIL
    )
    assert await engine.operations.replace("other", ReplaceSm(message_id=message_id)) == (
        S.ESME_RREPLACEFAIL
    )
    wrong_source = QuerySm(message_id=message_id, source_addr="999")
    assert (await engine.operations.query("esme1", wrong_source)).command_status == (
        S.ESME_RQUERYFAIL
    )


async def test_replace_changes_text_and_schedule_until_delivered(engine: Engine) -> None:
    message_id = await engine.submit_ok(schedule_delivery_time=LATER, short_message=b"a")
    status = await engine.operations.replace(
        "esme1",
        ReplaceSm(
            message_id=message_id,
            source_addr="1234",
            short_message=b"b",
            schedule_delivery_time=format_relative(timedelta(minutes=10)),
            registered_delivery=1,
        ),
    )
    assert status == S.ESME_ROK
    record = await engine.state(message_id)
    assert (record.short_message, record.registered_delivery) == (b"b", 1)
    assert record.due_at == T0 + 10 * MIN
    engine.clock.advance(minutes=10)
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.DELIVERED
    late = ReplaceSm(message_id=message_id, short_message=b"c")
    assert await engine.operations.replace("esme1", late) == S.ESME_RREPLACEFAIL
    unknown = ReplaceSm(message_id="ffffffffffffffff", short_message=b"c")
    assert await engine.operations.replace("esme1", unknown) == S.ESME_RREPLACEFAIL
    bad = ReplaceSm(message_id=message_id, validity_period="nonsense")
    assert await engine.operations.replace("esme1", bad) == S.ESME_RREPLACEFAIL


async def test_replace_to_now_makes_a_scheduled_message_due(engine: Engine) -> None:
    message_id = await engine.submit_ok(schedule_delivery_time=LATER)
    now = format_relative(timedelta(seconds=0))
    replace = ReplaceSm(message_id=message_id, short_message=b"now", schedule_delivery_time=now)
    assert await engine.operations.replace("esme1", replace) == S.ESME_ROK
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.DELIVERED


async def test_a_message_in_flight_cannot_be_cancelled(engine_factory: EngineFactory) -> None:
    engine, route = await scripted(engine_factory)
    route.gate = asyncio.Event()
    message_id = await engine.submit_ok()
    running = asyncio.ensure_future(engine.scheduler.run_due())
    while not route.attempted:
        await asyncio.sleep(0.001)
    assert engine.scheduler.in_flight(message_id)
    assert await engine.operations.cancel("esme1", CancelSm(message_id=message_id)) == (
        S.ESME_RCANCELFAIL
    )
    route.gate.set()
    await running
    assert (await engine.state(message_id)).state is MessageState.DELIVERED


async def test_priority_overtakes_bulk(engine_factory: EngineFactory) -> None:
    engine, route = await scripted(engine_factory, batch=1)
    bulk = [await engine.submit_ok(destination_addr=f"3160{n}") for n in range(3)]
    urgent = await engine.submit_ok(destination_addr="3169", priority_flag=3)
    medium = await engine.submit_ok(destination_addr="3168", priority_flag=1)
    for _ in range(5):
        assert await engine.run() == 1
    assert [r.message_id for r in route.attempted] == [urgent, medium, *bulk]


async def test_alert_retries_a_subscribers_waiting_messages_at_once_in_order(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory)
    route.script["31600000001"] = [TemporaryFailure(6)]  # absent subscriber
    waiting = [await engine.submit_ok() for _ in range(3)]
    other = await engine.submit_ok(destination_addr="31600000002")
    await engine.run()
    route.script["31600000001"] = [Delivered()]
    route.attempted.clear()
    assert await engine.run() == 0  # next retry is a minute away
    assert await engine.scheduler.alert_now("31600000001") == 3
    await engine.run()
    assert [r.message_id for r in route.attempted] == waiting
    for message_id in waiting:
        assert (await engine.state(message_id)).state is MessageState.DELIVERED
    assert (await engine.state(other)).state is MessageState.DELIVERED


async def test_a_restart_resumes_claimed_messages_when_their_lease_ends(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await SqliteStore.open(tmp_path / "messages.sqlite3")
    engine = Engine(store, clock=clock, policies=AccountPolicies(), routes={})
    message_id = await engine.submit_ok(registered_delivery=1)
    # A scheduler claims it (lease 30 s), then the process dies before any outcome.
    await store.claim_due(clock(), 10, lease_until=clock() + timedelta(seconds=30))
    await engine.close()
    await store.close()

    store = await SqliteStore.open(tmp_path / "messages.sqlite3")
    engine = Engine(
        store,
        clock=clock,
        policies=AccountPolicies(),
        routes={"loopback": LoopbackRoute()},
        prefix=2,  # a new run prefix, as MessageIds.open gives after a restart
    )
    try:
        assert await engine.run() == 0  # still leased
        clock.advance(seconds=30)
        assert await engine.run() == 1
        record = await engine.state(message_id)
        assert (record.state, record.attempts) == (MessageState.DELIVERED, 2)
        (receipt,) = await store.pending_receipts("esme1", 10)
        assert receipt.receipted_message_id == message_id
    finally:
        await engine.close()
        await store.close()


async def test_no_route_ends_undeliverable(engine_factory: EngineFactory) -> None:
    engine = await engine_factory(routes={})
    message_id = await engine.submit_ok()
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.UNDELIVERABLE


async def test_router_picks_the_longest_prefix(engine_factory: EngineFactory) -> None:
    a, b, default = ScriptedRoute("a"), ScriptedRoute("b"), ScriptedRoute("default")
    engine = await engine_factory(
        routes={"a": a, "b": b, "default": default},
        prefixes=(("31", "a"), ("3161", "b")),
        default_route="default",
    )
    for destination in ("31612345", "31712345", "4412345"):
        await engine.submit_ok(destination_addr=destination)
    await engine.run()
    assert [r.destination.addr for r in a.attempted] == ["31712345"]
    assert [r.destination.addr for r in b.attempted] == ["31612345"]
    assert [r.destination.addr for r in default.attempted] == ["4412345"]
    assert isinstance(engine.router, Router)


async def test_final_messages_are_purged_after_the_retention(engine: Engine) -> None:
    delivered = await engine.submit_ok()
    pending = await engine.submit_ok(schedule_delivery_time=LATER)
    await engine.run()
    housekeeper = Housekeeper(engine.store, clock=engine.clock, retention=timedelta(hours=1))
    assert await housekeeper.run_once() == 0
    engine.clock.advance(minutes=59)
    assert await housekeeper.run_once() == 0
    engine.clock.advance(minutes=2)
    assert await housekeeper.run_once() == 1
    assert await engine.store.get(delivered) is None
    assert await engine.store.get(pending) is not None
    query = await engine.operations.query("esme1", QuerySm(message_id=delivered))
    assert query.command_status == S.ESME_RQUERYFAIL


async def test_account_policy_reaches_the_engine(engine_factory: EngineFactory) -> None:
    engine = await engine_factory(account=AccountPolicy(default_validity=timedelta(minutes=3)))
    record = await engine.state(await engine.submit_ok())
    assert record.expires_at == T0 + 3 * MIN


async def test_a_route_window_bounds_attempts_until_their_outcome_is_recorded(
    engine_factory: EngineFactory,
) -> None:
    engine, route = await scripted(engine_factory, route_windows={"loopback": 2})
    route.gate = asyncio.Event()
    ids = [await engine.submit_ok(destination_addr=f"3160{n}") for n in range(5)]
    running = asyncio.ensure_future(engine.scheduler.run_due())
    await asyncio.sleep(0.05)
    assert len(route.attempted) == 2  # the others wait for a slot
    route.gate.set()
    await running
    assert len(route.attempted) == 5
    assert [(await engine.state(m)).state for m in ids] == [MessageState.DELIVERED] * 5


class ImmediateScriptedRoute(ScriptedRoute):
    """A ScriptedRoute that answers at once (engine.routes.ImmediateRoute), except for the
    destinations in `wait`, where `attempt_now` declines and the awaited attempt runs."""

    def __init__(self, name: str = "loopback") -> None:
        super().__init__(name)
        self.wait: set[str] = set()
        self.answered_now = 0

    def attempt_now(self, record: StoredMessage) -> Attempt | None:
        if record.destination.addr in self.wait:
            return None
        self.answered_now += 1
        self.attempted.append(record)
        outcomes = self.script.get(record.destination.addr)
        if not outcomes:
            return Delivered()
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]


async def test_outcomes_answered_at_once_are_recorded_in_one_store_call(
    engine_factory: EngineFactory,
) -> None:
    route = ImmediateScriptedRoute()
    engine = await engine_factory(routes={"loopback": route})
    session = engine.registry.bind(FakeSession("esme1", window=50))
    route.script["3161"] = [PermanentFailure(11)]
    route.script["3162"] = [TemporaryFailure(27)]
    route.script["3163"] = [Accepted("up-1")]
    route.wait.add("3164")
    delivered = [await engine.submit_ok(registered_delivery=1) for _ in range(5)]
    failed = await engine.submit_ok(registered_delivery=1, destination_addr="3161")
    retried = await engine.submit_ok(registered_delivery=1, destination_addr="3162")
    accepted = await engine.submit_ok(registered_delivery=1, destination_addr="3163")
    awaited = await engine.submit_ok(registered_delivery=1, destination_addr="3164")

    calls: list[int] = []
    apply = engine.store.apply

    async def counting(changes: Sequence[Change]) -> list[StoreError | None]:
        calls.append(len(changes))
        return await apply(changes)

    engine.store.apply = counting  # type: ignore[method-assign]
    assert await engine.run() == 9
    assert route.answered_now == 8 and len(route.attempted) == 9
    for message_id in delivered:
        record = await engine.state(message_id)
        assert (record.state, record.route, record.attempts) == (
            MessageState.DELIVERED,
            "loopback",
            1,
        )
        assert record.receipt_id is not None
    record = await engine.state(failed)
    assert (record.state, record.last_error) == (MessageState.UNDELIVERABLE, 11)
    record = await engine.state(retried)
    assert (record.state, record.last_error, record.next_attempt_at) == (
        MessageState.ENROUTE,
        27,
        T0 + MIN,
    )
    record = await engine.state(accepted)
    assert (record.state, record.upstream_message_id) == (MessageState.ENROUTE, "up-1")
    assert (await engine.state(awaited)).state is MessageState.DELIVERED
    # The six ended at once went in one change list (with their receipts).
    assert 6 in calls, calls
    assert len(session.received) == 7  # 5 delivered + 1 undeliverable + the awaited one
    assert engine.lifecycle.finished == 7


async def test_a_batch_the_store_cannot_take_is_left_to_the_leases(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(routes={"loopback": ImmediateScriptedRoute()})
    ids = [await engine.submit_ok(registered_delivery=1) for _ in range(3)]

    async def unavailable(changes: Sequence[Change]) -> list[StoreError | None]:
        raise StoreUnavailable("disk gone")

    apply = engine.store.apply
    engine.store.apply = unavailable  # type: ignore[method-assign]
    assert await engine.run() == 3
    engine.store.apply = apply  # type: ignore[method-assign]
    for message_id in ids:
        record = await engine.state(message_id)
        assert record.state is MessageState.ENROUTE  # claimed, its outcome not recorded
    assert not any(engine.scheduler.in_flight(m) for m in ids)
    engine.clock.advance(seconds=31)  # the lease ends: due again, delivered this time
    assert await engine.run() == 3
    for message_id in ids:
        assert (await engine.state(message_id)).state is MessageState.DELIVERED


class _RaisingRoute:
    """A route with a bug for some record (it raises instead of answering)."""

    name = "loopback"

    def __init__(self) -> None:
        self.attempts = 0

    async def attempt(self, record: StoredMessage) -> Attempt:
        self.attempts += 1
        raise ValueError("cannot segment this record")


async def test_a_route_that_raises_ends_the_message_once_not_at_every_retry(
    engine_factory: EngineFactory,
) -> None:
    # Issue 10 item 25: a record the route cannot handle failed every attempt with a traceback
    # until its validity ended. It is a permanent failure: UNDELIVERABLE at once, one log.
    route = _RaisingRoute()
    engine = await engine_factory(routes={"loopback": route})
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    record = await engine.state(message_id)
    assert (record.state, record.last_error) == (MessageState.UNDELIVERABLE, S.ESME_RSYSERR)
    engine.clock.advance(hours=5)
    assert await engine.run() == 0
    assert route.attempts == 1
    assert [p.tlvs.get(Tag.MESSAGE_STATE) for p in session.received] == [MessageState.UNDELIVERABLE]
