"""Connector slots on the real NATS KV: each connector runs on `cluster_binds` nodes, never
more, and moves to another node when its holder dies (its key expires) or stops."""

from __future__ import annotations

import asyncio

from opensmsc.cluster.bus import Bus
from opensmsc.cluster.ownership import ConnectorOwnership
from tests.cluster.conftest import BusFactory


class Node:
    """A node's connector pool as far as ownership sees it: which connectors run here."""

    def __init__(self, bus: Bus, binds: dict[str, int], ttl: float = 5.0) -> None:
        self.running: set[str] = set()
        self.ownership = ConnectorOwnership(
            bus,
            start_connector=self._start,
            stop_connector=self._stop,
            ttl=ttl,
            interval=0.25,
        )
        self.ownership.set_connectors(binds)

    async def _start(self, name: str) -> None:
        assert name not in self.running
        self.running.add(name)

    async def _stop(self, name: str) -> None:
        self.running.discard(name)


def _holders(nodes: list[Node], name: str) -> int:
    return sum(name in node.running for node in nodes)


async def test_each_connector_runs_on_as_many_nodes_as_its_cluster_binds(
    make_bus: BusFactory,
) -> None:
    binds = {"carrier-a": 1, "carrier-b": 2, "carrier c": 3}
    nodes = [Node(await make_bus(f"node-{n}"), binds) for n in "abc"]
    for _ in range(3):
        for node in nodes:
            await node.ownership.tick()
    assert _holders(nodes, "carrier-a") == 1
    assert _holders(nodes, "carrier-b") == 2
    assert _holders(nodes, "carrier c") == 3  # a name that is no subject token still works
    for node in nodes:
        assert node.ownership.held() == tuple(sorted(node.running))


async def test_a_dead_holders_connector_fails_over_when_its_slot_expires(
    make_bus: BusFactory,
) -> None:
    a = Node(await make_bus("node-a"), {"carrier-a": 1}, ttl=1.0)
    b = Node(await make_bus("node-b"), {"carrier-a": 1}, ttl=1.0)
    await a.ownership.tick()
    await b.ownership.tick()
    assert (a.running, b.running) == ({"carrier-a"}, set())

    # node-a stops ticking, as if killed: its key expires and node-b takes the slot.
    async with asyncio.timeout(10):
        while "carrier-a" not in b.running:
            await asyncio.sleep(0.1)
            await b.ownership.tick()
    # node-a comes back (a pause, not a death): its refresh is refused and it stops its copy.
    await a.ownership.tick()
    assert (a.running, b.running) == (set(), {"carrier-a"})


async def test_a_node_that_stops_gives_its_slot_to_the_next_at_once(make_bus: BusFactory) -> None:
    a = Node(await make_bus("node-a"), {"carrier-a": 1})
    b = Node(await make_bus("node-b"), {"carrier-a": 1})
    await a.ownership.tick()
    await b.ownership.tick()
    await a.ownership.stop()
    await b.ownership.tick()
    assert (a.running, b.running) == (set(), {"carrier-a"})


async def test_a_connector_removed_from_the_configuration_is_stopped(make_bus: BusFactory) -> None:
    a = Node(await make_bus("node-a"), {"carrier-a": 1, "carrier-b": 1})
    await a.ownership.tick()
    a.ownership.set_connectors({"carrier-b": 1})
    await a.ownership.tick()
    assert a.running == {"carrier-b"}


async def test_a_holder_cut_off_from_nats_stops_its_connector_before_the_slot_expires(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus("node-a")
    now = [100.0]
    running: set[str] = set()

    async def start(name: str) -> None:
        running.add(name)

    async def stop(name: str) -> None:
        running.discard(name)

    ownership = ConnectorOwnership(
        bus, start_connector=start, stop_connector=stop, ttl=5.0, clock=lambda: now[0]
    )
    ownership.set_connectors({"carrier-a": 1})
    await ownership.tick()
    assert running == {"carrier-a"}
    await bus.close()  # NATS is away for this node
    now[0] += 2.0
    await ownership.tick()
    assert running == {"carrier-a"}  # within TTL - 2 ticks: keeps it
    now[0] += 1.5
    await ownership.tick()
    assert running == set()  # 3.5 s without a refresh: stopped before the 5 s key expires
