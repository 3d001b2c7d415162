"""The assembled engine (StoreAndForward) running on its own: messages taken at acceptance
(no claim), receipts pushed without a store read, a restart that resumes what was pending."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from opensmsc.engine import EngineSettings, StoreAndForward
from opensmsc.routing.policy import AccountPolicies
from opensmsc.smpp.constants import MessageState, Tag
from opensmsc.smpp.pdu import SubmitSm
from tests.services.engine_harness import FakeClock, FakeRegistry, FakeSession, open_node


async def submit_all(engine: StoreAndForward, count: int, **fields: object) -> list[str]:
    answers: list[asyncio.Future[tuple[str | None, int]]] = []
    for n in range(count):
        future: asyncio.Future[tuple[str | None, int]] = asyncio.Future()
        answers.append(future)
        pdu = SubmitSm(source_addr="1234", destination_addr=f"3160{n:07d}", **fields)  # type: ignore[arg-type]
        engine.acceptor.submit(
            "esme1", pdu, lambda mid, status, f=future: f.set_result((mid, status))
        )
    results = await asyncio.wait_for(asyncio.gather(*answers), 10)
    assert all(status == 0 for _, status in results)
    return [mid for mid, _ in results if mid]


async def wait_for(predicate: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def test_accepted_messages_are_delivered_and_receipted_end_to_end(tmp_path: Path) -> None:
    registry = FakeRegistry()
    session = registry.bind(FakeSession("esme1", window=20))
    engine = await open_node(tmp_path, receivers=registry, policies=AccountPolicies())
    try:
        engine.start(["esme1"])
        ids = await submit_all(engine, 300, registered_delivery=1, short_message=b"hi")
        await wait_for(lambda: engine.deliveries.acknowledged == 300)
        assert sorted(p.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) for p in session.received) == sorted(ids)
        record = await engine.store.get(ids[0])
        assert record is not None
        assert (record.state, record.attempts) == (MessageState.DELIVERED, 1)
        assert engine.scheduler.attempts == 300
    finally:
        await engine.close()


async def test_a_restart_resumes_pending_messages_and_receipts(tmp_path: Path) -> None:
    clock = FakeClock()
    registry = FakeRegistry()
    settings = EngineSettings(lease=5.0)
    engine = await open_node(
        tmp_path, receivers=registry, policies=AccountPolicies(), settings=settings, clock=clock
    )
    # Not started: accepted and leased at acceptance, never attempted (the process "dies").
    engine.acceptor.set_on_claimed(lambda records: None, timedelta(seconds=5))
    pending = await submit_all(engine, 5, registered_delivery=1)
    await engine.close()

    session = registry.bind(FakeSession("esme1"))
    engine = await open_node(
        tmp_path, receivers=registry, policies=AccountPolicies(), settings=settings, clock=clock
    )
    try:
        engine.start(["esme1"])
        await asyncio.sleep(0.05)
        assert session.received == []  # still leased by the run that died
        clock.advance(seconds=5)
        engine.scheduler.wake()
        await wait_for(lambda: engine.deliveries.acknowledged == 5)
        receipted = {p.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) for p in session.received}
        assert receipted == set(pending)
        new = await submit_all(engine, 1)
        assert new[0] not in pending  # a new run prefix: ids never repeat
    finally:
        await engine.close()


async def test_receipts_stored_before_a_restart_are_sent_after_it(tmp_path: Path) -> None:
    registry = FakeRegistry()
    engine = await open_node(tmp_path, receivers=registry, policies=AccountPolicies())
    engine.start(["esme1"])
    ids = await submit_all(engine, 3, registered_delivery=1)
    await wait_for(lambda: engine.lifecycle.finished == 3)
    await engine.close()  # nobody was bound: the receipts wait in the store

    session = registry.bind(FakeSession("esme1"))
    engine = await open_node(tmp_path, receivers=registry, policies=AccountPolicies())
    try:
        engine.start(["esme1"])
        await wait_for(lambda: engine.deliveries.acknowledged == 3)
        assert [p.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) for p in session.received] == ids
    finally:
        await engine.close()
