"""Cross-node wake-ups on the real NATS: two engines on one shared store (the SQLite store
stands in for PostgreSQL here: one store object, two nodes), the receiver bound on node B only.
Work stored on node A reaches B's receiver through B, woken by A's hint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from opensmsc.cluster.bus import Bus
from opensmsc.cluster.membership import Membership, NodeRecord, SessionCounts
from opensmsc.cluster.wakeups import Wakeups
from opensmsc.engine import EngineSettings, MessageIds, StoreAndForward
from opensmsc.routing.policy import AccountPolicies
from opensmsc.smpp.constants import Tag
from opensmsc.smpp.pdu import SubmitSm
from opensmsc.store import DB_FILENAME, Direction, SqliteStore, StoredMessage, system_clock
from tests.cluster.conftest import BusFactory
from tests.services.engine_harness import FakeRegistry, FakeSession


@dataclass
class Node:
    engine: StoreAndForward
    registry: FakeRegistry
    membership: Membership
    wakeups: Wakeups


def _report(bus: Bus, registry: FakeRegistry) -> NodeRecord:
    sessions: dict[str, SessionCounts] = {}
    for session in registry.sessions:
        old = sessions.get(session.system_id, SessionCounts())
        sessions[session.system_id] = SessionCounts(receivers=old.receivers + 1)
    return NodeRecord(node_id=bus.node_id, sessions=sessions)


class Clock:
    """Monotonic seconds moved by hand (the receipt sender's takeover delay)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()


async def _node(bus: Bus, store: SqliteStore, folder: Path, prefix: int) -> Node:
    folder.mkdir(parents=True, exist_ok=True)
    registry = FakeRegistry()
    membership = Membership(bus, lambda: _report(bus, registry))
    holder: list[Wakeups] = []

    class Hints:  # the engine is built before the Wakeups that need its parts
        def receipt_stored(self, system_id: str) -> None:
            holder[0].receipt_stored(system_id)

        def work_stored(self) -> None:
            holder[0].work_stored()

        def skip_mo_of(self) -> list[str]:
            return list(holder[0].skip_mo_of())

        def route_elsewhere(self, route: str) -> bool:
            return holder[0].route_elsewhere(route)

        def sends_receipts(self, system_id: str) -> bool:
            return holder[0].sends_receipts(system_id)

    ids = MessageIds(prefix)
    engine = StoreAndForward(
        store,
        ids,
        receivers=registry,
        policies=AccountPolicies(),
        settings=EngineSettings(lease=5.0),
        clock=system_clock,
        cluster=Hints(),
    )
    wakeups = Wakeups(
        bus,
        membership,
        receivers=registry,
        deliveries=engine.deliveries,
        scheduler=engine.scheduler,
        clock=CLOCK,
    )
    holder.append(wakeups)
    wakeups.start()
    return Node(engine, registry, membership, wakeups)


async def _stop(node: Node) -> None:
    # Every part but the store, which the two nodes share (closed once, by the fixture).
    await node.engine.housekeeper.stop()
    await node.engine.acceptor.close()
    await node.engine.scheduler.stop()
    await node.engine.deliveries.close()
    await node.wakeups.close()


@pytest.fixture
async def nodes(make_bus: BusFactory, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    store = await SqliteStore.open(tmp_path / DB_FILENAME)
    a = await _node(await make_bus("node-a"), store, tmp_path / "a", 1)
    b = await _node(await make_bus("node-b"), store, tmp_path / "b", 2)
    try:
        yield a, b
    finally:
        await _stop(a)
        await _stop(b)
        await store.close()


async def _beat(*nodes: Node) -> None:
    for node in (*nodes, *nodes):  # twice: each sees the others' latest
        await node.membership.beat()


async def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def test_a_receipt_stored_on_a_reaches_the_receiver_bound_on_b(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    session = b.registry.bind(FakeSession("esme1"))
    await _beat(a, b)
    a.engine.start()
    b.engine.start()

    answer: asyncio.Future[tuple[str | None, int]] = asyncio.Future()
    pdu = SubmitSm(source_addr="1234", destination_addr="31600000001", registered_delivery=1)
    a.engine.acceptor.submit("esme1", pdu, lambda mid, status: answer.set_result((mid, status)))
    message_id, status = await asyncio.wait_for(answer, 5)
    assert status == 0 and message_id is not None

    await _wait_for(lambda: b.engine.deliveries.acknowledged == 1)
    assert [p.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) for p in session.received] == [message_id]
    assert b.wakeups.received >= 1
    assert a.engine.deliveries.sent == 0  # node A has no receiver of esme1


async def test_an_mo_stored_on_a_is_claimed_and_delivered_by_b(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    session = b.registry.bind(FakeSession("esme1"))
    await _beat(a, b)
    assert list(a.wakeups.skip_mo_of()) == ["esme1"]
    assert list(b.wakeups.skip_mo_of()) == []
    a.engine.start()
    b.engine.start()

    now = system_clock()
    mo = StoredMessage.from_pdu(
        SubmitSm(source_addr="31600000009", destination_addr="1234", short_message=b"mo"),
        message_id="mo-1",
        system_id="esme1",
        direction=Direction.MO,
        submitted_at=now,
        due_at=now,
        expires_at=now + timedelta(hours=1),
    )
    await a.engine.store.submit_many([mo])
    a.engine.wake_due()  # as MoIngress does after its commit

    await _wait_for(lambda: len(session.received) == 1)
    assert session.received[0].short_message == b"mo"
    assert a.engine.scheduler.attempts == 0  # A left it to B
    assert b.engine.scheduler.attempts == 1


async def test_with_receivers_on_both_nodes_one_node_sends_the_receipts(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    on_a = a.registry.bind(FakeSession("esme1"))
    on_b = b.registry.bind(FakeSession("esme1"))
    await _beat(a, b)
    # node-a, first by node_id, takes over only once node-b has had time to see its bind.
    assert (a.wakeups.sends_receipts("esme1"), b.wakeups.sends_receipts("esme1")) == (False, False)
    CLOCK.now += 2.0
    await _beat(a, b)
    assert (a.wakeups.sends_receipts("esme1"), b.wakeups.sends_receipts("esme1")) == (True, False)
    a.engine.start()
    b.engine.start()

    # Submitted on B: its receipt is stored on B, sent by A (the first by node_id).
    answer: asyncio.Future[tuple[str | None, int]] = asyncio.Future()
    pdu = SubmitSm(source_addr="1234", destination_addr="31600000001", registered_delivery=1)
    b.engine.acceptor.submit("esme1", pdu, lambda mid, status: answer.set_result((mid, status)))
    _, status = await asyncio.wait_for(answer, 5)
    assert status == 0
    await _wait_for(lambda: a.engine.deliveries.acknowledged == 1)
    await asyncio.sleep(0.2)
    assert len(on_a.received) == 1 and on_b.received == []

    # A's session goes: B sends from then on, and what A had not sent.
    a.registry.unbind(on_a)
    await _beat(a, b)
    answer = asyncio.Future()
    b.engine.acceptor.submit("esme1", pdu, lambda mid, status: answer.set_result((mid, status)))
    second, status = await asyncio.wait_for(answer, 5)
    await _wait_for(lambda: b.engine.deliveries.acknowledged == 1)
    assert [p.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) for p in on_b.received] == [second]
    assert len(on_a.received) == 1
